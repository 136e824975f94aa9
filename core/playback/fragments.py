"""A part being written, read as a browser's Media Source needs it: whole fragments only.

An MP4 part is written as ``ftyp``, an empty ``moov`` (the init segment), then a
``moof`` + ``mdat`` pair per fragment, appended while recording. A reader of the
growing file may see the last pair half written: only pairs whose every byte is
in the file are ever handed out. Sealing finishes the file in place (a full
``moov`` appended, the first ``moov``'s header rewritten as an ``mdat`` that
covers the fragments) without moving any fragment, so the offsets learned while
the part was written stay right, and the init segment of a finished part is
rebuilt from the bytes still there. Only box headers and ``moof`` boxes are read.
"""

from __future__ import annotations

import os
import struct

import attrs
from recorder import platform

NON_SYNC = 0x00010000  # sample_is_non_sync_sample (ISO/IEC 14496-12 8.8.3.1)
HEADER_KINDS = {b"ftyp", b"moov"}


class NotFragmented(ValueError):
    """The file is not a fragmented MP4 (another encoder's part): nothing to follow live."""


@attrs.frozen
class Fragment:
    offset: int
    size: int  # the moof and its mdat together
    start: float  # seconds from the part's start
    end: float
    keyframe: bool  # holds a sync sample: a browser can start decoding here


def _box(fd: int, position: int, file_size: int) -> tuple[bytes, int] | None:
    """(kind, size) of the box at ``position`` if all of it is in the file; None otherwise."""
    head = platform.pread(fd, 16, position)
    if len(head) < 8:
        return None
    size, kind = struct.unpack(">I4s", head[:8])
    if size == 1 and len(head) == 16:
        size = struct.unpack(">Q", head[8:])[0]
    if size < 8 or position + size > file_size:
        return None
    return kind, size


def _boxes(data: bytes, start: int, end: int):
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        if size < header or start + size > end:
            raise ValueError(f"a broken {kind!r} box")
        yield kind, start + header, start + size
        start += size


def _find(data: bytes, path: tuple[bytes, ...], start: int = 0, end: int | None = None) -> tuple[int, int]:
    for kind, payload, box_end in _boxes(data, start, len(data) if end is None else end):
        if kind == path[0]:
            return (payload, box_end) if len(path) == 1 else _find(data, path[1:], payload, box_end)
    raise NotFragmented(f"no {path[0].decode('latin-1')} box")


class PartReader:
    """One part file followed as it grows; keeps what it learned (fragment offsets) between reads."""

    def __init__(self, path_of):
        self.path_of = path_of  # callable: the part's current path (it is renamed when sealed)
        self.init: bytes | None = None
        self.timescale = 0
        self.defaults = (0, 0)  # trex default sample duration and flags
        self.fragments: list[Fragment] = []
        self.next = 0  # where the next fragment would start
        self.finished = False  # a full moov follows the fragments: no more will come

    def refresh(self) -> None:
        """Learn the fragments written since the last call."""
        if self.finished:
            return
        fd = platform.open_binary(self.path_of(), platform.nofollow(os.O_RDONLY))
        try:
            size = os.fstat(fd).st_size
            if self.init is None and not self._read_init(fd, size):
                return
            while (found := _box(fd, self.next, size)) is not None:
                kind, moof_size = found
                if kind == b"moov":  # appended when the part was finished
                    self.finished = True
                    return
                if kind != b"moof":
                    return
                mdat = _box(fd, self.next + moof_size, size)
                if mdat is None or mdat[0] != b"mdat":
                    return  # the fragment's media is not all written yet
                self._add(platform.pread(fd, moof_size, self.next), moof_size + mdat[1])
        finally:
            os.close(fd)

    def _read_init(self, fd: int, size: int) -> bool:
        ftyp = _box(fd, 0, size)
        if ftyp is None:
            return False
        if ftyp[0] != b"ftyp":
            raise NotFragmented("it does not start with an ftyp box")
        at = ftyp[1]
        head = platform.pread(fd, 8, at)
        if len(head) < 8:
            return False
        moov_size, kind = struct.unpack(">I4s", head)
        if kind == b"mdat":  # finished: the first moov's header now covers the fragments
            moov_size = self._moov_size_in_finished(fd, at, size)
        elif kind != b"moov":
            raise NotFragmented(f"a {kind!r} box after ftyp")
        if at + moov_size > size:
            return False
        init = bytearray(platform.pread(fd, at + moov_size, 0))
        init[at:at + 8] = struct.pack(">I4s", moov_size, b"moov")
        self._parse_init(bytes(init))
        self.init, self.next = bytes(init), at + moov_size
        return True

    def _moov_size_in_finished(self, fd: int, at: int, size: int) -> int:
        """In a finished part, where the old moov's children end: where the first moof starts."""
        position = at + 8
        while (found := _box(fd, position, size)) is not None and found[0] != b"moof":
            position += found[1]
        if found is None:
            raise NotFragmented("a regular MP4 (no fragments)")
        return position - at

    def _parse_init(self, init: bytes) -> None:
        mdhd, _ = _find(init, (b"moov", b"trak", b"mdia", b"mdhd"))
        version = init[mdhd]
        self.timescale = struct.unpack_from(">I", init, mdhd + (20 if version == 1 else 12))[0]
        trex, _ = _find(init, (b"moov", b"mvex", b"trex"))  # no mvex: not fragmented
        _, _, duration, _, flags = struct.unpack_from(">IIIII", init, trex + 4)
        self.defaults = (duration, flags)

    def _add(self, moof: bytes, size: int) -> None:
        traf, traf_end = _find(moof, (b"moof", b"traf"))
        tfhd, _ = _find(moof, (b"tfhd",), traf, traf_end)
        flags = struct.unpack_from(">I", moof, tfhd)[0] & 0xFFFFFF
        field = tfhd + 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
        duration, sample_flags = self.defaults
        if flags & 0x08:
            duration, field = struct.unpack_from(">I", moof, field)[0], field + 4
        field += 4 if flags & 0x10 else 0
        if flags & 0x20:
            sample_flags = struct.unpack_from(">I", moof, field)[0]
        tfdt, _ = _find(moof, (b"tfdt",), traf, traf_end)
        base = struct.unpack_from(">Q" if moof[tfdt] == 1 else ">I", moof, tfdt + 4)[0]
        total, keyframe = 0, False
        for kind, run, _ in _boxes(moof, traf, traf_end):
            if kind == b"trun":
                ticks, key = _run(moof, run, duration, sample_flags)
                total, keyframe = total + ticks, keyframe or key
        scale = self.timescale or 1
        self.fragments.append(Fragment(self.next, size, base / scale, (base + total) / scale, keyframe))
        self.next += size

    @property
    def end(self) -> int:
        """The end of the last whole fragment (of the init segment before the first)."""
        return self.next

    @property
    def duration(self) -> float:
        return self.fragments[-1].end if self.fragments else 0.0

    def start_for(self, t: float) -> int:
        """The offset to append from to show ``t`` seconds into the part: the last fragment
        holding a keyframe at or before it (a decoder cannot start elsewhere)."""
        start = self.fragments[0].offset if self.fragments else self.next
        for fragment in self.fragments:
            if fragment.start > t:
                break
            if fragment.keyframe:
                start = fragment.offset
        return start

    def is_boundary(self, offset: int) -> bool:
        return offset == self.next or any(f.offset == offset for f in self.fragments)

    def codec(self) -> str | None:
        """The RFC 6381 codec of the init segment (what MediaSource.isTypeSupported wants), if H.264."""
        if self.init is None or (at := self.init.find(b"avcC")) < 0:
            return None
        return "avc1." + self.init[at + 5:at + 8].hex()


def _run(moof: bytes, run: int, duration: int, sample_flags: int) -> tuple[int, bool]:
    """(ticks, whether a sync sample is among them) of one trun."""
    flags, count = struct.unpack_from(">II", moof, run)
    flags &= 0xFFFFFF
    field = run + 8 + (4 if flags & 0x01 else 0)
    first_flags = None
    if flags & 0x04:
        first_flags, field = struct.unpack_from(">I", moof, field)[0], field + 4
    present = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    values = struct.unpack_from(f">{len(present) * count}I", moof, field)
    width = len(present)
    ticks, keyframe = 0, False
    for i in range(count):
        row = dict(zip(present, values[i * width:(i + 1) * width]))
        ticks += row.get(0x100, duration)
        this_flags = first_flags if i == 0 and first_flags is not None else row.get(0x400, sample_flags)
        keyframe = keyframe or not this_flags & NON_SYNC
    return ticks, keyframe


def whole_fragments(data: bytes) -> int:
    """How many moof + mdat pairs ``data`` is; raises ValueError unless it is exactly that,
    whole (what every live answer must be: a browser cannot use half a fragment)."""
    position, kinds = 0, []
    while position < len(data):
        if position + 8 > len(data):
            raise ValueError(f"{len(data) - position} bytes after the last box")
        size, kind = struct.unpack_from(">I4s", data, position)
        if size == 1:
            size = struct.unpack_from(">Q", data, position + 8)[0]
        if size < 8 or position + size > len(data):
            raise ValueError(f"a torn {kind!r} box at {position}")
        kinds.append(kind)
        position += size
    if kinds != [b"moof", b"mdat"] * (len(kinds) // 2):
        raise ValueError(f"not moof + mdat pairs: {kinds[:6]}")
    return len(kinds) // 2
