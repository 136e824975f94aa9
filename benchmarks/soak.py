"""Memory over a long session: does recorder's RSS stay flat for an hour?

Records the synthetic source faster than real time (``realtime = false``:
frames are made as fast as they are encoded and timed as if taken on
schedule), so an hour of 4K at 15 fps takes minutes, and samples the
process's resident memory from /proc as it goes. Reports RSS after warm-up
(10% of the recording) and at the end, the peak, and the growth between them.

    python benchmarks/soak.py --seconds 3600 --size 3840x2160 --fps 15 --json benchmarks/results/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procstat import status_mib

RECORDER = Path(sys.executable).with_name("recorder")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600, help="recorded (not wall) seconds")
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--fps", type=float, default=15)
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--every", type=float, default=2.0, help="wall seconds between RSS samples")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as home:
        config = Path(home) / "soak.toml"
        config.write_text(f"[profiles.rep]\nfps = {args.fps}\nsource = \"synthetic\"\nguards = []\nnotifiers = []\n"
                          f"[profiles.rep.synthetic]\nwidth = {width}\nheight = {height}\nchanges = true\n"
                          f"realtime = false\n[profiles.rep.h264]\npreset = \"{args.preset}\"\n")
        started = time.monotonic()
        proc = subprocess.Popen([str(RECORDER), "--profile", "rep", "--config", str(config), "--duration",
                                 str(args.seconds), "--new-session"], env=dict(os.environ, HOME=home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = []
        while proc.poll() is None:
            if (rss := status_mib(proc.pid, "VmRSS")) is not None:
                samples.append((round(time.monotonic() - started, 1), round(rss, 1)))
            time.sleep(args.every)
        out, err = proc.communicate()
        if proc.returncode:
            sys.exit(f"recorder failed ({proc.returncode}): {err.strip()}")
        manifest = json.loads((Path(out.strip()) / "session.json").read_text())
    wall = time.monotonic() - started
    warm = [rss for t, rss in samples if t >= 0.1 * wall]
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "args": vars(args) | {"json": str(args.json)}, "wall_s": round(wall, 1),
              "recorded_s": manifest["duration"], "frames": manifest["frames"],
              "parts": len(manifest["parts"]), "rss_after_warmup_mb": warm[0], "rss_end_mb": warm[-1],
              "rss_peak_mb": max(rss for _, rss in samples),
              "growth_pct": round(100 * (max(warm) - warm[0]) / warm[0], 1), "samples": samples}
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
