"""Finishing a part: the fragmented MP4 becomes a regular one, in place.

Players seek a fragmented MP4 badly when its keyframes are further apart
than its fragments: VLC seeks to the fragment that holds the time asked for
and GStreamer to the fragment its random-access index (FFmpeg's ``mfra``, one
entry per fragment, keyframe or not) names, and both then decode from a
picture that is not a keyframe: grey, with only what changed since drawn
over it. The empty ``moov`` written first has no duration either (GStreamer
then takes the start of the last fragment). A regular MP4 has neither
problem: its ``stss`` lists exactly the keyframes and its ``mvhd``, ``tkhd``
and ``mdhd`` the duration.

So a part is written fragmented (a crash loses at most one fragment) and
finished when it is sealed or recovered: a ``moov`` with the whole sample
table, built from the ``moof`` boxes (metadata, never the pictures), is
appended, then the 8 bytes of the first ``moov``'s header are rewritten into
an ``mdat`` header that covers the old header and every fragment. Until that
last write the file is the fragmented part it was (the appended ``moov`` is
cut off again by a repair); after it, a regular MP4, the same layout as
FFmpeg's ``hybrid_fragmented`` (FFmpeg rewrites the header before writing
its ``moov``, which a crash in between would leave unplayable).

The part's chapters (its marks, pauses, gaps: core gives them) go into that
``moov`` as Nero chapters (``udta/chpl``, which ffprobe, mpv and VLC all list):
they cost a few bytes of the index, no extra write, and they are in the part
before it is hashed. A crash before the header is rewritten leaves the
fragmented part, which recovery finishes again, with the same chapters.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from itertools import groupby

from recorder import crash_point, platform
from recorder.plugins.h264.fmp4 import Layout, Samples, boxes, child, read, samples, scale_and_duration

# The sample tables of the header's moov (empty: the samples are in the fragments), replaced.
REBUILT = {b"stts", b"ctts", b"stss", b"stsz", b"stz2", b"stsc", b"stco", b"co64", b"sdtp"}
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}  # the boxes on the way to them


def finish(fd: int, layout: Layout, chapters=()) -> Samples:
    """Finish the fragmented part in ``fd`` (``layout`` from ``fmp4.scan``) with ``chapters``
    (``recorder.Chapter``: seconds into the part, title); returns its samples.
    On an error the file is left as the fragmented part it was."""
    table = samples(fd, layout)
    moov = regular_moov(read(fd, *layout.moov), table, chapters)
    os.ftruncate(fd, layout.end)  # nothing may follow the moov (a torn fragment, an earlier attempt)
    try:
        platform.pwrite(fd, moov, layout.end)
        platform.fsync(fd)  # the index is on disk before the header says the file has one
    except OSError:
        os.ftruncate(fd, layout.end)
        raise
    crash_point("finish:indexed")
    start = layout.moov[0]
    size = layout.end - start
    # The new mdat starts where the first moov did; a 64-bit size also overwrites the
    # header of the mvhd after it, which is part of the media box's filler from now on.
    header = struct.pack(">I4s", size, b"mdat") if size < 2**32 else struct.pack(">I4sQ", 1, b"mdat", size)
    platform.pwrite(fd, header, start)
    platform.fsync(fd)
    return table


def finished_stats(fd: int, layout: Layout) -> tuple[int, float]:
    """Frames and seconds of a part already finished."""
    moov = read(fd, *layout.finished)
    timescale, duration = scale_and_duration(moov, (b"moov", b"trak", b"mdia", b"mdhd"))
    stsz, _ = child(moov, (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz"))
    return struct.unpack_from(">I", moov, stsz + 8)[0], duration / timescale


def regular_moov(init: bytes, table: Samples, chapters=()) -> bytes:
    """The header's moov with the sample table filled in, the fragment defaults (mvex) left
    out, and ``chapters`` in its user data (udta)."""
    movie_scale, _ = scale_and_duration(init, (b"moov", b"mvhd"))
    media = table.duration
    movie = -(-media * movie_scale // table.timescale)
    durations = {b"mvhd": movie, b"tkhd": movie, b"mdhd": media}

    marks = chpl(chapters, table.duration / table.timescale) if chapters else b""

    def rebuild(kind: bytes, start: int, end: int) -> bytes:
        if kind == b"mvex":
            return b""
        if kind == b"udta":
            kept = [box(k, init[s:e]) for k, s, e in boxes(init, start, end) if k != b"chpl"]
            return box(kind, marks, *kept)
        if kind == b"moov" and marks and not any(k == b"udta" for k, _, _ in boxes(init, start, end)):
            return box(kind, *(rebuild(k, s, e) for k, s, e in boxes(init, start, end)), box(b"udta", marks))
        if kind in durations:
            return box(kind, with_duration(kind, init[start:end], durations[kind]))
        if kind == b"stbl":
            kept = [box(k, init[s:e]) for k, s, e in boxes(init, start, end) if k not in REBUILT]
            return box(kind, *kept, *sample_tables(table))
        if kind in CONTAINERS:
            return box(kind, *(rebuild(k, s, e) for k, s, e in boxes(init, start, end)))
        return box(kind, init[start:end])

    [(kind, start, end)] = list(boxes(init))
    return rebuild(kind, start, end)


NERO_UNITS = 10_000_000  # chpl times are in 100 ns
MAX_CHAPTERS = 255  # chpl counts them in one byte


def chpl(chapters, seconds: float) -> bytes:
    """Nero chapters (version 1, as FFmpeg writes them), each start within the part's ``seconds``."""
    kept = sorted(chapters, key=lambda chapter: chapter.start)[:MAX_CHAPTERS]
    entries = []
    for chapter in kept:
        start = round(min(max(0.0, chapter.start), seconds) * NERO_UNITS)
        title = chapter.title.encode("utf-8")[:255].decode("utf-8", errors="ignore").encode("utf-8")
        entries.append(struct.pack(">QB", start, len(title)) + title)
    return full_box(b"chpl", 1, b"\0\0\0\0", bytes([len(entries)]), *entries)


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", len(body) + 8, kind) + body


def full_box(kind: bytes, version: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", version << 24), *payload)


def with_duration(kind: bytes, payload: bytes, duration: int) -> bytes:
    """An mvhd, tkhd or mdhd payload with ``duration``, as version 1 if it needs 64 bits."""
    fields = 3 if kind == b"tkhd" else 2  # the 32-bit fields between the times and the duration
    if payload[0] == 0 and duration < 2**32:
        at = 4 + 4 * 2 + 4 * (fields - 1)
        return payload[:at] + struct.pack(">I", duration) + payload[at + 4:]
    if payload[0] == 0:  # widen: creation and modification times and the duration become 64-bit
        created, modified = struct.unpack_from(">II", payload, 4)
        middle = payload[12:12 + 4 * (fields - 1)]
        payload = b"\x01" + payload[1:4] + struct.pack(">QQ", created, modified) + middle + b"\0" * 8 \
            + payload[12 + 4 * fields:]
    at = 4 + 8 * 2 + 4 * (fields - 1)
    return payload[:at] + struct.pack(">Q", duration) + payload[at + 8:]


def sample_tables(table: Samples) -> list[bytes]:
    runs = [(len(list(group)), delta) for delta, group in groupby(table.durations)]
    tables = [full_box(b"stts", 0, _words([len(runs), *(v for run in runs for v in run)]))]
    if len(table.sync) < table.frames:  # without an stss every sample is a sync sample
        tables.append(full_box(b"stss", 0, _words([len(table.sync)]), _words(table.sync)))
    tables.append(full_box(b"stsz", 0, _words([0, table.frames]), _words(table.sizes)))
    chunks = [(number, count) for number, (_, count) in enumerate(table.chunks, start=1)]
    changes = [(number, count, 1) for number, count in chunks
               if number == 1 or count != chunks[number - 2][1]]
    tables.append(full_box(b"stsc", 0, _words([len(changes), *(v for change in changes for v in change)])))
    offsets = [offset for offset, _ in table.chunks]
    if offsets and offsets[-1] >= 2**32:
        tables.append(full_box(b"co64", 0, _words([len(offsets)]), struct.pack(f">{len(offsets)}Q", *offsets)))
    else:
        tables.append(full_box(b"stco", 0, _words([len(offsets), *offsets])))
    return tables


def _words(values) -> bytes:
    """Big-endian 32-bit words."""
    words = array("I", values)
    if sys.byteorder == "little":
        words.byteswap()
    return words.tobytes()
