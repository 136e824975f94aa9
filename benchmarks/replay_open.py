"""The replay page of a long session: how fast it opens and seeks, and what its thumbnails cost.

Records a synthetic three-hour session of ten parts through the real recorder
at 1080p (the synthetic source faster than real time, ``realtime = false``, at
2 fps: a heartbeat a frame and so a fragment every 0.5 s, as a real session has,
with a new picture every ``--hold`` frames, so the session has still stretches;
``--fps 15 --hold 1`` is motion all along instead, the worst case for seeking:
a browser decodes from the keyframe before the target, up to 10 s of frames),
then:

- builds the page with ``recorder play --no-open`` (thumbnails made) and again
  (thumbnails reused), and times making the thumbnails alone;
- opens it in Chromium (system chromium through Playwright, as the tests do)
  and times page open to the first frame shown, then seeks across parts and
  within one, each timed from the seek to the first frame shown there.

    python benchmarks/replay_open.py --json benchmarks/results/replay_open.json
    python benchmarks/replay_open.py --keep /tmp/three-hours   # reuse the session next time

Frames shown are counted with requestVideoFrameCallback, in the page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORDER = Path(sys.executable).with_name("recorder")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files"]

# A seek from the page's own scripts, timed to the first frame the browser shows there.
SEEK = """async ([t]) => {
  const before = replay.presented, started = performance.now();
  replay.seek(t);
  const p = replay.place(t, 1), offset = p.offset;
  while (!(replay.part === p.index && replay.presented > before && Math.abs(replay.presentedAt - offset) < 0.6)) {
    await new Promise(resolve => setTimeout(resolve, 0));
    if (performance.now() - started > 30000) return -1;
  }
  return performance.now() - started;
}"""


def record(home: Path, seconds: float, parts: int, size: str, hold: int, fps: float) -> Path:
    width, height = size.split("x")
    config = home / "long.toml"
    config.write_text(f"[profiles.rep]\nfps = {fps}\nsource = \"synthetic\"\nguards = []\nnotifiers = []\n"
                      f"max_part_duration = {seconds / parts + 1:.0f}\n"
                      f"[profiles.rep.synthetic]\nwidth = {width}\nheight = {height}\nchanges = true\n"
                      f"realtime = false\nhold = {hold}\n")
    out = subprocess.run([str(RECORDER), "--profile", "rep", "--config", str(config), "--duration", str(seconds),
                          "--new-session"], env=dict(os.environ, HOME=str(home)), capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"recorder failed ({out.returncode}): {out.stderr.strip()}")
    return Path(out.stdout.strip().splitlines()[-1])


def build_page(home: Path, folder: Path) -> tuple[Path, float]:
    started = time.monotonic()
    out = subprocess.run([str(RECORDER), "play", str(folder), "--no-open"], env=dict(os.environ, HOME=str(home)),
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1]), time.monotonic() - started


def thumbnail_cost(home: Path, folder: Path) -> dict:
    """Making the thumbnails alone, in this process (none cached)."""
    os.environ["HOME"] = str(home)  # the replay cache dir is under it
    from recorder.playback import replay, timeline

    line = timeline.load(folder)
    cache = replay.cache_dir(line.manifest.session_id)
    for old in cache.glob("thumbs-*"):
        old.unlink()
    started, cpu = time.monotonic(), time.process_time()
    strips = replay.thumbnails(line, cache)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    count = sum(len(strip["times"]) for strip in strips)
    size = sum(p.stat().st_size for p in cache.glob("thumbs-*.jpg"))
    return {"thumbnails": count, "every_s": replay.thumbnail_every(line.recorded), "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "ms_each": round(1000 * wall / max(1, count), 1),
            "kb_on_disk": round(size / 1024), "strips": len(strips)}


def in_chromium(page_path: Path, rounds: int, seeks: int, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    opens, across, within = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(rounds):
            context = browser.new_context(bypass_csp=True, viewport={"width": 1600, "height": 900})
            page = context.new_page()
            started = time.monotonic()
            page.goto(page_path.as_uri())
            page.wait_for_function("replay.presented > 0", timeout=60000, polling=5)
            wall = time.monotonic() - started
            # the page's own clock: from navigation start to the first frame shown
            first = page.evaluate("replay.firstFrameAt")
            opens.append({"wall_s": round(wall, 3), "in_page_s": round(first / 1000, 3)})
            total, segments = page.evaluate("[replay.total, replay.segments]")
            rng = random.Random(len(opens))
            for _ in range(seeks):
                # to another part, somewhere inside it
                part = rng.choice([i for i in range(len(segments)) if i != page.evaluate("replay.part")])
                seg = segments[part]
                target = seg["start"] + rng.uniform(0.1, 0.95) * seg["duration"]
                across.append(page.evaluate(SEEK, [target]) / 1000)
                # within the same part, far from here
                seg = segments[page.evaluate("replay.part")]
                here = page.evaluate("replay.time()")
                target = seg["start"] + ((here - seg["start"] + seg["duration"] / 2) % seg["duration"]) * 0.98
                within.append(page.evaluate(SEEK, [target]) / 1000)
            context.close()
        browser.close()

    def summary(values: list[float]) -> dict:
        ok = [v for v in values if v >= 0]
        return {"median_s": round(statistics.median(ok), 3), "max_s": round(max(ok), 3), "n": len(values),
                "timed_out": len(values) - len(ok)}

    return {"open": opens, "open_wall_max_s": max(o["wall_s"] for o in opens),
            "seek_to_another_part": summary(across), "seek_within_a_part": summary(within)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3 * 3600, help="recorded seconds")
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=float, default=2.0, help="2: a still screen's heartbeat; 15 with --hold 1: "
                                                                 "motion all along, the slowest to seek in")
    parser.add_argument("--hold", type=int, default=24, help="frames each picture lasts (12 s at 2 fps)")
    parser.add_argument("--rounds", type=int, default=3, help="page opens (a fresh browser context each)")
    parser.add_argument("--seeks", type=int, default=8, help="seeks of each kind per open")
    parser.add_argument("--keep", type=Path, help="a folder to keep the recorded session in and reuse")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.keep or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        found = sorted(home.glob("Documents/SessionRecordings/*/session.json"))
        started = time.monotonic()
        folder = found[-1].parent if found else record(home, args.seconds, args.parts, args.size, args.hold, args.fps)
        recorded_in = None if found else round(time.monotonic() - started, 1)
        manifest = json.loads((folder / "session.json").read_text())
        cost = thumbnail_cost(home, folder)
        for old in Path(home, ".cache").rglob("thumbs-*"):
            old.unlink()
        page_path, cold = build_page(home, folder)
        _, warm = build_page(home, folder)
        browser = in_chromium(page_path, args.rounds, args.seeks, args.chromium)
        result = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "session": {"recorded_s": manifest["duration"], "parts": len(manifest["parts"]),
                        "frames": manifest["frames"], "still_spans": len(manifest.get("still", [])),
                        "events": len(manifest["events"]),
                        "mb": round(sum(p["size"] for p in manifest["parts"]) / 2**20, 1),
                        "recorded_in_s": recorded_in},
            "page_kb": round(page_path.stat().st_size / 1024, 1),
            "build_page_s": {"thumbnails_made": round(cold, 2), "thumbnails_cached": round(warm, 2)},
            "thumbnails": cost,
            **browser,
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
