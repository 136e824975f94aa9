"""Sealing an hour-long part: how long does finishing it into a regular MP4 take?

Writes an hour of synthetic frames through the h264 plugin's part writer (the
encoder path recorder uses, at a low resolution so that encoding is quick:
the seal's work depends on the number of fragments and frames, not on the
pictures), then times only the seal, ``close()`` as core calls it: the
encoder's last frames, the muxer's last fragment, and finishing (reading the
moof boxes, writing the moov, rewriting the header). Also times the repair of a
copy taken before the seal, as crash recovery would run it on an hour-long part.

    python benchmarks/seal_hour.py --seconds 3600 --fps 15
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from recorder.plugins.h264 import H264Encoder, H264Options
from recorder.plugins.h264.fmp4 import scan
from recorder.plugins.synthetic_source import SyntheticOptions, SyntheticSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600, help="part duration (recorded seconds)")
    parser.add_argument("--fps", type=float, default=15)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    source = SyntheticSource(SyntheticOptions(width=width, height=height))
    fmt = source.open()
    encoder = H264Encoder(H264Options(preset="ultrafast"))
    with tempfile.TemporaryDirectory() as temp:
        part, crashed = Path(temp) / "part-001.mp4", Path(temp) / "crashed.mp4"
        writer = encoder.open_part(part, fmt, args.fps)
        frames = int(args.seconds * args.fps)
        started = time.perf_counter()
        for index in range(frames):
            writer.write(source.grab(), index / args.fps)
        encoding = time.perf_counter() - started
        shutil.copyfile(part, crashed)  # the part as a crash would leave it: fragments, no index
        started = time.perf_counter()
        stats = writer.close()
        seal = time.perf_counter() - started
        fd = os.open(crashed, os.O_RDONLY)
        fragments = len(scan(fd).moofs)
        os.close(fd)
        started = time.perf_counter()
        repaired = encoder.repair(crashed, args.fps)
        repair = time.perf_counter() - started
        result = {
            "seconds": args.seconds, "fps": args.fps, "size": args.size, "frames": stats.frames,
            "duration": round(stats.duration, 3), "bytes": part.stat().st_size,
            "fragments": fragments,
            "encoding_seconds": round(encoding, 1), "seal_seconds": round(seal, 4),
            "repair_seconds": round(repair, 4), "repaired_frames": repaired.frames,
            "machine": platform.machine(), "python": platform.python_version(),
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
