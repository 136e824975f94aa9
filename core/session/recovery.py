"""After a restart or a crash: recover what the last run left, and resume its session.

A run that was interrupted (restart, SIGTERM, logind) sealed its part and left
the journal saying ``interrupted``. A run that crashed (kill -9, power loss)
left it saying ``recording`` with a part still ``.partial``: the encoder that
wrote that part (named in the manifest) repairs it, it is hashed and sealed
before anything else. Either way the next start continues the same session in
a new part, unless ``--new-session`` is given, the session is older than
``resume_within``, or it was recorded with another encoder. A part written
through a part stream (a plugin: encryption, say) is kept by that stream, which
alone knows what of it can be read. A folder lost while recording (deleted or
made unwritable) and found again later is not a crash: the recorder went on in a
copy of its own, and what the copy holds goes from the old folder (``rescued``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
from recorder import platform
from recorder.errors import describe
from recorder.session import chapters, journal, manifest as manifests, rescued, streams
from recorder.session.manifest import MANIFEST, Manifest, ManifestError
from recorder.session.identity import restarted_since
from recorder.session.model import Event, Part, Session
from recorder.disk.crashpoints import crash_point
from recorder.disk.files import fsync_folder, sha256_file
from recorder.values import Chapter, human_size

PARTIAL = ".partial"
PAUSE_ENDS = ("unpaused", "stopped", "crashed", "gap", "resumed")


def pause_spans(events: list[Event]) -> list[tuple[Event, Event | None]]:
    """Each pause on the timeline: its ``paused`` event and the event that ended it
    (``unpaused``, or the session stopping, crashing or being interrupted), or None
    for the last pause if nothing has ended it yet."""
    spans, opened = [], None
    for event in events:
        if event.kind == "paused" and opened is None:
            opened = event
        elif event.kind in PAUSE_ENDS and opened is not None:
            spans.append((opened, event))
            opened = None
    if opened is not None:
        spans.append((opened, None))
    return spans


def open_pause(events: list[Event]) -> Event | None:
    """The ``paused`` event of a pause the timeline has not ended yet, or None."""
    spans = pause_spans(events)
    return spans[-1][0] if spans and spans[-1][1] is None else None


def _offset_of_mtime(folder: Path, manifest) -> float:
    try:
        mtime = (folder / MANIFEST).stat().st_mtime
    except OSError:
        return 0.0
    return round(max(0.0, mtime - manifest.started_at.timestamp()), 3)


def recover_folder(folder: Path, host) -> list[str]:
    """Seal every part a crash left unsealed; returns one line per part saying what was kept.

    Running it again (or after it was itself interrupted) finds nothing more to do."""
    manifest = manifests.read(folder)
    copy = rescued.rescued_copy(folder, manifest)
    reconciled = rescued.reconcile_with_rescued(folder, copy, manifest) if copy else None
    if reconciled is not None:
        return reconciled
    written_at = _offset_of_mtime(folder, manifest)
    report: list[str] = []
    for leftover in folder.glob(f".{MANIFEST}.*.tmp"):  # a manifest write the crash cut short
        leftover.unlink()
    default_encoder = _encoder_of(manifest)
    listed = {part.file.removesuffix(PARTIAL) for part in manifest.parts}
    for stray in sorted(folder.glob(f"*{PARTIAL}")):  # created but not yet in the manifest
        name = stray.name.removesuffix(PARTIAL)
        if name not in listed:
            manifest.parts.append(_stray_part(manifest, name, default_encoder))
    kept: list[Part] = []
    for part in manifest.parts:
        if part.state == "sealed":
            kept.append(part)
            continue
        marks = chapters.of_listed_part(manifest.events, host.order, manifest.parts, part)
        line = _recover_part(folder, part, manifest.fps, host, default_encoder, marks)
        report.append(line)
        if part.state in ("sealed", "incomplete"):
            kept.append(part)
    previous = ""
    for index, part in enumerate(kept, 1):
        part.index = index
        if part.state == "sealed":
            part.previous_sha256, previous = previous, part.sha256
    manifest.parts = kept
    manifest.totals_from_parts()
    manifest.state, manifest.end_reason = "interrupted", "crashed"
    crash_at = manifest.recorded_until()
    pause = open_pause(manifest.events)
    if pause is not None:  # killed while paused: the pause lasted until the manifest was last touched
        crash_at = max(crash_at, pause.t, written_at)
    manifest.ended_at = manifest.at(crash_at)
    event = manifest.add_event("crashed", "the recorder stopped without sealing; recovered: "
                               + ("; ".join(report) or "every part was already sealed"),
                               t=crash_at, level="warning", report=report)
    manifests.write(folder, manifest)
    crash_point("recover:recorded")
    session = manifests.to_session(manifest, folder)
    host.call("recorder_session_event", session=session, event=event)
    host.call("recorder_session_recovered", session=session, report=report)
    return report


def _stray_part(manifest: Manifest, name: str, encoder: str) -> Part:
    """A part created but not yet listed: written like the last part with the same kind of name
    (``part-002.mp4.age`` after ``part-001.mp4.age``), through its part stream if it had one."""
    like = next((p for p in reversed(manifest.parts) if Path(p.file.removesuffix(PARTIAL)).suffix == Path(name).suffix),
                None)
    return Part(index=len(manifest.parts) + 1, file=name, start=manifest.recorded_until(), encoder=encoder,
                stream=like.stream if like else "", stream_meta=dict(like.stream_meta) if like else {})


def _encoder_of(manifest: Manifest) -> str:
    """The session's encoder as its manifest records it ("" if it does not: then each part's own)."""
    if manifest.video:
        return manifest.video.encoder
    return manifest.components.encoder if manifest.components else ""


def _recover_part(folder: Path, part: Part, fps: float, host, default_encoder: str,
                  marks: list[Chapter]) -> str:
    """Repair one unsealed part with its encoder, writing its chapters ``marks`` into it as
    sealing would have; updates ``part`` and says what happened."""
    name = part.file.removesuffix(PARTIAL)
    partial, final = folder / (name + PARTIAL), folder / name
    if partial.exists():
        path = partial
    elif final.exists():  # renamed, but the process died before the manifest said so
        path = final
    else:
        part.state = "dropped"
        return f"{name}: nothing on disk, dropped"
    encoder_name = part.encoder or default_encoder
    if part.stream:
        return _keep_through_stream(folder, part, path, final, encoder_name, host)
    repair, why_not = host.repairer(encoder_name)
    if repair is None:
        part.state, part.file = "incomplete", path.name
        return f"{name}: kept as {path.name}, not repaired ({why_not})"
    before = path.stat().st_size
    try:
        stats = repair(path, fps, marks)
    except Exception as exc:
        part.state, part.file = "incomplete", path.name
        return f"{name}: kept as {path.name}: encoder '{encoder_name}' failed to repair it: {describe(exc)}"
    if stats is None or not stats.frames:
        path.unlink()
        part.state = "dropped"
        return f"{name}: no complete fragment ({human_size(before)} discarded)"
    crash_point("recover:repaired")
    if path != final:
        platform.rename(path, final)
    fsync_folder(folder)  # the rename reaches the disk before the manifest says "sealed"
    crash_point("recover:renamed")
    part.file, part.state, part.encoder = name, "sealed", encoder_name
    part.frames, part.duration = stats.frames, round(stats.duration, 3)
    part.size, part.sha256 = final.stat().st_size, sha256_file(final)
    removed = before - part.size  # negative when the repair appended an index: nothing was cut
    return (f"{name}: kept {stats.frames} frames ({stats.duration:.1f} s, {human_size(part.size)})"
            + (f"; cut {human_size(removed)} of torn tail" if removed > 0 else ""))


def _keep_through_stream(folder: Path, part: Part, path: Path, final: Path, encoder_name: str, host) -> str:
    """A part written through a part stream: its encoder cannot read it, its stream says what is kept."""
    name = final.name
    stream = streams.find(host, part.stream)
    if stream is None:
        part.state, part.file = "incomplete", path.name
        return f"{name}: kept as {path.name}, not sealed (part stream '{part.stream}' is not installed)"
    part.file = name
    kept = stream.recover(folder, part, path)
    if not kept.keep:
        path.unlink(missing_ok=True)
        part.state = "dropped"
        return f"{name}: {kept.note}"
    if path != final:
        platform.rename(path, final)
    fsync_folder(folder)
    crash_point("recover:renamed")
    part.state, part.encoder = "sealed", encoder_name
    part.frames, part.duration = kept.frames, round(kept.duration, 3)
    part.size, part.sha256 = final.stat().st_size, sha256_file(final)
    part.sidecars = {side: sha256_file(folder / side) for side in kept.sidecars}
    return f"{name}: {kept.note}"


def close(folder: Path, why: str, host) -> None:
    """Leave an interrupted session as it is, for good: it will not be resumed."""
    manifest = manifests.read(folder)
    manifest.state = "complete"
    last = manifest.events[-1].t if manifest.events else 0.0
    event = Event(last, datetime.now(timezone.utc).astimezone().isoformat(), "closed", why)
    manifest.events.append(event)
    manifests.write(folder, manifest)
    host.call("recorder_session_event", session=manifests.to_session(manifest, folder), event=event)


def age_hours(manifest: Manifest) -> float:
    stamp = manifest.ended_at or manifest.started_at
    return (datetime.now(timezone.utc).timestamp() - stamp.timestamp()) / 3600


@attrs.define
class TakeOver:
    session: Session | None = None  # the interrupted session, resumed
    recovered: list[str] = attrs.Factory(list)  # what crash recovery kept, one line per part
    tidied: list[str] = attrs.Factory(list)  # lost folders reconciled with their rescued copies
    closed: tuple[Path, str] | None = None  # an interrupted session left as it is, and why
    gap: dict[str, Any] | None = None  # the interruption, announced once the session is wired


def why_not_resume(entry: dict[str, Any], manifest: Manifest, *, encoder: str, new_session: bool,
                   resume: bool, support_id: str, limit_hours: float) -> str | None:
    """Why the interrupted session must not be continued by this start (None: continue it).

    Only the same support session continues: the same --session-id, or, when neither
    run has one, a start after the machine restarted (its boot id changed). A start on
    the same boot without an id is the next support session, never a part of the last."""
    if new_session:
        return "--new-session"
    if any((p.encoder or encoder) != encoder for p in manifest.parts):
        return "recorded with another encoder"
    if resume:
        return None
    if age_hours(manifest) > limit_hours:
        return f"interrupted more than {limit_hours:g} h ago"
    if support_id or manifest.support_session_id:
        if support_id != manifest.support_session_id:
            return (f"another support session ({support_id or 'no --session-id'}, not "
                    f"{manifest.support_session_id or 'none'})")
        return None
    if not restarted_since(entry.get("boot_id") or ""):
        return ("the machine has not restarted since, and no --session-id says it is the same "
                "support session")
    return None


def take_over(profile: str, settings, encoder: str, host, *, new_session: bool, resume: bool = False,
              support_id: str = "") -> TakeOver:
    """What a new start does with the journal's last session: recover it if it crashed,
    then resume it, or close it (see ``why_not_resume``)."""
    outcome = TakeOver()
    outcome.tidied = rescued.reconcile_lost_folders(profile)  # a folder lost while recording, found again
    found = previous_session(profile)
    if found is None:
        return outcome
    entry, folder = found
    try:
        if entry["state"] == "recording":  # the caller holds the profile lock: that process is gone
            outcome.recovered += recover_folder(folder, host)
        manifest = manifests.read(folder)
    except ManifestError as exc:
        journal.clear(profile)
        outcome.closed = (folder, f"not resumed: {exc}")
        return outcome
    why = why_not_resume(entry, manifest, encoder=encoder, new_session=new_session, resume=resume,
                         support_id=support_id, limit_hours=settings.resume_within)
    if why:
        close(folder, f"not resumed: {why}", host)
        journal.clear(profile)
        outcome.closed = (folder, why)
        return outcome
    elapsed = datetime.now(timezone.utc).timestamp() - manifest.started_at.timestamp()
    session = manifests.to_session(manifest, folder, t0=time.monotonic() - elapsed)
    session.ended_at = session.end_reason = None
    session.resumed = True
    outcome.gap = {"start": manifest.recorded_until(), "reason": manifest.end_reason or "interrupted"}
    outcome.session = session
    return outcome


def announce_resumption(session: Session, gap: dict[str, Any]) -> None:
    """The gap and the resumption, as events on the resumed session's timeline."""
    start, end = gap["start"], round(session.offset(), 3)
    session.add_event("gap", f"not recording for {end - start:.1f} s ({gap['reason']})", by="recorder",
                      start=start, end=end, reason=gap["reason"])
    session.add_event("resumed", f"session resumed in part {len(session.parts) + 1}", by="recorder",
                      part=len(session.parts) + 1)


def previous_session(profile: str) -> tuple[dict[str, Any], Path] | None:
    """The journal's session for ``profile`` if it did not end normally, with its folder."""
    entry = journal.read(profile)
    if not entry or entry.get("state") not in ("recording", "interrupted"):
        return None
    folder = Path(entry["folder"])
    try:
        same = manifests.read(folder).session_id == entry["session_id"]
    except ManifestError:
        same = (folder / MANIFEST).is_file()  # damaged: take_over says so and leaves it
    if not same:  # gone, or the journal names a folder that is not its session's
        _remove_if_stillborn(folder)
        journal.clear(profile)
        return None
    return entry, folder


def _remove_if_stillborn(folder: Path) -> None:
    """A crash during the very first manifest write leaves the session folder with
    nothing but that write's temporary file (no frame was recorded yet): remove it."""
    try:
        leftovers = list(folder.iterdir())
    except OSError:
        return
    if all(p.name.startswith(f".{MANIFEST}.") and p.name.endswith(".tmp") for p in leftovers):
        for path in leftovers:
            path.unlink()
        folder.rmdir()
