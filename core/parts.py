"""Part files: opened with a ``.partial`` suffix, renamed and hashed when sealed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from recorder.components import VideoFormat
from recorder.manifest import create_private_file, sha256_file
from recorder.session import Part, Session

PARTIAL = ".partial"


class Parts:
    def __init__(self, session: Session, encoder, fmt: VideoFormat, fps: float,
                 on_opened: Callable[[Part], None], on_sealed: Callable[[Part], None]):
        self.session, self.encoder, self.fmt, self.fps = session, encoder, fmt, fps
        self.on_opened, self.on_sealed = on_opened, on_sealed
        self.current: Part | None = None
        self.writer = None

    def path(self, part: Part) -> Path:
        return self.session.folder / part.file

    def write(self, frame, pts: float) -> None:
        if self.writer is None:
            self.open(pts)
        self.writer.write(frame, pts)

    def open(self, pts: float) -> None:
        index = len(self.session.parts) + 1
        part = Part(index=index, file=f"part-{index:03d}{self.encoder.extension}", start=round(pts, 3))
        partial = self.path(part).with_name(part.file + PARTIAL)
        create_private_file(partial)
        self.writer = self.encoder.open_part(partial, self.fmt, self.fps)
        self.current = part
        self.session.parts.append(part)
        self.on_opened(part)

    def bytes_written(self) -> int:
        part = self.current
        if part is None:
            return sum(p.size for p in self.session.parts)
        try:
            size = self.path(part).with_name(part.file + PARTIAL).stat().st_size
        except OSError:
            size = 0
        return size + sum(p.size for p in self.session.parts if p is not part)

    def seal(self) -> Part | None:
        """Close the current part. A writer that fails to close leaves the part
        ``incomplete`` under its ``.partial`` name (still decodable up to its
        last fragment) and the error is raised after the bookkeeping."""
        part, writer = self.current, self.writer
        if part is None:
            return None
        self.current = self.writer = None
        partial = self.path(part).with_name(part.file + PARTIAL)
        try:
            stats = writer.close()
        except BaseException:
            part.state = "incomplete"
            part.frames = getattr(writer, "frames", 0)
            part.file += PARTIAL
            self._measure(part, partial)
            raise
        part.frames, part.duration = stats.frames, round(stats.duration, 3)
        final = self.path(part)
        if final.exists():
            raise FileExistsError(f"refusing to overwrite {final}")
        os.rename(partial, final)
        part.state = "sealed"
        self._measure(part, final)
        self.on_sealed(part)
        return part

    @staticmethod
    def _measure(part: Part, path: Path) -> None:
        part.size = path.stat().st_size
        part.sha256 = sha256_file(path)
