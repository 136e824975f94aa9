"""``recorder export`` and ``recorder play``: a session as one file, or replayed in the browser."""

from __future__ import annotations

import contextlib
import signal
import webbrowser
from pathlib import Path

import click
from recorder.cli.lookup import find_session, given_profile, identity_option, progress_bar
from recorder.cli.params import MAX_FPS, MIN_FPS, Duration, PathParam, finite, profile_name
from recorder.cli.search import check_moment, play_moment
from recorder.store.text_search import parse_query
from recorder.cli.watching import watch_live
from recorder.errors import RecorderError, UsageError
from recorder.host.manager import load_plugins
from recorder.playback import export, replay, text_hits, timeline
from recorder.session import streams
from recorder.disk import memory


@click.command("export")
@click.argument("session")
@click.option("--format", "fmt", required=True, metavar="FORMAT",
              help="wmv, mp4, webm, gif (or a plugin's); FILE must end in its extension (.mp4 for mp4).")
@click.option("--output", "-o", type=PathParam(path_type=Path, dir_okay=False), required=True, metavar="FILE",
              help="The file to write, in a folder that exists.")
@click.option("--from", "start", type=Duration(), default=0.0, metavar="TIME",
              help="Start at this offset on the session timeline: seconds, or 90s, 10m, 1h30m, 01:30:00.")
@click.option("--to", "stop", type=Duration(), metavar="TIME", help="End at this offset (as --from).")
@click.option("--scale", default="", metavar="SIZE", help="WIDTHxHEIGHT, WIDTH (keeps the aspect) or a factor "
                                                          "(0.5); at least 2 pixels a side.")
@click.option("--fps", type=click.FloatRange(min=MIN_FPS, max=MAX_FPS), callback=finite, metavar="FPS",
              help=f"Constant output frame rate, {MIN_FPS:g} to {MAX_FPS:g}.", show_default=False)
@click.option("--keep-gaps", is_flag=True, help="Show restarts as a still frame of their length.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@identity_option("to read it; the export is then protected as the parts are (FILE.age for encrypted ones)")
@click.option("--decrypted", is_flag=True, help="With --identity: write the export unprotected instead "
                                                "(it then leaves recorder's custody: keep it safe).")
def export_cmd(session, fmt, output, start, stop, scale, fps, keep_gaps, force, identity, decrypted):
    """Export a session (all its parts) to one file."""
    host = load_plugins()
    line = timeline.load(find_session(session, host))
    job = dict(start=start, stop=stop, scale=scale, fps=fps, keep_gaps=keep_gaps)
    protection = streams.export_protection(line.manifest, host)
    # every usage error before a key is asked for or anything is read
    export.check_job(host, line, fmt, output, suffix=protection[0] if protection else "", **job)
    protect = None
    if protection is not None:
        if not identity:
            streams.refuse_without_key(line.manifest, host, "export")
        line = streams.read_back(line, host, streams.load_keys(line.manifest, host, identity))
        protect = None if decrypted else export.Protection(*protection)
    elif decrypted:
        raise UsageError("--decrypted: the session's parts are not protected")
    total = export.ExportJob(line, output, **job).duration()
    with progress_bar("exporting") as bar:
        task = bar.add_task("export", total=total)
        result = export.export_session(host, line, fmt, output, force=force, protect=protect,
                                       progress=lambda seconds: bar.update(task, completed=seconds), **job)
    click.echo(str(result))


@click.command("play")
@click.argument("session", required=False)
@click.option("--no-open", is_flag=True, help="Only prepare the replay page and print its path (with --live: its "
                                              "address).")
@identity_option("to read it; the page then lives in memory (tmpfs) until you press Enter")
@click.option("--live", is_flag=True, help="Watch the session being recorded (of --profile, or of the only recorder "
                                           "running), following it as it is written; until Ctrl-C.")
@click.option("--profile", "-p", metavar="NAME", callback=profile_name, help="With --live: the recorder of this "
                                                                             "profile.")
@click.option("--at", metavar="TIME", help="Open at this moment: 00:12:31, 12:31 or 751 (seconds into the session), "
                                           "or a hit of recorder search (SESSION@OFFSET: then no SESSION).")
@click.option("--search", "query", metavar="QUERY", help="Open with this searched for in the page's search box "
                                                         "(as recorder search: its hits marked, the text outlined).")
@click.pass_context
def play_cmd(ctx, session, no_open, identity, live, profile, at, query):
    """Replay a session in the browser: one timeline across its parts, with its events and a
    search box over the text read on its screen."""
    host = load_plugins()
    session, at = play_moment(session, at)
    if live:
        if session or identity or at is not None or query:
            raise UsageError("--live watches the session being recorded: give --profile, not a session, --at, "
                             "--search or --identity")
        watch_live(host, given_profile(ctx, profile), no_open)
        return
    if not session:
        raise UsageError("play: give a SESSION (an id, a folder), or --live for the one being recorded")
    line = timeline.load(find_session(session, host))
    check_moment(at, line.end, line.manifest.session_id)
    if query:
        parse_query(query)  # bad input: one line, before anything is prepared
    search = {"at": at, "query": query or ""}
    if streams.protected(line.manifest, host):
        if not identity:
            streams.refuse_without_key(line.manifest, host, "play")
        _play_protected(line, streams.load_keys(line.manifest, host, identity), host, no_open, search)
        return
    search["lines"] = text_hits.entries(line.folder, host)[0]
    with progress_bar("preparing the replay") as bar:
        task = bar.add_task("replay", total=line.recorded)
        page = replay.prepare(line, progress=lambda seconds: bar.update(task, completed=seconds), search=search)
    click.echo(str(page))
    if not no_open and not webbrowser.open(_address(page, at)):
        raise RecorderError(f"no browser could be opened; open {page} yourself")


def _address(page: Path, at: float | None) -> str:
    """The page's address, at the moment asked for (the page reads #t=; it also opens there without)."""
    return page.as_uri() + (f"#t={at:.2f}" if at is not None else "")


def _play_protected(line, keys: dict, host, no_open: bool, search: dict) -> None:
    """The page, the parts read back with the key and their thumbnails in a private memory
    folder, removed when the user is done (Enter, Ctrl-C, end of input, or SIGTERM)."""
    memory.remove_stale_folders("play")
    with memory.memory_folder("play") as folder:
        with progress_bar("opening the protected parts") as bar:
            bar.add_task("open", total=None)
            line = streams.read_back(line, host, keys, into=folder)
            search["lines"] = text_hits.entries(line.folder, host, keys)[0]  # in the memory folder only
        with progress_bar("preparing the replay") as bar:
            task = bar.add_task("replay", total=line.recorded)
            page = replay.prepare(line, progress=lambda seconds: bar.update(task, completed=seconds),
                                  folder=folder, search=search)
        click.echo(str(page))
        if not no_open and not webbrowser.open(_address(page, search["at"])):
            click.echo(f"no browser could be opened; open {page} yourself", err=True)
        click.echo("the replay of the protected parts is in memory only; press Enter when done to remove it",
                   err=True)
        with _until_terminated():
            try:
                input()
            except (EOFError, KeyboardInterrupt):
                pass


class _Terminated(Exception):
    pass


@contextlib.contextmanager
def _until_terminated():
    """SIGTERM (a logout) ends the wait like Enter does, so the memory folder is removed."""
    def stop(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
