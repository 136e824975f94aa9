"""Legal holds: ``recorder hold SESSION --reason TEXT`` and ``recorder release SESSION --reason TEXT``
on a session that is not being recorded (one being recorded is held over its control channel).

A hold is an event on the session's timeline (``hold``, then ``release``), so that it is in
session.json, on the replay page and in every copy of the session; retention never deletes a
held session, and plugins do their part through ``recorder_session_hold`` (the archive puts
an Object Lock legal hold on the session's objects, signing signs the changed session.json).

Three steps, each safe to be cut by a crash: the hold is noted as under way (a state file),
session.json is rewritten whole with the event, the plugins are told; then the note goes.
A note left by a crash is finished by the next ``hold``, ``release`` or recording start
(``finish_cut_holds``): the plugins are told again if session.json has the event, and nothing
happened otherwise (the command never said it was done). What a crash left half-written in the
session folder (a temporary file never renamed into place) is removed then.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from recorder import platform
from recorder.disk.crashpoints import crash_point
from recorder.disk.state import StateFile, state_dir
from recorder.errors import RecorderError, UsageError
from recorder.host.manager import PluginHost
from recorder.session import manifest as manifests
from recorder.session.model import HOLD, RELEASE, Event
from recorder.store import catalog

PENDING = "holds.json"
MAX_REASON = 1000
Said = tuple[bool, str]  # (done, what is said)


def check_reason(reason: str | None, verb: str) -> str:
    """The reason given, stripped; one line naming what is wrong with it otherwise."""
    reason = (reason or "").strip()
    if not reason:
        raise UsageError(f"--reason: required (why the recording is {verb}: it stays on its timeline as evidence)")
    if len(reason) > MAX_REASON:
        raise UsageError(f"--reason: longer than {MAX_REASON} characters")
    if any(ord(c) < 32 and c != "\t" for c in reason):
        raise UsageError("--reason: control characters are not allowed")
    return reason


def describe(event: Event) -> str:
    return f"since {event.time[:19].replace('T', ' ')}, by {event.by}: {event.data.get('reason', event.text)}"


def hold(folder: Path, reason: str, by: str, host: PluginHost) -> list[Said]:
    """Hold the session in ``folder``; what the plugins did (and what failed)."""
    manifest = manifests.read(folder)
    held = manifest.held
    if held is not None:
        raise UsageError(f"session {manifest.session_id[:8]} is already held ({describe(held)}); nothing changed")
    return _change(folder, manifest, HOLD, f"held by {by}: {reason}", reason, by, host)


def release(folder: Path, reason: str, by: str, host: PluginHost) -> list[Said]:
    """Release the hold on the session in ``folder``; what the plugins did (and what failed)."""
    manifest = manifests.read(folder)
    if manifest.held is None:
        raise UsageError(f"session {manifest.session_id[:8]} is not held: nothing to release")
    return _change(folder, manifest, RELEASE, f"released by {by}: {reason}", reason, by, host)


def _change(folder: Path, manifest: manifests.Manifest, kind: str, text: str, reason: str, by: str,
            host: PluginHost) -> list[Said]:
    event = manifest.add_event(kind, text, t=manifest.recorded_until(), by=by, reason=reason)
    # At the end of the timeline (nothing is recorded after it), but when it happened: the date
    # a hold was placed or lifted is what it proves.
    event.time = datetime.now(timezone.utc).astimezone().isoformat()
    with _pending().update() as pending:
        pending[manifest.session_id] = {"folder": str(folder), "kind": kind, "time": event.time, "pid": os.getpid()}
    crash_point("hold:noted")
    try:
        manifests.write(folder, manifest)
    except FileNotFoundError:  # deleted or moved since it was read (retention, recorder save)
        _forget(manifest.session_id)
        raise RecorderError(f"{folder} went away meanwhile: nothing was {'held' if kind == HOLD else 'released'}; "
                            "find the session with 'recorder list' and try again") from None
    crash_point("hold:written")
    said = _tell(host, folder, manifest, event)
    crash_point("hold:told")
    _forget(manifest.session_id)
    return said


def _tell(host: PluginHost, folder: Path, manifest: manifests.Manifest, event: Event) -> list[Said]:
    session = manifests.to_session(manifest, folder)
    host.call("recorder_session_event", session=session, event=event)
    return [(bool(ok), str(line)) for answer in host.call("recorder_session_hold", session=session, event=event)
            for ok, line in answer or ()]


def _pending() -> StateFile:
    return StateFile(state_dir() / PENDING)


def _forget(session_id: str) -> None:
    with _pending().update() as pending:
        pending.pop(session_id, None)


def finish_cut_holds(host: PluginHost) -> list[str]:
    """Holds and releases a crash cut short, finished: one line for each."""
    said = []
    for session_id, note in _pending().read().items():
        if not isinstance(note, dict) or not isinstance(note.get("folder"), str):
            _forget(session_id)
            continue
        pid = note.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and platform.process_alive(pid):
            continue  # still under way in another command
        folder = Path(note["folder"])
        if not (folder / manifests.MANIFEST).is_file():
            found = catalog.copies(session_id, ())  # saved elsewhere since
            folder = found[0] if found else folder
        try:
            manifest = manifests.read(folder)
        except manifests.ManifestError:
            manifest = None  # gone, or damaged since: nothing of the hold to finish there
        if manifest is not None and catalog.held_by_its_recorder(manifest):
            continue  # being recorded again (resumed): its recorder owns the folder; finished later
        _remove_half_written(folder)
        written = next((e for e in reversed(manifest.events) if e.kind in (HOLD, RELEASE)), None) \
            if manifest is not None else None
        if written is not None and written.kind == note.get("kind") and written.time == note.get("time"):
            problems = [line for ok, line in _tell(host, folder, manifest, written) if not ok]
            said.append(f"{session_id[:8]}: the {written.kind} a crash cut short is finished"
                        + (f" ({'; '.join(problems)})" if problems else ""))
        _forget(session_id)
    return said


def _remove_half_written(folder: Path) -> None:
    """What a crash left of a file being written whole (write_private's ``.NAME.RANDOM.tmp``: never
    renamed into place) in a session folder the cut hold was writing to."""
    if not folder.is_dir():
        return
    for path in folder.glob(".*.tmp"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
