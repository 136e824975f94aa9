"""What encrypting the parts (the encrypt guard, age to one recipient) costs recorder's CPU.

On its own Xvfb screen, with the workloads of compare_ffmpeg.py, recorder
runs alternately without and with encryption (same profile otherwise), and
the whole process's CPU seconds per recorded minute are compared:

    python benchmarks/encryption_cost.py --seconds 30 --rounds 3 --json benchmarks/results/encryption.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
from pathlib import Path

from compare_ffmpeg import RECORDER, Workload, measure, screen, start_xvfb

# A recipient of a key nobody holds: encryption costs the same whoever may decrypt.
RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def run(display: str, workload: Workload, args, home: Path, encrypt: bool) -> dict:
    config = home / "bench.toml"
    guards = '["encrypt"]' if encrypt else "[]"
    config.write_text(f"[profiles.rep]\nfps = {args.fps}\nguards = {guards}\nnotifiers = []\n"
                      f'[profiles.rep.h264]\npreset = "{args.preset}"\ncrf = {args.crf}\n'
                      f"[profiles.rep.mss]\ncursor = false\n"
                      f'[profiles.rep.encrypt]\nrecipients = ["{RECIPIENT}"]\n')
    env = dict(os.environ, DISPLAY=display, HOME=str(home))
    typing = workload.during()
    out, wall, cpu, rss, _ = measure([str(RECORDER), "--profile", "rep", "--config", str(config), "--duration",
                                      str(args.seconds), "--new-session"], env, screen(display, args.size), 3600)
    workload.stop.set()
    if typing:
        typing.join()
    manifest = json.loads((Path(out.strip()) / "session.json").read_text())
    minutes = manifest["duration"] / 60 or args.seconds / 60
    assert all(p["file"].endswith(".age") == encrypt for p in manifest["parts"])
    return {"encrypted": encrypt, "cpu_s_per_min": round(cpu / minutes, 3), "wall_s": round(wall, 1),
            "peak_rss_mb": round(rss, 1), "frames": manifest["frames"], "dropped": manifest["dropped_frames"],
            "mb_per_min": round(sum(p["size"] for p in manifest["parts"]) / 1e6 / minutes, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--workloads", default="animated,office")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows, summary = [], []
    for name in args.workloads.split(","):
        xvfb, display = start_xvfb(args.size)
        try:
            with Workload(name, display) as workload, tempfile.TemporaryDirectory() as tmp:
                for round_ in range(args.rounds):
                    for encrypt in (False, True):
                        workload.stop.clear()
                        row = {"workload": name, "round": round_ + 1,
                               **run(display, workload, args, Path(tmp), encrypt)}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        finally:
            xvfb.send_signal(signal.SIGTERM)
            xvfb.wait()
        plain = [r for r in rows if r["workload"] == name and not r["encrypted"]]
        sealed = [r for r in rows if r["workload"] == name and r["encrypted"]]
        ratios = [b["cpu_s_per_min"] / a["cpu_s_per_min"] for a, b in zip(plain, sealed)]
        summary.append({"workload": name, "plain_cpu_s_per_min": statistics.median(r["cpu_s_per_min"] for r in plain),
                        "encrypted_cpu_s_per_min": statistics.median(r["cpu_s_per_min"] for r in sealed),
                        "overhead_pct": round((statistics.median(ratios) - 1) * 100, 1),
                        "dropped": max(r["dropped"] for r in sealed)})
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}; {args.seconds:g} s per run, {args.rounds} rounds, {args.size}@{args.fps:g}")
    for line in summary:
        print(f"{line['workload']:9} plain {line['plain_cpu_s_per_min']:.2f} CPU s/min, encrypted "
              f"{line['encrypted_cpu_s_per_min']:.2f}: {line['overhead_pct']:+.1f}% (dropped {line['dropped']})")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "args": vars(args) | {"json": str(args.json)},
                                         "runs": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
