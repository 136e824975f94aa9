"""What watching a session live costs the recording, and how far behind the live page is.

Records the same screen (Xvfb, an xterm printing tokens, and with --motion a running
clock: tests/live_screen.py) through the real recorder (mss source, h264) for --seconds,
once without a viewer and once with ``recorder play --live`` served to headless
Chromium (system chromium through Playwright, as the tests). For each run: the
recorder's CPU seconds (from /proc/PID/stat, children included), its dropped frames
(session.json), and with the viewer the CPU of the live command and the delays from a
token printed on the screen to the page showing it (read back from the <video>).

    python benchmarks/live_cost.py --json benchmarks/results/live.json
    python benchmarks/live_cost.py --still --json benchmarks/results/live-still.json
    python benchmarks/live_cost.py --still --h264-lookahead 0     # a still screen, no encoder lookahead
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from live_screen import SEEN, Screen, new_token, rgb  # noqa: E402

RECORDER = Path(sys.executable).with_name("recorder")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its waited-for children (utime stime cutime cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


def env_for(home: Path, display: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "RECORDER_"))}
    env.pop("DISPLAY", None)
    env.update(HOME=str(home), XDG_CONFIG_DIRS=str(home / "site-config"))
    if display:
        env["DISPLAY"] = display
    return env


def one_run(root: Path, seconds: float, watch: bool, motion: bool, lookahead: float | None, tokens: int) -> dict:
    home = root / ("watched" if watch else "alone")
    home.mkdir()
    screen = Screen(home, motion=motion)
    config = home / "bench.toml"
    text = "[profiles.rep]\nnotifiers = []\n"
    if lookahead is not None:
        text += f"[profiles.rep.h264]\nlookahead = {lookahead}\n"
    config.write_text(text, encoding="utf-8")
    recorder = subprocess.Popen([str(RECORDER), "--profile", "rep", "--source", "mss", "--config", str(config),
                                 "--duration", str(seconds)], env=env_for(home, screen.display),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
    subprocess.run([str(RECORDER), "status", "--json", "--wait", "20"], env=env_for(home), capture_output=True)
    started = time.monotonic()
    result: dict = {"viewer": watch}
    live = None
    delays: list[float] = []
    try:
        if watch:
            live = subprocess.Popen([str(RECORDER), "play", "--live", "--no-open"], env=env_for(home),
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
            url = live.stdout.readline().strip()
            delays = _watch(url, screen, started + seconds - 3, tokens)
        else:
            rng = random.Random()
            while time.monotonic() < started + seconds - 3:  # the same screen changes, nobody watching
                time.sleep(rng.uniform(1.0, 2.5))
                screen.show(new_token())
        cpu = cpu_seconds(recorder.pid)
        out, _ = recorder.communicate(timeout=seconds + 60)
        if live is not None:
            result["live_command_cpu_s"] = round(cpu_seconds(live.pid), 2)
            live.send_signal(signal.SIGINT)
            live.wait(20)
    finally:
        screen.close()
    folder = Path(out.strip().splitlines()[-1])
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    result.update(recorder_cpu_s=round(cpu, 2), recorded_s=manifest["duration"], frames=manifest["frames"],
                  dropped_frames=manifest["dropped_frames"])
    if delays:
        result["token_delay_s"] = {"n": len(delays), "median": round(statistics.median(delays), 3),
                                   "max": round(max(delays), 3), "min": round(min(delays), 3)}
    return result


def _watch(url: str, screen: Screen, until: float, tokens: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    delays, rng = [], random.Random()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                    args=CHROMIUM_ARGS)
        page = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 720}).new_page()
        page.goto(url)
        page.wait_for_function("window.live && live.fed && replay.presented > 0", timeout=20000)
        while time.monotonic() < until - 6 and len(delays) < tokens:
            time.sleep(rng.uniform(1.0, 2.5))
            token = new_token()
            at = screen.show(token)
            while page.evaluate(SEEN, [rgb(token)]) != [0, 1, 2, 3] and time.monotonic() - at < 10:
                time.sleep(0.02)
            delays.append(time.monotonic() - at)
        while time.monotonic() < until:  # watching to the end, as a supervisor would
            time.sleep(0.5)
        browser.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind, alternating")
    parser.add_argument("--tokens", type=int, default=12, help="tokens timed per watched run")
    parser.add_argument("--still", action="store_true", help="no running clock: a still screen between tokens")
    parser.add_argument("--h264-lookahead", type=float, default=None, help="the profile's h264 lookahead")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="live-cost-") as tmp:
        for index in range(args.rounds):
            for watch in (False, True):
                root = Path(tmp) / f"{index}-{int(watch)}"
                root.mkdir()
                run = one_run(root, args.seconds, watch, not args.still, args.h264_lookahead, args.tokens)
                print(json.dumps(run), flush=True)
                runs.append(run)

    def mean(key: str, watch: bool) -> float:
        return round(statistics.mean(r[key] for r in runs if r["viewer"] == watch), 3)

    delays = [r["token_delay_s"] for r in runs if "token_delay_s" in r]
    summary = {
        "seconds": args.seconds, "rounds": args.rounds, "screen": "still" if args.still else "motion",
        "h264_lookahead": args.h264_lookahead, "cpu_count": os.cpu_count(),
        "recorder_cpu_s": {"alone": mean("recorder_cpu_s", False), "watched": mean("recorder_cpu_s", True)},
        "dropped_frames": {"alone": sum(r["dropped_frames"] for r in runs if not r["viewer"]),
                           "watched": sum(r["dropped_frames"] for r in runs if r["viewer"])},
        "live_command_cpu_s": mean("live_command_cpu_s", True),
        "token_delay_s": {"median": statistics.median(d["median"] for d in delays),
                          "max": max(d["max"] for d in delays)},
        "runs": runs,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
