"""recorder against FFmpeg's x11grab on the same screen, same size, rate, codec, preset and CRF.

Starts its own Xvfb screen, puts a workload on it, then runs `recorder` and
`ffmpeg -f x11grab ... -c:v libx264` alternately, several times, and reports
per run CPU seconds per recorded minute (user + system, from wait4), wall
time, peak RSS, frames written, dropped/late frames, MB per minute, the time
recorder took to seal its last part, and the quality of the recording: mean
PSNR and SSIM of luma against screenshots of the same screen taken during
the run (see quality.py); then the median ratios recorder/FFmpeg.

    python benchmarks/compare_ffmpeg.py --seconds 60 --rounds 3 --json benchmarks/results/latest.json

Workloads: animated (FFmpeg's testsrc2 at 1280x720 played by ffplay),
office (a terminal receiving typed text, the mouse moving now and then, by
xdotool), idle (nothing changes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
from quality import Sampler, compare

RECORDER = Path(sys.executable).with_name("recorder")


def start_xvfb(size: str) -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            pass_fds=[write], stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        return proc, ":" + pipe.readline().strip()


class Workload:
    def __init__(self, name: str, display: str):
        self.name, self.env = name, dict(os.environ, DISPLAY=display, SDL_AUDIODRIVER="dummy")
        self.procs: list[subprocess.Popen] = []
        self.stop = threading.Event()

    def __enter__(self):
        if self.name == "animated":
            self.procs.append(subprocess.Popen(["ffplay", "-loglevel", "quiet", "-f", "lavfi", "-i",
                                                "testsrc2=size=1280x720:rate=30", "-an", "-noborder"],
                                               env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        elif self.name == "office":
            self.procs.append(subprocess.Popen(["xterm", "-geometry", "120x40+100+100"], env=self.env))
        time.sleep(2)
        return self

    def typing(self) -> None:
        """The office worker: a line of text every second, the mouse every five."""
        n = 0
        while not self.stop.wait(1.0):
            n += 1
            subprocess.run(["xdotool", "type", "--delay", "30", f"echo support session line {n}\n"],
                           env=self.env, capture_output=True)
            if n % 5 == 0:
                subprocess.run(["xdotool", "mousemove", str(200 + 40 * n % 800), str(300 + 13 * n % 400)],
                               env=self.env, capture_output=True)

    def during(self):
        self.stop.clear()
        if self.name == "office":
            thread = threading.Thread(target=self.typing, daemon=True)
            thread.start()
            return thread
        return None

    def __exit__(self, *exc):
        self.stop.set()
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def measure(argv: list[str], env: dict, screen: tuple[str, int, int], every: float):
    """Run a tool to the end: its output, wall time, CPU time, peak RSS, and screenshots taken meanwhile."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = Sampler(*screen, every=every, started=started, pid=proc.pid)
    sampler.start()
    _, _, usage = os.wait4(proc.pid, 0)  # not proc.wait(): wait4 also gives the CPU time
    wall = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    return proc.stdout.read().decode(), wall, usage.ru_utime + usage.ru_stime, sampler.peak_rss_mb, sampler.shots


def frames_in(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        times = [float(f.time) for f in container.decode(video=0)]
        declared = (container.duration or 0) / 1e6
    return len(times), declared or (times[-1] if times else 0.0)


def run_recorder(display, workload, size, fps, seconds, preset, crf, home, every, options) -> dict:
    config = home / "bench.toml"
    tables = {"h264": {"preset": f'"{preset}"', "crf": str(crf)}, "mss": {"cursor": "false"}}
    for assignment in options:
        key, value = assignment.split("=", 1)
        component, key = key.split(".", 1)
        tables.setdefault(component, {})[key] = value
    config.write_text(f"[profiles.rep]\nfps = {fps}\nguards = []\nnotifiers = []\n" + "".join(
        f"[profiles.rep.{component}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
        for component, values in tables.items()))
    env = dict(os.environ, DISPLAY=display, HOME=str(home))
    typing = workload.during()
    out, wall, cpu, rss, shots = measure([str(RECORDER), "--profile", "rep", "--config", str(config),
                                          "--duration", str(seconds), "--new-session"], env, screen(display, size),
                                         every)
    workload.stop.set()
    if typing:
        typing.join()
    folder = Path(out.strip())
    manifest = json.loads((folder / "session.json").read_text())
    path = folder / manifest["parts"][-1]["file"]
    times = {e["kind"]: e["t"] for e in manifest["events"]}
    seal = round(times.get("stopped", 0) - times.get("end-requested", 0), 3)
    return {"frames": manifest["frames"], "dropped": manifest["dropped_frames"], "seal_s": seal,
            "unchanged": manifest["unchanged_frames"], "path": path, "wall": wall, "cpu": cpu, "rss": rss,
            "size": sum(p["size"] for p in manifest["parts"]), "duration": manifest["duration"], "shots": shots}


def run_ffmpeg(display, workload, size, fps, seconds, preset, crf, home, every, options) -> dict:
    path = home / f"ffmpeg-{time.monotonic_ns()}.mp4"
    env = dict(os.environ, DISPLAY=display)
    typing = workload.during()
    out, wall, cpu, rss, shots = measure(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "x11grab",
                                          "-draw_mouse", "0", "-framerate", str(fps), "-video_size", size,
                                          "-i", display, "-t", str(seconds), "-c:v", "libx264", "-preset",
                                          preset, "-crf", str(crf), "-pix_fmt", "yuv420p", str(path)], env,
                                         screen(display, size), every)
    workload.stop.set()
    if typing:
        typing.join()
    frames, duration = frames_in(path)
    return {"frames": frames, "dropped": max(0, round(seconds * fps) - frames), "unchanged": 0, "path": path,
            "wall": wall, "cpu": cpu, "rss": rss, "size": path.stat().st_size, "duration": duration,
            "shots": shots}


def screen(display: str, size: str) -> tuple[str, int, int]:
    width, height = map(int, size.split("x"))
    return display, width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--workloads", default="animated,office,idle")
    parser.add_argument("--sample-every", type=float, default=3.0, help="seconds between quality screenshots")
    parser.add_argument("--set", action="append", default=[], metavar="COMPONENT.KEY=VALUE",
                        help='a recorder option to try, e.g. h264.tune=\'"stillimage"\' or mss.damage=false')
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for tool in ("Xvfb", "ffmpeg", "ffplay", "xterm", "xdotool"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install xvfb ffmpeg xterm xdotool)")
    rows = []
    for name in args.workloads.split(","):
        xvfb, display = start_xvfb(args.size)
        try:
            with Workload(name, display) as workload, tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                for round_ in range(args.rounds):
                    for tool, run in (("recorder", run_recorder), ("ffmpeg", run_ffmpeg)):
                        result = run(display, workload, args.size, args.fps, args.seconds, args.preset,
                                     args.crf, home, args.sample_every, args.set)
                        minutes = result["duration"] / 60 or args.seconds / 60
                        psnr, ssim = compare(result["path"], result["shots"]) or (None, None)
                        rows.append({
                            "workload": name, "tool": tool, "round": round_ + 1,
                            "cpu_s_per_min": round(result["cpu"] / minutes, 2),
                            "wall_s": round(result["wall"], 1), "peak_rss_mb": round(result["rss"], 1),
                            "frames": result["frames"], "unchanged": result["unchanged"],
                            "seal_s": result.get("seal_s"),
                            "dropped": result["dropped"], "mb_per_min": round(result["size"] / 1e6 / minutes, 2),
                            "psnr": psnr, "ssim": ssim, "quality_samples": len(result["shots"]),
                        })
                        print(json.dumps(rows[-1]), flush=True)
        finally:
            xvfb.send_signal(signal.SIGTERM)
            xvfb.wait()
    summary = [summarize(name, rows, args) for name in args.workloads.split(",")]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}; {args.seconds:g} s per run, {args.rounds} rounds, preset {args.preset}, "
          f"crf {args.crf}" + (f", recorder options {' '.join(args.set)}" if args.set else ""))
    print(table(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "args": vars(args) | {"json": str(args.json)},
                                         "runs": rows, "summary": summary}, indent=2, default=str))


def summarize(name: str, rows: list[dict], args) -> dict:
    ours = [r for r in rows if r["workload"] == name and r["tool"] == "recorder"]
    theirs = [r for r in rows if r["workload"] == name and r["tool"] == "ffmpeg"]

    def ratio(key):
        return round(statistics.median(a[key] / b[key] for a, b in zip(ours, theirs) if b[key]), 2)

    def median(runs, key):
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 6) if values else None

    return {"workload": name, "size": args.size, "fps": args.fps,
            "cpu_ratio": ratio("cpu_s_per_min"), "size_ratio": ratio("mb_per_min"), "rss_ratio": ratio("peak_rss_mb"),
            "recorder_cpu_s_per_min": median(ours, "cpu_s_per_min"),
            "ffmpeg_cpu_s_per_min": median(theirs, "cpu_s_per_min"),
            "recorder_peak_rss_mb": max(r["peak_rss_mb"] for r in ours),
            "recorder_dropped": max(r["dropped"] for r in ours), "ffmpeg_dropped": max(r["dropped"] for r in theirs),
            "recorder_psnr": median(ours, "psnr"), "ffmpeg_psnr": median(theirs, "psnr"),
            "recorder_ssim": median(ours, "ssim"), "ffmpeg_ssim": median(theirs, "ssim"),
            "recorder_seal_s": max(r["seal_s"] for r in ours)}


def table(summary: list[dict]) -> str:
    lines = [("| workload | size@fps | CPU s/min recorder | CPU s/min FFmpeg | CPU ratio | size ratio "
              "| peak RSS MiB (ratio) | dropped (rec/ffm) | PSNR dB (rec/ffm) | SSIM (rec/ffm) | seal s |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['workload']} | {s['size']}@{s['fps']:g} | {s['recorder_cpu_s_per_min']} | "
                     f"{s['ffmpeg_cpu_s_per_min']} | {s['cpu_ratio']} | {s['size_ratio']} | "
                     f"{s['recorder_peak_rss_mb']} ({s['rss_ratio']}) | {s['recorder_dropped']}/{s['ffmpeg_dropped']} | "
                     f"{s['recorder_psnr']}/{s['ffmpeg_psnr']} | {s['recorder_ssim']}/{s['ffmpeg_ssim']} | "
                     f"{s['recorder_seal_s']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
