"""recorder against FFmpeg's x11grab and GStreamer's ximagesrc on the same screen, same size, rate, codec and speed.

Starts its own Xvfb screen, puts a workload on it, then runs `recorder`,
`ffmpeg -f x11grab ... -c:v libx264` and `gst-launch-1.0 ximagesrc ... !
x264enc` (with and without ``use-damage``; quantizer 23, GStreamer's nearest
to CRF 23) alternately, several times, and reports
per run CPU seconds per recorded minute (user + system, from wait4), wall
time, peak RSS, frames written, dropped/late frames, MB per minute, the time
recorder took to seal its last part, and the quality of the recording: mean
PSNR and SSIM of luma against screenshots of the same screen taken during
the run (see quality.py); then the median ratios recorder/FFmpeg.

    python benchmarks/compare_ffmpeg.py --seconds 60 --rounds 3 --json benchmarks/results/latest.json

Workloads: animated (FFmpeg's testsrc2 at 1280x720 played by ffplay),
office (a terminal receiving typed text, the mouse moving now and then, by
xdotool), busy (a terminal printing text continuously, a clock window dragged
across the screen and raised, the mouse moving ten times a second: a support
rep at work), idle (nothing changes). GStreamer needs gstreamer1.0-plugins-ugly
(x264enc); without it, ``--peers ffmpeg`` leaves it out.
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
from fractions import Fraction
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
        elif self.name == "busy":
            self.procs.append(subprocess.Popen(["xterm", "-geometry", "120x40+100+100", "-e", "sh", "-c",
                                                "while :; do date +%T.%N; ls -l /usr/bin | head -20; sleep 0.2; done"],
                                               env=self.env))
            self.procs.append(subprocess.Popen(["xterm", "-title", "clock", "-geometry", "30x3+900+200", "-e", "sh",
                                                "-c", "while :; do clear; date +%T; sleep 1; done"], env=self.env))
        time.sleep(2)
        return self

    def busy(self) -> None:
        """The support rep: the mouse moves ten times a second; every 2 s the clock window is
        dragged across the screen for a second and raised."""
        found = subprocess.run(["xdotool", "search", "--name", "^clock$"], env=self.env, capture_output=True,
                               text=True).stdout.split()
        n = 0
        while not self.stop.wait(0.1):
            n += 1
            subprocess.run(["xdotool", "mousemove", str(300 + (n * 37) % 1200), str(200 + (n * 23) % 700)],
                           env=self.env, capture_output=True)
            if found and n % 20 < 10:
                step = n % 20
                subprocess.run(["xdotool", "windowmove", found[0], str(900 - 50 * step), str(200 + 30 * step),
                                "windowraise", found[0]], env=self.env, capture_output=True)

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
        if self.name in ("office", "busy"):
            thread = threading.Thread(target=self.typing if self.name == "office" else self.busy, daemon=True)
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


def peer_result(workload, typing, path: Path, seconds, fps, wall, cpu, rss, shots) -> dict:
    """A peer's run (it writes every frame): the workload stopped, its file counted."""
    workload.stop.set()
    if typing:
        typing.join()
    frames, duration = frames_in(path)
    return {"frames": frames, "dropped": max(0, round(seconds * fps) - frames), "unchanged": 0, "path": path,
            "wall": wall, "cpu": cpu, "rss": rss, "size": path.stat().st_size, "duration": duration,
            "shots": shots}


def run_ffmpeg(display, workload, size, fps, seconds, preset, crf, home, every, options) -> dict:
    path = home / f"ffmpeg-{time.monotonic_ns()}.mp4"
    env = dict(os.environ, DISPLAY=display)
    typing = workload.during()
    out, wall, cpu, rss, shots = measure(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "x11grab",
                                          "-draw_mouse", "0", "-framerate", str(fps), "-video_size", size,
                                          "-i", display, "-t", str(seconds), "-c:v", "libx264", "-preset",
                                          preset, "-crf", str(crf), "-pix_fmt", "yuv420p", str(path)], env,
                                         screen(display, size), every)
    return peer_result(workload, typing, path, seconds, fps, wall, cpu, rss, shots)


def run_gstreamer(display, workload, size, fps, seconds, preset, crf, home, every, options, damage=True) -> dict:
    path = home / f"gst-{time.monotonic_ns()}.mp4"
    env = dict(os.environ, DISPLAY=display)
    typing = workload.during()
    rate = Fraction(fps).limit_denominator(1000)
    out, wall, cpu, rss, shots = measure([
        "gst-launch-1.0", "-q", "-e", "ximagesrc", f"display-name={display}", f"use-damage={str(damage).lower()}",
        "show-pointer=false", f"num-buffers={round(seconds * fps)}", "!",
        f"video/x-raw,framerate={rate.numerator}/{rate.denominator}", "!", "videoconvert", "!",
        "video/x-raw,format=I420", "!", "x264enc", f"speed-preset={preset}", "pass=quant", f"quantizer={crf}",
        "tune=zerolatency", "!", "mp4mux", "!", "filesink", f"location={path}"], env, screen(display, size), every)
    return peer_result(workload, typing, path, seconds, fps, wall, cpu, rss, shots)


def run_gstreamer_full(*args) -> dict:
    return run_gstreamer(*args, damage=False)


PEERS = {"ffmpeg": run_ffmpeg, "gst-damage": run_gstreamer, "gst": run_gstreamer_full}


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
    parser.add_argument("--workloads", default="animated,busy,office,idle")
    parser.add_argument("--peers", default="ffmpeg,gst-damage,gst", help="of: " + ", ".join(PEERS))
    parser.add_argument("--sample-every", type=float, default=3.0, help="seconds between quality screenshots")
    parser.add_argument("--set", action="append", default=[], metavar="COMPONENT.KEY=VALUE",
                        help='a recorder option to try, e.g. h264.tune=\'"stillimage"\' or mss.damage=false')
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for tool in ("Xvfb", "ffmpeg", "ffplay", "xterm", "xdotool"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install xvfb ffmpeg xterm xdotool)")
    peers = args.peers.split(",")
    if any(p.startswith("gst") for p in peers) and subprocess.run(["gst-inspect-1.0", "x264enc"],
                                                                  capture_output=True).returncode:
        sys.exit("GStreamer's x264enc is needed (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good "
                 "gstreamer1.0-plugins-ugly), or --peers ffmpeg")
    rows = []
    for name in args.workloads.split(","):
        xvfb, display = start_xvfb(args.size)
        try:
            with Workload(name, display) as workload, tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                for round_ in range(args.rounds):
                    for tool, run in [("recorder", run_recorder)] + [(p, PEERS[p]) for p in peers]:
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
    summary = [summarize(name, rows, args, peers) for name in args.workloads.split(",")]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}; {args.seconds:g} s per run, {args.rounds} rounds, preset {args.preset}, "
          f"crf {args.crf}" + (f", recorder options {' '.join(args.set)}" if args.set else ""))
    print(table(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "args": vars(args) | {"json": str(args.json)},
                                         "runs": rows, "summary": summary}, indent=2, default=str))


def summarize(name: str, rows: list[dict], args, peers: list[str]) -> dict:
    ours = [r for r in rows if r["workload"] == name and r["tool"] == "recorder"]
    theirs = [r for r in rows if r["workload"] == name and r["tool"] == "ffmpeg"]

    def ratio(key, mine=ours):
        return round(statistics.median(a[key] / b[key] for a, b in zip(mine, theirs) if b[key]), 2)

    others = {peer: [r for r in rows if r["workload"] == name and r["tool"] == peer] for peer in peers
              if peer != "ffmpeg"}

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
            "recorder_seal_s": max(r["seal_s"] for r in ours),
            **{f"{peer}_cpu_ratio": ratio("cpu_s_per_min", runs) for peer, runs in others.items()},
            **{f"{peer}_dropped": max(r["dropped"] for r in runs) for peer, runs in others.items()},
            **{f"{peer}_psnr": median(runs, "psnr") for peer, runs in others.items()}}


def table(summary: list[dict]) -> str:
    lines = [("| workload | size@fps | CPU s/min recorder | CPU s/min FFmpeg | CPU ratio | GStreamer damage / full "
              "CPU ratio | size ratio | peak RSS MiB (ratio) | dropped (rec/ffm) | PSNR dB (rec/ffm) "
              "| SSIM (rec/ffm) | seal s |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        gst = f"{s.get('gst-damage_cpu_ratio', '-')} / {s.get('gst_cpu_ratio', '-')}"
        lines.append(f"| {s['workload']} | {s['size']}@{s['fps']:g} | {s['recorder_cpu_s_per_min']} | "
                     f"{s['ffmpeg_cpu_s_per_min']} | {s['cpu_ratio']} | {gst} | {s['size_ratio']} | "
                     f"{s['recorder_peak_rss_mb']} ({s['rss_ratio']}) | {s['recorder_dropped']}/{s['ffmpeg_dropped']} | "
                     f"{s['recorder_psnr']}/{s['ffmpeg_psnr']} | {s['recorder_ssim']}/{s['ffmpeg_ssim']} | "
                     f"{s['recorder_seal_s']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
