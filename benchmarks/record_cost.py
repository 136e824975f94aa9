"""What a recording costs the machine: CPU seconds per recorded minute, peak RSS,
dropped frames and output size, for the screen showing an animation or nothing.

Starts its own Xvfb screen (and ffplay's testsrc2 for the animated workload),
runs the installed ``recorder`` command on it, and measures the child process
with wait4's resource usage. Usage:

    python benchmarks/record_cost.py [--seconds 30] [--size 1920x1080] [--fps 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_xvfb(size: str) -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24",
                             "-nolisten", "tcp"], pass_fds=[write], stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        return proc, ":" + pipe.readline().strip()


def run(workload: str, seconds: float, size: str, fps: float) -> dict:
    xvfb, display = start_xvfb(size)
    env = dict(os.environ, DISPLAY=display, SDL_AUDIODRIVER="dummy")
    player = None
    if workload == "animated":
        player = subprocess.Popen(["ffplay", "-loglevel", "quiet", "-f", "lavfi", "-i",
                                   "testsrc2=size=1280x720:rate=30", "-an", "-noborder"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
    with tempfile.TemporaryDirectory() as home:
        env["HOME"] = home
        recorder = Path(sys.executable).with_name("recorder")
        proc = subprocess.Popen([str(recorder), "--profile", "rep", "--fps", str(fps),
                                 "--duration", str(seconds)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        folder = Path(proc.stdout.read().decode().strip())
        manifest = json.loads((folder / "session.json").read_text())
    for child in filter(None, (player, xvfb)):
        child.send_signal(signal.SIGTERM)
        child.wait()
    minutes = manifest["duration"] / 60
    size_bytes = sum(part["size"] for part in manifest["parts"])
    return {
        "workload": workload, "size": size, "fps": fps, "seconds": seconds,
        "exit_status": os.waitstatus_to_exitcode(status),
        "cpu_s_per_min": round((usage.ru_utime + usage.ru_stime) / minutes, 2),
        "user_s_per_min": round(usage.ru_utime / minutes, 2),
        "system_s_per_min": round(usage.ru_stime / minutes, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "frames": manifest["frames"], "dropped": manifest["dropped_frames"],
        "mb_per_min": round(size_bytes / 1e6 / minutes, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=float, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [run(w, args.seconds, args.size, args.fps) for w in ("idle", "animated")]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}")
    print("| workload | size | fps | CPU s/min | user | system | peak RSS MB | frames | dropped | MB/min |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['workload']} | {r['size']} | {r['fps']:g} | {r['cpu_s_per_min']} | {r['user_s_per_min']} "
              f"| {r['system_s_per_min']} | {r['peak_rss_mb']} | {r['frames']} | {r['dropped']} "
              f"| {r['mb_per_min']} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
