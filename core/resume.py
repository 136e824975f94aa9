"""After a restart or a crash: recover what the last run left, and resume its session.

A run that was interrupted (restart, SIGTERM, logind) sealed its part and left
the journal saying ``interrupted``. A run that crashed (kill -9, power loss)
left it saying ``recording`` with a part still ``.partial``: that part is cut
back to its last complete fragment, hashed and sealed before anything else.
Either way the next start continues the same session in a new part, unless
``--new-session`` is given or the session is older than ``resume_within``.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
from recorder import journal
from recorder.fmp4 import packet_stats, truncate_to_decodable
from recorder.manifest import MANIFEST, RESERVE, sha256_file, write_private
from recorder.parts import PARTIAL
from recorder.session import Event, Part, Session
from recorder.status import human_size


def load_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text())


def save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    write_private(folder / MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n")


def recover_folder(folder: Path, fps: float) -> list[str]:
    """Seal every part a crash left ``.partial``; returns one line per part saying what was kept."""
    manifest = load_manifest(folder)
    report: list[str] = []
    listed = {part["file"].removesuffix(PARTIAL) for part in manifest["parts"]}
    for stray in sorted(folder.glob(f"*{PARTIAL}")):  # created but not yet in the manifest
        name = stray.name.removesuffix(PARTIAL)
        if name not in listed:
            last = manifest["parts"][-1] if manifest["parts"] else {"start": 0, "duration": 0}
            manifest["parts"].append({"index": len(manifest["parts"]) + 1, "file": name,
                                      "start": round(last["start"] + last["duration"], 3),
                                      "state": "writing", "frames": 0, "duration": 0.0, "size": 0,
                                      "sha256": "", "previous_sha256": ""})
    kept = []
    for part in manifest["parts"]:
        if part["state"] == "sealed":
            kept.append(part)
            continue
        name = part["file"].removesuffix(PARTIAL)
        partial = folder / (name + PARTIAL)
        if not partial.exists():
            report.append(f"{name}: nothing on disk, dropped")
            continue
        before = partial.stat().st_size
        removed = truncate_to_decodable(partial)
        frames, duration = packet_stats(partial, fps) if partial.stat().st_size else (0, 0.0)
        if not frames:
            partial.unlink()
            report.append(f"{name}: no complete fragment ({human_size(before)} discarded)")
            continue
        final = folder / name
        os.rename(partial, final)
        part.update(file=name, state="sealed", frames=frames, duration=round(duration, 3),
                    size=final.stat().st_size, sha256=sha256_file(final))
        report.append(f"{name}: kept {frames} frames ({duration:.1f} s, {human_size(part['size'])}); "
                      f"cut {human_size(removed)} of torn tail")
        kept.append(part)
    previous = ""
    for index, part in enumerate(kept, 1):
        part["index"], part["previous_sha256"] = index, previous
        previous = part["sha256"]
    manifest["parts"] = kept
    manifest["duration"] = round(sum(p["duration"] for p in kept), 3)
    manifest["frames"] = sum(p["frames"] for p in kept)
    manifest["state"] = "interrupted"
    manifest["end_reason"] = "crashed"
    crash_at = max((p["start"] + p["duration"] for p in kept), default=0.0)
    manifest["ended_at"] = _at(manifest["started_at"], crash_at)
    manifest["events"].append({"t": round(crash_at, 3), "time": manifest["ended_at"], "kind": "crashed",
                               "text": "the recorder stopped without sealing; recovered: " + "; ".join(report),
                               "level": "warning", "by": "recorder", "data": {"report": report}})
    (folder / RESERVE).unlink(missing_ok=True)
    save_manifest(folder, manifest)
    return report


def _at(started_at: str, offset: float) -> str:
    start = datetime.fromisoformat(started_at)
    return datetime.fromtimestamp(start.timestamp() + offset, start.tzinfo).isoformat()


def close(folder: Path, why: str) -> None:
    """Leave an interrupted session as it is, for good: it will not be resumed."""
    manifest = load_manifest(folder)
    manifest["state"] = "complete"
    manifest["events"].append({"t": manifest["events"][-1]["t"] if manifest["events"] else 0.0,
                               "time": datetime.now(timezone.utc).astimezone().isoformat(),
                               "kind": "closed", "text": why, "level": "info", "by": "recorder", "data": {}})
    save_manifest(folder, manifest)


def session_from_manifest(manifest: dict[str, Any], folder: Path) -> Session:
    """The interrupted session, ready to continue: same id, parts and events, same timeline."""
    started = datetime.fromisoformat(manifest["started_at"])
    elapsed = datetime.now(timezone.utc).timestamp() - started.timestamp()
    session = Session(profile=manifest["profile"], role=manifest["role"], id=manifest["session_id"],
                      host=manifest["host"], started_at=started, folder=folder,
                      t0=time.monotonic() - elapsed)
    session.parts = [Part(**part) for part in manifest["parts"]]
    session.events = [Event(**{"data": {}, **event}) for event in manifest["events"]]
    session.resumed = True
    return session


def interruption_start(manifest: dict[str, Any]) -> float:
    ends = [p["start"] + p["duration"] for p in manifest["parts"]]
    return round(max(ends, default=0.0), 3)


def age_hours(manifest: dict[str, Any]) -> float:
    stamp = manifest.get("ended_at") or manifest["started_at"]
    return (datetime.now(timezone.utc).timestamp() - datetime.fromisoformat(stamp).timestamp()) / 3600


@attrs.define
class TakeOver:
    session: Session | None = None  # the interrupted session, resumed
    recovered: list[str] = attrs.Factory(list)  # what crash recovery kept, one line per part
    closed: tuple[Path, str] | None = None  # an interrupted session left as it is, and why


def take_over(profile: str, settings, extension: str, *, new_session: bool) -> TakeOver:
    """What a new start does with the journal's last session: recover it if it crashed,
    then resume it, or close it (--new-session, too old, another encoder)."""
    outcome = TakeOver()
    found = previous_session(profile)
    if found is None:
        return outcome
    entry, folder = found
    if entry["state"] == "recording":  # the caller holds the profile lock: that process is gone
        outcome.recovered = recover_folder(folder, settings.fps)
    manifest = load_manifest(folder)
    limit = settings.resume_within
    why = ("--new-session" if new_session else
           f"interrupted more than {limit:g} h ago" if age_hours(manifest) > limit else
           "recorded with another encoder" if any(not p["file"].endswith(extension)
                                                  for p in manifest["parts"]) else None)
    if why:
        close(folder, f"not resumed: {why}")
        journal.clear(profile)
        outcome.closed = (folder, why)
        return outcome
    gap_start = interruption_start(manifest)
    session = session_from_manifest(manifest, folder)
    gap_end = round(session.offset(), 3)
    reason = manifest.get("end_reason") or "interrupted"
    session.add_event("gap", f"not recording for {gap_end - gap_start:.1f} s ({reason})",
                      start=gap_start, end=gap_end, reason=reason)
    session.add_event("resumed", f"session resumed in part {len(session.parts) + 1}")
    outcome.session = session
    return outcome


def previous_session(profile: str) -> tuple[dict[str, Any], Path] | None:
    """The journal's session for ``profile`` if it did not end normally, with its folder."""
    entry = journal.read(profile)
    if not entry or entry.get("state") not in ("recording", "interrupted"):
        return None
    folder = Path(entry["folder"])
    if not (folder / MANIFEST).is_file():
        journal.clear(profile)
        return None
    return entry, folder
