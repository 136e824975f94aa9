"""The fragmented MP4 a part is written as, read back from its box headers.

A part is recorded as ``ftyp``, an empty ``moov``, then one ``moof`` + ``mdat``
pair every fragment, so that a crash loses at most the fragment being
written. Only box headers and ``moof`` boxes are read here (a few bytes per
fragment, never the pictures), so this is quick even for hours of video.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array

import attrs
from recorder import platform

NON_SYNC = 0x00010000  # sample_is_non_sync_sample, in sample flags (ISO/IEC 14496-12 8.8.3.1)


@attrs.frozen
class Layout:
    """Where things are in a part file."""

    moov: tuple[int, int] | None = None  # the header's moov: offset, size
    moofs: tuple[tuple[int, int], ...] = ()  # each complete fragment's moof: offset, size
    end: int = 0  # end of the header and of the last complete fragment: what is worth keeping
    finished: tuple[int, int] | None = None  # the full moov of a part finished as a regular MP4


def read(fd: int, offset: int, size: int) -> bytes:
    data = platform.pread(fd, size, offset)
    if len(data) != size:
        raise EOFError(f"{size} bytes at {offset}: the file ends first")
    return data


def box_at(fd: int, position: int, file_size: int) -> tuple[bytes, int, int] | None:
    """(kind, header size, box size) of the box at ``position``; None if torn or not a box."""
    head = platform.pread(fd, 16, position)
    if len(head) < 8:
        return None
    size, kind = struct.unpack(">I4s", head[:8])
    header = 8
    if size == 1 and len(head) == 16:
        size, header = struct.unpack(">Q", head[8:])[0], 16
    if size < header or position + size > file_size or not kind.isalpha():
        return None
    return kind, header, size


def scan(fd: int) -> Layout:
    """The part's layout. Anything after the last complete fragment is left out
    of ``end``: a torn fragment, or a moov whose finishing did not complete."""
    file_size = os.fstat(fd).st_size
    position, end, pending = 0, 0, None
    moov = finished_mdat = None
    moofs: list[tuple[int, int]] = []
    while (found := box_at(fd, position, file_size)) is not None:
        kind, _, size = found
        if kind == b"ftyp" and not position:
            end = size
        elif kind == b"moov" and moov is None and finished_mdat is None:
            moov, end = (position, size), position + size
        elif kind == b"moov" and finished_mdat is not None:
            return Layout(finished=(position, size), end=position + size)
        elif kind == b"moof" and moov is not None and pending is None:
            pending = (position, size)
        elif kind == b"mdat" and pending is not None:
            moofs.append(pending)
            pending, end = None, position + size
        elif kind == b"mdat" and moov is None and end:  # right after ftyp: a finished part's media
            finished_mdat = position
        else:
            break
        position += size
    return Layout(moov, tuple(moofs), end) if moov is not None else Layout()


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(kind, payload start, box end) of each box in ``data[start:end]``."""
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        if size < header or start + size > end:
            raise ValueError(f"a broken {kind!r} box")
        yield kind, start + header, start + size
        start += size


def child(data: bytes, path: tuple[bytes, ...], start: int = 0, end: int | None = None) -> tuple[int, int]:
    """(payload start, end) of the box at ``path`` below ``data[start:end]``."""
    for kind, payload, box_end in boxes(data, start, end):
        if kind == path[0]:
            return (payload, box_end) if len(path) == 1 else child(data, path[1:], payload, box_end)
    raise ValueError(f"no {path[0]!r} box")


def scale_and_duration(data: bytes, path: tuple[bytes, ...]) -> tuple[int, int]:
    """(timescale, duration) of the mvhd or mdhd at ``path``."""
    start, _ = child(data, path)
    if data[start] == 1:  # version 1: 64-bit times and duration
        return struct.unpack_from(">IQ", data, start + 20)
    return struct.unpack_from(">II", data, start + 12)


@attrs.define
class Samples:
    """The sample table of a part, gathered from its fragments."""

    timescale: int
    durations: array = attrs.Factory(lambda: array("I"))
    sizes: array = attrs.Factory(lambda: array("I"))
    sync: array = attrs.Factory(lambda: array("I"))  # 1-based numbers of the sync samples
    chunks: list[tuple[int, int]] = attrs.Factory(list)  # one per trun: file offset, samples

    @property
    def frames(self) -> int:
        return len(self.sizes)

    @property
    def duration(self) -> int:
        """In the track's timescale: the sum of the frame durations."""
        return sum(self.durations)


def samples(fd: int, layout: Layout) -> Samples:
    """Every sample of the part's complete fragments."""
    init = read(fd, *layout.moov)
    timescale, _ = scale_and_duration(init, (b"moov", b"trak", b"mdia", b"mdhd"))
    start, _ = child(init, (b"moov", b"mvex", b"trex"))
    track, _, duration, size, flags = struct.unpack_from(">IIIII", init, start + 4)
    table = Samples(timescale)
    for offset, length in layout.moofs:
        _add_fragment(table, read(fd, offset, length), offset, track, (duration, size, flags))
    return table


def _u32(data: bytes, at: int) -> int:
    return struct.unpack_from(">I", data, at)[0]


def _add_fragment(table: Samples, moof: bytes, offset: int, track: int, defaults: tuple[int, int, int]) -> None:
    for kind, start, end in boxes(moof, 8):
        if kind != b"traf":
            continue
        tfhd, _ = child(moof, (b"tfhd",), start, end)
        flags, track_id = _u32(moof, tfhd) & 0xFFFFFF, _u32(moof, tfhd + 4)
        if track_id != track:
            raise ValueError(f"a fragment of track {track_id}: parts have one track, {track}")
        base, field = offset, tfhd + 8  # the moof itself unless given: parts are written with default_base_moof
        if flags & 0x01:
            base, field = struct.unpack_from(">Q", moof, field)[0], field + 8
        field += 4 if flags & 0x02 else 0  # sample description index
        duration, size, sample_flags = defaults  # from trex, unless this fragment has its own
        if flags & 0x08:
            duration, field = _u32(moof, field), field + 4
        if flags & 0x10:
            size, field = _u32(moof, field), field + 4
        if flags & 0x20:
            sample_flags = _u32(moof, field)
        position = base
        for run_kind, run, _ in boxes(moof, start, end):
            if run_kind == b"trun":
                position = _add_run(table, moof, run, base, position, (duration, size, sample_flags))


def _add_run(table: Samples, moof: bytes, run: int, base: int, position: int,
             defaults: tuple[int, int, int]) -> int:
    """Add one trun's samples; returns where the next run's data starts."""
    flags, count = _u32(moof, run) & 0xFFFFFF, _u32(moof, run + 4)
    field = run + 8
    if flags & 0x01:
        position, field = base + struct.unpack_from(">i", moof, field)[0], field + 4
    first_flags = None
    if flags & 0x04:
        first_flags, field = _u32(moof, field), field + 4
    present = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    if 0x800 in present:
        # Parts have no B-frames (max_b_frames = 0), so there are no composition offsets to carry over.
        raise ValueError("samples with composition time offsets")
    values = array("I", moof[field:field + 4 * len(present) * count])
    if sys.byteorder == "little":
        values.byteswap()
    column = {bit: values[index::len(present)] for index, bit in enumerate(present)}
    durations = column.get(0x100, array("I", [defaults[0]]) * count)
    sizes = column.get(0x200, array("I", [defaults[1]]) * count)
    sample_flags = column.get(0x400, array("I", [defaults[2]]) * count)
    if first_flags is not None and count:
        sample_flags[0] = first_flags
    first = table.frames + 1
    table.sync.extend(first + i for i, value in enumerate(sample_flags) if not value & NON_SYNC)
    table.durations.extend(durations)
    table.sizes.extend(sizes)
    table.chunks.append((position, count))
    return position + sum(sizes)
