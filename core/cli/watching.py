"""``recorder play --live``: the replay page on the session being recorded, following it.

It reads the session folder from disk like any reader would (never the recorder's
memory, never its control channel), serves it to the browser on the loopback
interface only, and stops serving on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import signal
import threading
import time
import webbrowser

import click
from recorder.cli.lookup import roots
from recorder.control.client import running_profile
from recorder.errors import UsageError
from recorder.playback.fragments import NotFragmented
from recorder.playback.live import LiveSession, running_session
from recorder.playback.live_server import LiveServer
from recorder.session import streams

FIRST_PICTURE = 10.0  # seconds to wait for the first whole fragment of a recording just started


def watch_live(host, profile: str | None, no_open: bool) -> None:
    profile = running_profile(profile)  # the one given, or the only one running; else one line, exit 2
    session = LiveSession(running_session(profile, roots(host)))
    manifest = session.manifest()
    if streams.protected(manifest, host):
        raise UsageError(f"session {manifest.session_id[:8]} is {'; '.join(streams.protected(manifest, host))}: "
                         "it cannot be watched live (its key is not used while recording); "
                         "replay it when it ends: recorder play SESSION --identity FILE")
    _wait_for_picture(session)
    server = LiveServer(session)
    server.start()
    try:
        click.echo(server.url)
        if not no_open and not webbrowser.open(server.url):
            click.echo(f"no browser could be opened; open {server.url} yourself", err=True)
        click.echo(f"watching session {manifest.session_id[:8]} of profile '{profile}' live (read-only, on this "
                   "machine only); press Ctrl-C to stop", err=True)
        _until_stopped()
    finally:
        server.shutdown()
        server.server_close()


def _wait_for_picture(session: LiveSession) -> None:
    deadline = time.monotonic() + FIRST_PICTURE
    while True:
        try:
            if session.state()["segments"]:
                return
        except NotFragmented as exc:
            raise UsageError(f"the session's parts cannot be watched live ({exc}): live watching needs "
                             "fragmented MP4 parts (the h264 encoder's)") from None
        if time.monotonic() >= deadline:
            raise UsageError(f"the recorder has written no picture in {FIRST_PICTURE:g} s: nothing to watch yet")
        time.sleep(0.2)


def _until_stopped() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM (a logout)."""
    stopped = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stopped.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
