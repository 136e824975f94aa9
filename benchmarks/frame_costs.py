"""What one frame costs, step by step, at 1920x1080: the figures behind
docs/performance.md's "Where the time goes".

Grabs a whole frame and a 64-row band through mss on its own Xvfb screen,
compares two frames, converts bgra to yuv420p (whole and a band) as the h264
writer does, and encodes with libx264 ultrafast on one thread: a frame that
changed everywhere, a frame where 32x32 pixels changed (with and without
telling libx264 which macroblocks did, see plugins/h264/hints.py), and an
unchanged frame (a heartbeat). CPU time of this process, median of N runs.

    python benchmarks/frame_costs.py --json benchmarks/results/frame_costs.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import mss
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from compare_ffmpeg import start_xvfb  # noqa: E402

from recorder import VideoFormat  # noqa: E402
from recorder.plugins.h264 import H264Encoder, H264Options, convert_rows  # noqa: E402

WIDTH, HEIGHT = 1920, 1080


def timed(step, runs: int) -> float:
    """Median CPU milliseconds of ``step()``."""
    step()  # warm
    costs = []
    for _ in range(runs):
        started = time.process_time()
        step()
        costs.append(time.process_time() - started)
    return round(statistics.median(costs) * 1000, 2)


def encoding(runs: int, hints: bool, change: int | None, content: str) -> float:
    """libx264 on one picture updated between encodes: ``change`` pixels square moved
    each frame (None: the whole picture new each frame, 0: nothing changed)."""
    rng = np.random.default_rng(1)
    if content == "random":
        picture = rng.integers(0, 255, (HEIGHT, WIDTH, 4), dtype=np.uint8)
    else:  # a desktop: flat colour with some text-like detail
        picture = np.full((HEIGHT, WIDTH, 4), 235, np.uint8)
        picture[100:900:20, 100:1500] = 30
    writer = H264Encoder(H264Options(preset="ultrafast", crf=23, hints=hints, threads=1)).open_part(
        Path(f"/tmp/frame-costs-{hints}-{change}-{content}.mp4"),
        VideoFormat(WIDTH, HEIGHT), 30.0)
    canvas = bytearray(picture.tobytes())
    writer.write(canvas, 0.0)
    view = np.frombuffer(canvas, np.uint8).reshape(HEIGHT, WIDTH, 4)
    state = {"n": 0}

    def step():
        state["n"] += 1
        n = state["n"]
        if change is None:
            view[:] = rng.integers(0, 255, view.shape, dtype=np.uint8)
            writer.write(canvas, n / 30)
            return
        if change == 0:
            writer.write(canvas, n / 30, changed=[], rects=[])
            return
        x, y = (n * 37) % (WIDTH - change), (n * 23) % (HEIGHT - change)
        view[y:y + change, x:x + change] = rng.integers(0, 255, (change, change, 4), dtype=np.uint8)
        writer.write(canvas, n / 30, changed=[(y, y + change)], rects=[(x, y, change, change)])

    cost = timed(step, runs)
    writer.close()
    Path(writer.path).unlink(missing_ok=True)
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    xvfb, display = start_xvfb(f"{WIDTH}x{HEIGHT}")
    try:
        subprocess.run(["xsetroot", "-solid", "#3366cc"], env={"DISPLAY": display}, check=False)
        with mss.MSS(display=display) as sct:
            whole = {"left": 0, "top": 0, "width": WIDTH, "height": HEIGHT}
            band = dict(whole, height=64)
            results = {
                "grab whole frame (mss XShm)": timed(lambda: sct.grab(whole).raw, args.runs),
                "grab a 64-row band": timed(lambda: sct.grab(band).raw, args.runs),
            }
            frame, other = sct.grab(whole).raw, bytearray(sct.grab(whole).raw)
    finally:
        xvfb.terminate()
    fmt = VideoFormat(WIDTH, HEIGHT)
    results["compare two frames"] = timed(lambda: frame == other, args.runs)
    results["convert whole frame bgra to yuv420p"] = timed(lambda: convert_rows(frame, fmt, WIDTH, 0, HEIGHT),
                                                           args.runs)
    results["convert a 64-row band"] = timed(lambda: convert_rows(frame, fmt, WIDTH, 0, 64), args.runs)
    for content in ("random", "desktop"):
        results[f"libx264: every pixel new ({content})"] = encoding(args.runs, True, None, content)
        for hints in (False, True):
            label = "with hints" if hints else "without hints"
            results[f"libx264: 32x32 changed, {label} ({content})"] = encoding(args.runs, hints, 32, content)
            results[f"libx264: nothing changed (heartbeat), {label} ({content})"] = encoding(args.runs, hints, 0,
                                                                                             content)
    for name, ms in results.items():
        print(f"| {name} | {ms} ms |")
    if args.json:
        args.json.write_text(json.dumps({"pyav": av.__version__, "ms_cpu_median": results, "runs": args.runs},
                                        indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
