"""How fast the command line starts: support tools call `recorder status`, `mark` and `stop` often.

Median wall time of 20 runs each of `recorder --version`, `recorder list`
(a home with a few sessions), and `recorder status` against a running
recorder (the control channel), plus the time from starting `recorder
--profile rep` to its first captured frame (from the manifest: the session's
start on the wall clock plus the first part's offset):

    python benchmarks/startup.py --json benchmarks/results/startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from compare_ffmpeg import RECORDER, start_xvfb

RUNS = 20


def timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    return elapsed


def median_of(argv: list[str], env: dict, runs: int) -> dict:
    timed(argv, env)  # the page cache warm, as on a machine that ran it before
    times = [timed(argv, env) for _ in range(runs)]
    return {"command": " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)),
            "median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "max_s": round(max(times), 4), "runs": runs}


def first_frame(env: dict) -> float:
    """Seconds from the command to its first captured frame."""
    started = time.time()
    done = subprocess.run([str(RECORDER), "--profile", "rep", "--duration", "1", "--new-session"], env=env,
                          capture_output=True, text=True)
    manifest = json.loads((Path(done.stdout.strip()) / "session.json").read_text())
    at = datetime.fromisoformat(manifest["started_at"]).timestamp() + manifest["parts"][0]["start"]
    return at - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    xvfb, display = start_xvfb("1920x1080")
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home, DISPLAY=display)
        config = Path(home, ".config", "recorder")
        config.mkdir(parents=True)
        (config / "recorder.toml").write_text("[profiles.rep]\nnotifiers = []\n")
        try:
            frames = [first_frame(env) for _ in range(5)]  # also leaves five sessions for list
            results = [median_of([str(RECORDER), "--version"], env, args.runs),
                       median_of([str(RECORDER), "list"], env, args.runs)]
            live = subprocess.Popen([str(RECORDER), "--profile", "rep", "--duration", "600", "--new-session"],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                subprocess.run([str(RECORDER), "status", "--profile", "rep", "--wait", "20"], env=env,
                               capture_output=True, check=True)
                results.append(median_of([str(RECORDER), "status", "--profile", "rep"], env, args.runs))
            finally:
                live.send_signal(signal.SIGINT)
                live.wait(60)
        finally:
            xvfb.send_signal(signal.SIGTERM)
            xvfb.wait()
    results.append({"command": "recorder --profile rep (to the first frame)",
                    "median_s": round(statistics.median(frames), 4), "min_s": round(min(frames), 4),
                    "max_s": round(max(frames), 4), "runs": len(frames)})
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}")
    for row in results:
        print(f"{row['command']:<45} median {row['median_s'] * 1000:6.0f} ms  "
              f"(min {row['min_s'] * 1000:.0f}, max {row['max_s'] * 1000:.0f}, {row['runs']} runs)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
