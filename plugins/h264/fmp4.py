"""Fragmented MP4 after a crash or a full disk: keep the part up to its last complete fragment.

Only box headers are read (a few bytes per fragment), so this is quick even
for hours of video. Used to repair a part whose writer failed, and by crash
recovery.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import av

HEADER_BOXES = {b"ftyp", b"moov"}
TAIL_BOXES = {b"mfra", b"free", b"skip", b"sidx", b"styp", b"prft", b"emsg"}


def decodable_length(path: Path) -> int:
    """Bytes at the start of ``path`` made of whole boxes: header, complete moof+mdat pairs, tail boxes."""
    size = path.stat().st_size
    good = position = 0
    pending_moof = False
    has_moov = False
    with open(path, "rb") as fh:
        while position + 8 <= size:
            fh.seek(position)
            length, kind = struct.unpack(">I4s", fh.read(8))
            if length == 1:
                length = struct.unpack(">Q", fh.read(8))[0]
            if length < 8 or position + length > size or not kind.isalpha():
                break  # torn or overwritten: the rest cannot be trusted
            end = position + length
            if kind in HEADER_BOXES:
                has_moov |= kind == b"moov"
                good = end if not pending_moof else good
            elif kind == b"moof":
                pending_moof = True
            elif kind == b"mdat" and pending_moof:
                pending_moof = False
                good = end
            elif kind in TAIL_BOXES and not pending_moof:
                good = end
            else:
                break
            position = end
    return good if has_moov else 0


def truncate_to_decodable(path: Path) -> int:
    """Cut a torn tail off; returns how many bytes were removed."""
    keep = decodable_length(path)
    removed = path.stat().st_size - keep
    if removed:
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return removed


def packet_stats(path: Path, fps: float) -> tuple[int, float]:
    """Frames and duration of the video stream, from its packets (no decoding)."""
    frames, last = 0, None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            frames += 1
            t = float(packet.pts * stream.time_base)
            last = t if last is None else max(last, t)
    return frames, (last + 1 / fps) if last is not None else 0.0
