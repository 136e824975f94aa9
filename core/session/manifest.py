"""``session.json``: the one model of a session folder, read and written only here.

The file is versioned (``format_version``). Reading checks every field's type,
migrates older versions, and turns anything unreadable into one line naming
the file; the rest of recorder only ever sees a ``Manifest``.

Version 2 (recorder 0.2) names on each part the encoder that wrote it, so that
crash recovery asks that encoder to repair it. Version 3 adds the support
session's id and labels. Version 4 adds ``still``: the spans (start and end
offsets) when the screen did not change, which replay shades and can skip.
Version 5 added, per part, the age recipients it was encrypted to
(``encrypted_to``) and the tail a crash left beside it (``tail``,
``tail_sha256``). Version 6 says that generically: the part stream (a plugin)
that wrote the part (``stream``), what it recorded (``stream_meta``) and the
files it keeps beside the part (``sidecars``, name to SHA-256). Older files are
migrated when read: every part of a version 1 file gets the session's encoder; a
version 2 file has no id or labels; a version 3 file no still spans; a version 5
part encrypted to recipients was written by the part stream ``age``, which
recorded them, and its tail is its side file.
(Each addition is a new version because readers refuse keys they do not know:
an older recorder then says "upgrade" rather than "damaged".)
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import cattrs
from recorder.errors import UsageError
from recorder.session.model import Event, Part, Session, TextIndexEntry, hold_in_force
from recorder.disk.files import write_private
from recorder.version import __version__

MANIFEST = "session.json"
FORMAT_VERSION = 6
STATES = ("recording", "interrupted", "complete")


@attrs.define
class Video:
    width: int
    height: int
    fps: float
    encoder: str


@attrs.define
class Components:
    source: str
    encoder: str
    sink: str
    guards: list[str]
    notifiers: list[str]


@attrs.define
class Manifest:
    session_id: str
    profile: str
    role: str
    host: str
    started_at: datetime
    pid: int = 0
    format_version: int = FORMAT_VERSION
    recorder_version: str = __version__
    ended_at: datetime | None = None
    end_reason: str | None = None
    state: str = "recording"  # recording, interrupted, complete
    duration: float = 0.0
    frames: int = 0
    dropped_frames: int = 0
    unchanged_frames: int = 0
    video: Video | None = None
    components: Components | None = None
    notifier_failures: dict[str, int] = attrs.Factory(dict)
    support_session_id: str = ""  # the support tool's id for the support session recorded
    labels: dict[str, str] = attrs.Factory(dict)
    parts: list[Part] = attrs.Factory(list)
    events: list[Event] = attrs.Factory(list)
    still: list[tuple[float, float]] = attrs.Factory(list)  # (start, end): the screen did not change
    text_index: TextIndexEntry | None = None  # the text index, once written (store/text_index.py)

    @property
    def sealed_parts(self) -> list[Part]:
        return [part for part in self.parts if part.state == "sealed"]

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def fps(self) -> float:
        return self.video.fps if self.video else 15.0

    @property
    def unsaved(self) -> bool:
        """A sink left the session where it was staged (the user did not say where it goes)."""
        said = [e.kind for e in self.events if e.kind in ("staged", "unsaved", "saved")]
        return bool(said) and said[-1] != "saved"

    @property
    def held(self) -> Event | None:
        """The legal hold in force (its ``hold`` event: reason, by, time), or None: retention
        never deletes a held session, and the archive keeps its objects under an Object Lock hold."""
        return hold_in_force(self.events)

    def recorded_until(self) -> float:
        """Where the last part ends on the session timeline."""
        return round(max((p.start + p.duration for p in self.parts), default=0.0), 3)

    def at(self, offset: float) -> datetime:
        """The wall-clock time of ``offset`` seconds into the session."""
        return datetime.fromtimestamp(self.started_at.timestamp() + offset, self.started_at.tzinfo)

    def add_event(self, kind: str, text: str, *, t: float, level: str = "info", by: str = "recorder",
                  **data: Any) -> Event:
        event = Event(round(t, 3), self.at(t).isoformat(), kind, text, level, by, data)
        self.events.append(event)
        return event

    def totals_from_parts(self) -> None:
        self.duration = round(sum(p.duration for p in self.parts), 3)
        self.frames = sum(p.frames for p in self.parts)


def state_of(session: Session) -> str:
    if session.ended_at is None:
        return "recording"
    return "interrupted" if session.end_reason == "interrupted" else "complete"


def from_session(session: Session, *, video: Video | None = None, components: Components | None = None,
                 notifier_failures: dict[str, int] | None = None) -> Manifest:
    return Manifest(
        session_id=session.id, profile=session.profile, role=session.role, host=session.host,
        started_at=session.started_at, pid=os.getpid(),
        ended_at=session.ended_at, end_reason=session.end_reason if session.ended_at else None,
        state=state_of(session), duration=round(sum(part.duration for part in session.parts), 3),
        frames=session.frames, dropped_frames=session.dropped, unchanged_frames=session.unchanged,
        video=video, components=components, notifier_failures=dict(notifier_failures or {}),
        support_session_id=session.support_id, labels=dict(session.labels),
        parts=[attrs.evolve(part) for part in session.parts],
        events=list(session.events),
        still=session.still_spans(),
        text_index=session.text_index,
    )


def to_session(manifest: Manifest, folder: Path, **session: Any) -> Session:
    """A session object for what the manifest describes (same id, parts and events)."""
    restored = Session(profile=manifest.profile, role=manifest.role, id=manifest.session_id,
                       host=manifest.host, started_at=manifest.started_at, folder=folder, **session)
    restored.parts = [attrs.evolve(part) for part in manifest.parts]
    restored.events = list(manifest.events)
    restored.still = list(manifest.still)  # a resumed session adds to them
    restored.text_index = manifest.text_index
    restored.ended_at, restored.end_reason = manifest.ended_at, manifest.end_reason
    restored.frames, restored.dropped = manifest.frames, manifest.dropped_frames
    restored.support_id, restored.labels = manifest.support_session_id, dict(manifest.labels)
    return restored


# -- reading and writing -------------------------------------------------------

def _converter() -> cattrs.Converter:
    from recorder.config.options import make_converter  # strict types: a hostile file is refused

    converter = make_converter()
    converter.register_structure_hook(datetime, lambda value, _: _datetime(value))
    converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
    converter.register_structure_hook_func(lambda t: t == dict[str, Any], lambda value, _: _table(value))
    converter.register_structure_hook_func(lambda t: t == dict[str, int], lambda value, _: {
        str(k): converter.structure(v, int) for k, v in _table(value).items()})
    converter.register_structure_hook_func(lambda t: t == dict[str, str], lambda value, _: {
        str(k): converter.structure(v, str) for k, v in _table(value).items()})
    converter.register_structure_hook_func(lambda t: t == tuple[float, float],
                                           lambda value, _: _span(converter, value))
    return converter


def _span(converter: cattrs.Converter, value: Any) -> tuple[float, float]:
    from recorder.config.options import shown

    if not isinstance(value, list) or len(value) != 2:
        raise TypeError(f"expected [start, end], got {shown(value)}")
    start, end = (converter.structure(v, float) for v in value)
    if not 0 <= start <= end:
        raise ValueError(f"expected 0 <= start <= end, got [{start}, {end}]")
    return start, end


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected a date and time, got {type(value).__name__} {value!r}")
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _table(value: Any) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table, got {type(value).__name__}")
    return value


_CONVERTER = _converter()


class ManifestError(UsageError):
    """A session.json that cannot be read, named in one line."""


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older manifest to the current format (the file itself is rewritten only when saved)."""
    version = data.get("format_version")
    if version == 1:
        encoder = (data.get("video") or {}).get("encoder") or (data.get("components") or {}).get("encoder")
        data = dict(data, format_version=2,  # no encoder recorded anywhere: crash recovery says so
                    parts=[{"encoder": encoder or "", **part} for part in data.get("parts", [])])
        version = 2
    if version == 2:
        data = dict(data, format_version=3)  # id and labels default to none
        version = 3
    if version == 3:
        data = dict(data, format_version=4)  # no still spans were noted
        version = 4
    if version == 4:
        data = dict(data, format_version=5)  # no part was encrypted
        version = 5
    if version == 5:
        data = dict(data, format_version=6, parts=[_part_from_v5(part) for part in data.get("parts", [])])
    return data


V5_STREAM = "age"  # the part stream that writes what version 5 called an encrypted part


def _part_from_v5(part: Any) -> Any:
    if not isinstance(part, dict):
        return part  # damaged: the structuring says so
    part = dict(part)
    recipients, tail, tail_sha256 = part.pop("encrypted_to", []), part.pop("tail", ""), part.pop("tail_sha256", "")
    if recipients:
        part.update(stream=V5_STREAM, stream_meta={"recipients": recipients})
    if tail:
        part["sidecars"] = {tail: tail_sha256}
    return part


def parse(text: str | bytes, where: str = MANIFEST) -> Manifest:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # a file nested 10,000 deep is damage, not a crash
        raise ManifestError(f"{where}: damaged (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: damaged (not a JSON object)")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ManifestError(f"{where}: damaged (no format_version)")
    if version > FORMAT_VERSION:
        raise ManifestError(f"{where}: written by a newer recorder (format {version}; this one reads "
                            f"up to {FORMAT_VERSION}): upgrade recorder")
    try:
        manifest = _CONVERTER.structure(migrate(data), Manifest)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as exc:
        raise ManifestError(f"{where}: damaged ({_first_error(exc)})") from None
    if manifest.state not in STATES:
        raise ManifestError(f"{where}: damaged (unknown state {manifest.state!r})")
    problem = _unconfined(manifest)
    if problem:
        raise ManifestError(f"{where}: refused ({problem})")
    return manifest


# Names read from a manifest become paths (a part in the session folder, the replay
# cache per session id): a crafted file must not reach outside them.
_PART_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _unconfined(manifest: Manifest) -> str | None:
    from recorder.config.layers import PROFILE_NAME  # here: config imports the session model
    from recorder.session.identity import SUPPORT_ID, check_label

    if not _ID.match(manifest.session_id):
        return f"session_id {manifest.session_id[:80]!r} is not an id"
    if not PROFILE_NAME.fullmatch(manifest.profile):
        return f"profile {manifest.profile[:80]!r} is not a profile name"
    if manifest.support_session_id and not SUPPORT_ID.fullmatch(manifest.support_session_id):
        return "support_session_id is not a session id"
    for key, value in manifest.labels.items():
        try:
            check_label(key, value, "labels")
        except UsageError as exc:
            return str(exc)
    for part in manifest.parts:
        for name in (part.file, *part.sidecars):
            if name and not plain_name(name):
                return f"part file {name[:80]!r} is not a plain file name in the session folder"
    return None


def plain_name(name: str) -> bool:
    """A name read from a manifest that stays a file in the session folder."""
    return bool(_PART_NAME.match(name)) and ".." not in name


def _first_error(exc: BaseException) -> str:
    path = []
    while isinstance(exc, cattrs.BaseValidationError) and exc.exceptions:
        inner = exc.exceptions[0]
        note = next((n for n in getattr(inner, "__notes__", []) if hasattr(n, "name")), None)
        if note is not None:
            path.append(str(note.name))
        exc = inner
    where = f"{'.'.join(path)}: " if path else ""
    return f"{where}{exc}" if str(exc) else f"{where}{type(exc).__name__}"


def read(folder: Path) -> Manifest:
    """The manifest of a session folder; ``ManifestError`` (one line, naming the file) if unreadable."""
    path = folder / MANIFEST
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file (not a session folder)") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse(text, str(path))


def dumps(manifest: Manifest) -> bytes:
    data = _CONVERTER.unstructure(manifest)
    # the order people read it in: who and when first, then parts and events
    ordered = {key: data.pop(key) for key in ("format_version", "recorder_version", "session_id", "profile",
                                              "role", "host", "pid", "started_at", "ended_at",
                                              "end_reason", "state")}
    events, parts, still = data.pop("events"), data.pop("parts"), data.pop("still")
    if data.get("text_index") is None:
        data.pop("text_index", None)  # no index: the file says nothing of one
    text = json.dumps({**ordered, **data, "parts": parts, "events": events}, indent=2)
    # Still spans last, one a line: there can be a thousand, of little interest to a reader.
    spans = ",\n    ".join(json.dumps(list(span)) for span in still)
    text = text[:-2] + ',\n  "still": [' + (f"\n    {spans}\n  " if spans else "") + "]\n}"
    return text.encode() + b"\n"


def write(folder: Path, manifest: Manifest) -> Path:
    path = folder / MANIFEST
    manifest.recorder_version = __version__  # who wrote it last (a migrated file is now this version's)
    write_private(path, dumps(manifest))
    return path
