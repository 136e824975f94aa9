"""Part files: opened with a ``.partial`` suffix, renamed and hashed when sealed.

A part is sealed and the next one opened when it reaches the profile's
``max_part_duration`` or ``max_part_size``. The frame that crosses the limit
starts the new part (which begins on a keyframe, being a new stream), so no
frame is lost or repeated; ``Part.start`` places each part on the session
timeline. Hashing a sealed part happens on a thread of its own so that the
encoder never waits for it. When the session's parts go through a part stream
(``Session.part_wrap``, a plugin's), the encoder writes into that stream, which
writes the file; it is checkpointed about once a second instead of fsynced.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Collection

from recorder.session import chapters
from recorder.session.model import Part, Session
from recorder.session.recovery import PARTIAL
from recorder.disk.crashpoints import crash_point
from recorder import platform
from recorder.disk.files import NOFOLLOW, create_private_file, sha256_file
from recorder.store.saving import copy_private
from recorder.components import (CountsFrames, ProjectsSize, Repairs, TakesChangedRects, TakesChangedRows,
                                 TakesChapters)
from recorder.values import Changes, PartStats, VideoFormat
SYNC_EVERY = 1.0  # seconds


def _fsync_quietly(fd: int) -> None:
    try:
        platform.fsync(fd)
    except OSError:
        pass  # a full disk shows up in the writer, where it is handled


class Parts:
    def __init__(self, session: Session, encoder, fmt: VideoFormat, fps: float, *, encoder_name: str,
                 max_size: int = 0, max_duration: float = 0.0,
                 on_opened: Callable[[Part], None], on_sealed: Callable[[Part], None],
                 on_failed: Callable[[BaseException], None] = lambda exc: None, plugins: Collection[str] = ()):
        self.session, self.encoder, self.fmt, self.fps = session, encoder, fmt, fps
        self.plugins = plugins  # the plugins loaded: their events are no chapters (session/chapters.py)
        self.encoder_name = encoder_name
        self.max_size, self.max_duration = max_size, max_duration
        self.on_opened, self.on_sealed, self.on_failed = on_opened, on_sealed, on_failed
        self.current: Part | None = None
        self.writer = None
        self.writer_takes_rows = False
        self.writer_takes_rects = False
        self.writer_projects_size = False
        self.writer_failed = False
        self.sync_fd: int | None = None
        self.stream = None  # the part stream's writer for this part: the encoder writes here
        self.last_pts = 0.0
        self.synced_at = 0.0
        self.canvas: bytearray | None = None  # the whole picture, for sources that send only changes
        self.sealer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder-seal")
        self.pending: list[Future] = []
        self.rescued_from: Path | None = None  # set when the session had to move mid-recording
        self.observer: Callable | None = None  # sees every frame written (the live text index)

    def path(self, part: Part) -> Path:
        return self.session.folder / part.file

    def partial_path(self, part: Part) -> Path:
        return self.session.folder / (part.file + PARTIAL)

    def write(self, frame, pts: float) -> None:
        picture, rows = self._picture(frame)
        changed = rows  # before a new part turns them into "everything"
        if self.writer is None:
            self.open(pts)
            rows = None  # a new part starts from the whole picture
        elif self._full(pts):
            self._close_current(in_background=True, next_start=pts)
            self.open(pts)
            rows = None
        try:
            if self.writer_takes_rects and rows is not None and frame.rects is not None:
                self.writer.write(picture, pts, changed=rows, rects=frame.rects)
            elif self.writer_takes_rows:
                self.writer.write(picture, pts, changed=rows)
            else:
                self.writer.write(picture, pts)
        except BaseException:
            self.writer_failed = True
            raise
        self.last_pts = pts
        if self.observer is not None:
            self.observer(picture, pts, changed, getattr(frame, "rects", None), self.current.file)
        self._maybe_sync()

    def _picture(self, frame) -> tuple:
        """The whole picture and the row ranges that changed (None: all of them)."""
        if not isinstance(frame, Changes):
            return frame, None
        stride = self.fmt.width * 4
        bands = frame.bands
        if self.canvas is None:
            first = bands[0][1] if bands else b""
            if isinstance(first, bytearray) and len(first) == stride * self.fmt.height:
                self.canvas, bands = first, bands[1:]  # a whole first grab: no second 33 MB at 4K
            else:
                self.canvas = bytearray(stride * self.fmt.height)
        for top, data in bands:
            self.canvas[top * stride:top * stride + len(data)] = data
        return self.canvas, frame.rows(stride)

    def _maybe_sync(self) -> None:
        # A kill -9 loses only what the encoder held; a power loss also loses what
        # the kernel had not written yet. fsync about once a second, off this thread.
        now = time.monotonic()
        if self.sync_fd is not None and now - self.synced_at >= SYNC_EVERY:
            self.synced_at = now
            if self.stream is not None:  # the part stream makes what it holds survive a kill
                frames = _frames(self.writer)
                self.sealer.submit(self.stream.checkpoint, frames, round(self.last_pts - self.current.start, 3))
                return
            fd = self.sync_fd
            self.sealer.submit(_fsync_quietly, fd)

    def _full(self, pts: float) -> bool:
        if self.max_duration and pts - self.current.start >= self.max_duration - 0.5 / self.fps:
            return True
        if self.max_size:
            projected = self.writer_projects_size  # asked once per part: this runs every frame
            size = self.writer.projected_bytes() if projected else self.partial_path(self.current).stat().st_size
            return size >= self.max_size
        return False

    def open(self, pts: float) -> None:
        index = self._next_index()
        wrap = self.session.part_wrap
        part = Part(index=index, file=f"part-{index:03d}{self.encoder.extension}{wrap.writer.suffix if wrap else ''}",
                    start=round(pts, 3), encoder=self.encoder_name, stream=wrap.stream if wrap else "",
                    stream_meta=dict(wrap.meta) if wrap else {})
        partial = self.partial_path(part)
        create_private_file(partial)
        if index > 1:
            crash_point("split:created")
        if wrap is not None:
            fd = platform.open_binary(partial, os.O_WRONLY | NOFOLLOW)
            self.stream = wrap.writer.open(fd, part, self.session.folder)
            self.writer = self.encoder.open_part(partial, self.fmt, self.fps, stream=self.stream)
        else:
            self.writer = self.encoder.open_part(partial, self.fmt, self.fps)
        # The writer's declared capabilities (recorder.components), asked once per part, not per frame
        self.writer_takes_rows = isinstance(self.writer, TakesChangedRows) and self.writer.takes_changed_rows
        self.writer_takes_rects = (self.writer_takes_rows and isinstance(self.writer, TakesChangedRects)
                                   and self.writer.takes_changed_rects)
        self.writer_projects_size = isinstance(self.writer, ProjectsSize)
        self.sync_fd = platform.sync_handle(partial)  # fsync through any fd flushes the file (writable on Windows)
        self.synced_at = time.monotonic()
        self.current = part
        self.session.parts.append(part)
        self.on_opened(part)
        if index > 1:
            crash_point("split:opened")

    def _next_index(self) -> int:
        """After the parts listed, and after any part file on disk (a crash may have left
        one the manifest does not name): a part never overwrites another."""
        on_disk = [int(p.name[5:8]) for p in self.session.folder.glob("part-[0-9][0-9][0-9]*")
                   if p.name[5:8].isdigit()]
        listed = [p.index for p in self.session.parts]
        return max([0, *on_disk, *listed]) + 1

    def bytes_written(self) -> int:
        total = sum(p.size for p in self.session.parts if p is not self.current)
        if self.current is not None:
            try:
                total += self.partial_path(self.current).stat().st_size
            except OSError:
                pass
        return total

    def cut(self) -> None:
        """Seal the current part now (a pause); the next frame opens a new one."""
        self._close_current(in_background=True, next_start=chapters.LATER)

    def seal(self) -> None:
        """Seal the current part and wait for every seal in progress; raises the first failure."""
        try:
            self._close_current(in_background=False)
        finally:
            self.sealer.shutdown(wait=True)
        for future in self.pending:
            future.result()

    def _close_current(self, *, in_background: bool, next_start: float | None = None) -> None:
        """``next_start``: where the next part starts (None: there will be none; LATER: after a pause)."""
        part, writer = self.current, self.writer
        if part is None:
            return
        if isinstance(writer, TakesChapters):  # written with the part's index: in it when it is hashed
            writer.set_chapters(self._chapters(part, next_start))
        self.current = self.writer = None
        partial = self.partial_path(part)
        failed, self.writer_failed = self.writer_failed, False
        sync_fd, self.sync_fd = self.sync_fd, None
        stream, self.stream = self.stream, None
        sync_closed = None
        sidecars: list[str] = []
        try:
            try:
                try:
                    stats = writer.close()
                finally:
                    if stream is not None:  # the stream completes the file, whatever the encoder did
                        sidecars = list(stream.close() or [])
            finally:
                if self.rescued_from is not None:  # the folder was lost: the data is still in the open file
                    self._copy_out(sync_fd, partial)
                sync_closed = self.sealer.submit(os.close, sync_fd)  # after any fsync already queued
            if failed:
                raise OSError("the part's writer had failed")
            crash_point("seal:closed")
        except BaseException as exc:
            stats = self._repair(partial) if stream is None else self._stream_stats(writer, stream, part)
            if stats is None:
                # Kept under its .partial name; crash recovery may still save it.
                part.state = "incomplete"
                part.frames = _frames(writer)
                part.file += PARTIAL
                self.pending.append(self.sealer.submit(self._measure, part, partial))
                raise
            self.session.add_event("part-repaired", f"{part.file}: the writer failed ({exc}); kept "
                                   f"{stats.frames} frames up to the last complete fragment", level="warning")
            if not failed:  # the failure came with closing (a full disk): it decides the end
                self.on_failed(exc)
        part.frames, part.duration = stats.frames, round(stats.duration, 3)
        final = self.path(part)
        if final.exists():
            raise FileExistsError(f"refusing to overwrite {final}")
        if platform.is_windows() and sync_closed is not None:  # no rename there while a handle is open
            sync_closed.result()
        platform.rename(partial, final)  # and retried while an indexer or antivirus holds it
        crash_point("seal:renamed")
        future = self.sealer.submit(self._finish_seal, part, final, sidecars)
        self.pending.append(future)
        if not in_background:
            future.result()

    def _chapters(self, part: Part, next_start: float | None) -> list:
        before = [p for p in self.session.parts if p.index < part.index]
        previous = max(before, key=lambda p: p.index) if before else None
        return chapters.of_part(list(self.session.events), self.plugins, start=part.start,
                                previous_end=previous.start + previous.duration if previous else None,
                                next_start=next_start, end=self.last_pts + 1 / self.fps)

    def relocate(self, folder: Path) -> list[str]:
        """The session's folder was deleted or made unwritable while recording: go on
        in ``folder``. Sealed parts that can still be read are copied over; the part being
        written is copied out of its open file when it is closed. Returns what was lost."""
        old, self.rescued_from = self.session.folder, self.session.folder
        lost = []
        for part in list(self.session.parts):
            if part is self.current:
                continue
            try:
                copy_private(old / part.file, folder / part.file)
            except OSError:
                self.session.parts.remove(part)
                lost.append(part.file)
        self.session.folder = folder
        return lost

    def _copy_out(self, fd: int, target: Path) -> None:
        create_private_file(target)
        with open(target, "r+b") as out:
            offset = 0
            while chunk := platform.pread(fd, 1 << 20, offset):
                out.write(chunk)
                offset += len(chunk)
            out.flush()
            platform.fsync(out.fileno())

    def _stream_stats(self, writer, stream, part: Part):
        """A part written through a part stream whose writer failed: what reached it is sealed
        as it is (the encoder cannot repair what it cannot read; reading it back through its
        stream, its whole fragments are kept), unless the stream itself could not be completed
        (then it stays .partial, with what the stream keeps beside it, for crash recovery)."""
        if stream.error is not None or not _frames(writer):
            return None
        return PartStats(frames=writer.frames, duration=max(0.0, self.last_pts - part.start))

    def _repair(self, path: Path):
        if not isinstance(self.encoder, Repairs):
            return None
        repair = self.encoder.repair
        try:
            return repair(path, self.fps)
        except Exception:
            return None

    def _finish_seal(self, part: Part, path: Path, sidecars: list[str] = ()) -> None:
        self._measure(part, path)
        part.sidecars = {name: sha256_file(self.session.folder / name) for name in sidecars}
        crash_point("seal:hashed")
        part.state = "sealed"
        self.on_sealed(part)

    def _measure(self, part: Part, path: Path) -> None:
        part.size = path.stat().st_size
        part.sha256 = sha256_file(path)
        previous = [p for p in self.session.parts if p.index == part.index - 1]
        part.previous_sha256 = previous[0].sha256 if previous else ""


def _frames(writer) -> int:
    """How many frames a part writer has written, for one that counts them (CountsFrames)."""
    return writer.frames if isinstance(writer, CountsFrames) else 0
