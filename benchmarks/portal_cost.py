"""CPU of the ``portal`` source on a headless sway, against ``mss`` on the same screen
(through XWayland) and against GStreamer's own ``pipewiresrc ! x264enc`` as the peer.

The content is an X11 terminal (xterm, under XWayland) printing 10 lines a second,
so that all three see the same thing: the portal and the peer see the composited
desktop, mss sees the XWayland root. Each tool records ``--seconds`` at 15 fps,
libx264 preset ultrafast, CRF 23. Measured: the tool's own CPU (user + system,
from its rusage), and the CPU of what serves it (xdg-desktop-portal-wlr, PipeWire,
WirePlumber and sway, which copies the screen into the portal's buffers, for the
portal and the peer; Xwayland and sway for mss), from /proc. ``screen_shown`` is
the share of the last frame that is not black: what the tool saw of the desktop.

    .venv/bin/python benchmarks/portal_cost.py --seconds 20 --json benchmarks/results/portal.json

Needs the Wayland stack of .ci/wayland-setup, and xterm and xhost (.ci/run installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from wayland_desktop import WaylandDesktop  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PRINTER = "i=0; while true; do i=$((i+1)); echo \"line $i of an X11 terminal under XWayland\"; sleep 0.1; done"
CONFIG = '[profiles.rep]\nfps = 15.0\n[profiles.rep.h264]\npreset = "ultrafast"\ncrf = 23\n'


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def find_xwayland(display: str) -> int | None:
    """The Xwayland serving ``display`` (other desktops may run one too)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"Xwayland") and display.encode() in argv:
                return int(entry.name)
    return None


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(run, stack: list[int]) -> dict:
    before, stack_before = children_cpu(), sum(proc_cpu(p) for p in stack)
    started = time.monotonic()
    extra = run()
    wall = time.monotonic() - started
    cpu = children_cpu() - before
    stack_cpu = sum(proc_cpu(p) for p in stack) - stack_before
    return {"cpu_s": round(cpu, 2), "cpu_s_per_min": round(cpu * 60 / wall, 2),
            "serving_cpu_s": round(stack_cpu, 2), "wall_s": round(wall, 1), **extra}


def recorder(args: list[str], env: dict, home: Path) -> dict:
    command = str(Path(sys.executable).with_name("recorder"))
    result = subprocess.run([command, "--profile", "rep", "--config", str(home / "bench.toml"), *args],
                            env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"recorder failed: {result.stderr.strip()}")
    [manifest] = (home / "Documents" / "SessionRecordings").glob("*/session.json")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    shown = shown_fraction(manifest.parent / data["parts"][0]["file"])
    shutil.rmtree(manifest.parent)
    return {"frames": data["frames"], "unchanged": data["unchanged_frames"], "dropped": data["dropped_frames"],
            "bytes": sum(p["size"] for p in data["parts"]), "screen_shown": shown}


def shown_fraction(path: Path) -> float:
    """How much of the last frame is not black: what the tool actually saw of the desktop."""
    import av

    with av.open(str(path)) as container:
        last = None
        for last in container.decode(video=0):
            pass
        picture = last.to_ndarray(format="gray")
    return round(float((picture > 16).mean()), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    desktop = WaylandDesktop(xwayland=True).start()
    work = Path(tempfile.mkdtemp(prefix="portal-cost-"))
    try:
        display_file = desktop.wl_dir / "x-display"
        desktop.swaymsg("exec", f"sh -c 'echo $DISPLAY > {display_file}; xhost +si:localuser:root'")
        desktop.swaymsg("exec", f"xterm -geometry 160x50+0+0 -e sh -c '{PRINTER}'")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (display_file.exists() and display_file.read_text(encoding="utf-8").strip()
                                                   and find_xwayland(display_file.read_text(encoding="utf-8").strip())):
            time.sleep(0.2)
        time.sleep(2)
        display = display_file.read_text(encoding="utf-8").strip() if display_file.exists() else ""
        xwayland = find_xwayland(display) if display else None
        sway = desktop.procs["sway"].pid  # the compositor copies the screen into the portal's buffers
        portal_stack = [desktop.procs[n].pid for n in ("sway", "xdpw", "pipewire", "wireplumber")]

        home = work / "home"
        home.mkdir()
        (home / "bench.toml").write_text(CONFIG, encoding="utf-8")
        skip = ("XDG_", "RECORDER_", "WAYLAND", "DISPLAY")
        base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        base["HOME"] = str(home)
        duration = ["--duration", f"{args.seconds:g}"]
        runs = []
        runs.append({"tool": "recorder --source portal", **measure(
            lambda: recorder(["--source", "portal", *duration], {**base, **desktop.env}, home), portal_stack)})
        if xwayland:
            runs.append({"tool": "recorder --source mss (XWayland)", **measure(
                lambda: recorder(["--source", "mss", *duration], {**base, "DISPLAY": display}, home), [sway, xwayland])})
        runs.append({"tool": "gst-launch-1.0 pipewiresrc ! x264enc", **measure(
            lambda: gst_peer(args.seconds, {**base, **desktop.env}, work), portal_stack)})
    finally:
        desktop.stop()
        shutil.rmtree(work, ignore_errors=True)

    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "args": {"seconds": args.seconds, "rounds": 1, "size": "1280x720", "fps": 15, "preset": "ultrafast",
                       "crf": 23, "content": "xterm under XWayland printing 10 lines/s on headless sway (pixman)"},
              "runs": runs}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


def gst_peer(seconds: float, env: dict, work: Path) -> dict:
    """The peer: the same portal request, then GStreamer reads and encodes the node itself."""
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        from recorder.plugins.portal.screencast import ScreenCast

        cast = ScreenCast()
        stream = cast.start("monitor", "embedded")
        fd = cast.pipewire_fd()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out = work / "peer.mp4"
    try:
        proc = subprocess.Popen(
            ["gst-launch-1.0", "-e", "-q", "pipewiresrc", f"fd={fd}", f"path={stream.node}", "!", "videorate", "!",
             "video/x-raw,framerate=15/1", "!", "videoconvert", "!", "x264enc", "speed-preset=ultrafast",
             "pass=qual", "quantizer=23", "!", "mp4mux", "!", "filesink", f"location={out}"],
            env=env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(seconds)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        cast.close()
        os.close(fd)
    return {"bytes": out.stat().st_size if out.exists() else 0,
            "screen_shown": shown_fraction(out) if out.exists() else 0.0}


if __name__ == "__main__":
    main()
