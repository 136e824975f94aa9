"""Watching a session while it is recorded: what ``recorder play --live`` reads.

Only files on disk, as any reader of the session folder sees them: the manifest
(rewritten whole at every event) and the part files, the one being written read
up to its last whole fragment (fragments.py). Nothing here talks to the recorder
or writes anything: watching costs the recording no more than a reader of its
folder would (benchmarks/live_cost.py measures it).
"""

from __future__ import annotations

import threading
from pathlib import Path

from recorder.errors import UsageError
from recorder.playback import replay
from recorder.playback.fragments import PartReader
from recorder.playback.timeline import Segment, assemble
from recorder.session import manifest as manifests
from recorder.session.manifest import MANIFEST, Manifest
from recorder.session.recovery import PARTIAL, pause_spans
from recorder.store import catalog

MAX_ANSWER = 8 << 20  # bytes of fragments in one answer: a page catching up asks again


def running_session(profile: str, roots: list[Path]) -> Path:
    """The folder of the session the recorder of ``profile`` is writing now."""
    rows = [row for row in catalog.sessions(profile, roots=roots) if row.state == "in progress"]
    if not rows:
        raise UsageError(f"no session is being recorded for profile '{profile}': nothing to watch live")
    return Path(max(rows, key=lambda row: row.started_at).folder)


class LiveSession:
    """One session folder followed as its recorder writes it (safe to use from several threads)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.lock = threading.Lock()
        self.readers: dict[str, PartReader] = {}
        self._manifest: Manifest = manifests.read(folder)
        self._stamp = self._manifest_stamp()
        self.session_id = self._manifest.session_id

    # -- the manifest, read again when its file changed ------------------------------------
    def _manifest_stamp(self):
        stat = (self.folder / MANIFEST).stat()
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def manifest(self) -> Manifest:
        try:
            stamp = self._manifest_stamp()
        except FileNotFoundError:  # saved elsewhere when the session ended: follow it there
            self.folder = catalog.find(self.session_id)
            stamp = None
        if stamp != self._stamp:
            self._manifest, self._stamp = manifests.read(self.folder), self._manifest_stamp()
        return self._manifest

    # -- parts -------------------------------------------------------------------------------
    def _path(self, file: str) -> Path:
        partial = self.folder / (file + PARTIAL)
        return partial if partial.exists() else self.folder / file

    def reader(self, file: str) -> PartReader:
        """The reader of a part the manifest lists (never any other file)."""
        if file not in {part.file for part in self.manifest().parts}:
            raise KeyError(file)
        if file not in self.readers:
            self.readers[file] = PartReader(lambda: self._path(file))
        reader = self.readers[file]
        try:
            reader.refresh()
        except FileNotFoundError:  # renamed when sealed between looking and opening
            reader.refresh()
        return reader

    def playable(self, file: str) -> tuple[Path, bytes, int]:
        """A part as one file a browser can play: (path, what replaces its first bytes, size).
        A sealed part is its file; a part being written, its whole fragments so far, behind
        its init segment (the header of a part finished meanwhile put back as it was)."""
        with self.lock:
            part = next((p for p in self.manifest().parts if p.file == file), None)
            if part is None or part.state not in ("sealed", "writing"):
                raise KeyError(file)
            if part.state == "sealed" and file not in self.readers:
                path = self.folder / file
                return path, b"", path.stat().st_size
            reader = self.reader(file)
            if reader.init is None:
                raise KeyError(file)
            return reader.path_of(), reader.init, reader.end

    def init(self, file: str) -> bytes:
        with self.lock:
            reader = self.reader(file)
            if reader.init is None:
                raise KeyError(file)
            return reader.init

    def fragments(self, file: str, start: int | None = None, at: float | None = None) -> tuple[bytes, int, int, bool]:
        """(bytes, their offset, the offset after them, whether the part is complete): whole
        fragments from ``start`` (a fragment boundary), or from the keyframe before ``at``
        seconds into the part; at most MAX_ANSWER bytes unless one fragment is larger."""
        with self.lock:
            reader = self.reader(file)
            if at is not None:
                start = reader.start_for(at)
            if start is None or not reader.is_boundary(start):
                raise ValueError(f"{start} is not where a fragment of {file} starts")
            end = start
            for fragment in reader.fragments:
                if fragment.offset >= start and (end == start or fragment.offset + fragment.size - start <= MAX_ANSWER):
                    end = fragment.offset + fragment.size
            with open(reader.path_of(), "rb") as part:
                part.seek(start)
                data = part.read(end - start)
            if len(data) != end - start:
                raise ValueError(f"{file} is shorter than its fragments")  # never hand out a torn one
            return data, start, end, reader.finished and end == reader.end

    # -- what the page shows -----------------------------------------------------------------
    def state(self) -> dict:
        """The page's SESSION now: the sealed parts played from their files, the part being
        written from its fragments, every event so far; and ``live``: recording or not, paused."""
        with self.lock:
            manifest = self.manifest()
            segments, shown = [], []
            for part in manifest.parts:
                if part.state == "sealed" and part.frames > 0:
                    segments.append(Segment(self.folder / part.file, part.start, part.duration, part.frames))
                    shown.append({"src": "parts/" + part.file, "file": part.file, "start": part.start,
                                  "duration": part.duration, "writing": False})
                elif part.state == "writing":
                    try:
                        reader = self.reader(part.file)
                    except FileNotFoundError:
                        continue
                    if not reader.fragments:
                        continue  # nothing to show yet
                    segments.append(Segment(self.folder / part.file, part.start, reader.duration,
                                            len(reader.fragments)))
                    shown.append({"src": "parts/" + part.file, "file": part.file, "start": part.start, "duration": reader.duration,
                                  "writing": True, "codec": reader.codec()})
            line = assemble(self.folder, manifest, segments) if segments else None
            data = replay.session_data(line, shown, []) if line else {"segments": []}
            data["live"] = {"recording": catalog.held_by_its_recorder(manifest) and manifest.state == "recording",
                            "paused": _open_pause(manifest)}
            return data


def _open_pause(manifest: Manifest) -> dict | None:
    """The pause still going on, if any: who, why, since when (seconds into the session)."""
    for opened, closed in pause_spans(manifest.events):
        if closed is None:
            return {"by": opened.by, "reason": str(opened.data.get("reason", "")), "since": opened.t}
    return None
