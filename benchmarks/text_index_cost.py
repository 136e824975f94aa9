"""What reading the text on screen costs a recording: CPU while recording, the catch-up after the
end, ``recorder index`` later, and the index's size.

On its own Xvfb screen (1920x1080@30), with the workloads of compare_ffmpeg.py
(busy: the support rep at work; office; animated) and ``bursts`` (a terminal
printing a screenful of new words every 3 s, then still: the most text to read),
recorder runs alternately without and with ``indexer = "tesseract"`` (defaults:
``index_cpu_share`` 0.05, ``index_catch_up`` 120 s), the same profile otherwise.
The process's CPU time is sampled from /proc/PID/stat while it runs; the
sample at the session's ``end-requested`` event splits CPU while recording from
CPU after it (catch-up and sealing); wait4 gives the total. Then ``recorder index
--indexer tesseract`` reads the session recorded without an indexer, as a later
``recorder index`` would: its CPU seconds per recorded minute.

    python benchmarks/text_index_cost.py --seconds 60 --rounds 2 --json benchmarks/results/text-index-cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from compare_ffmpeg import RECORDER, Workload, start_xvfb
from text_corpus import Words
from text_search_latency import env_for

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime, every thread


class Bursts(Workload):
    """A terminal that prints 30 lines of new words every 3 s and is still in between."""

    def __enter__(self):
        script = Path(tempfile.mkdtemp()) / "bursts.py"
        words = Words(28)
        pages = [words.terminal_lines(30, 110) for _ in range(40)]
        script.write_text(f"import time\npages = {pages!r}\nwhile True:\n    for page in pages:\n"
                          "        print('\\n'.join(page), flush=True)\n        time.sleep(3)\n", encoding="utf-8")
        self.procs.append(subprocess.Popen(["xterm", "-geometry", "120x40+100+100",
                                            "-fa", "DejaVu Sans Mono:pixelsize=14",
                                            "-bg", "#1e1e1e", "-fg", "#d3d7cf", "-e", sys.executable, str(script)],
                                           env=self.env))
        time.sleep(2)
        return self


def empty_index_bytes() -> int:
    """The size of an index with nothing read yet (its schema): a session's index is this plus its rows."""
    from recorder.store import text_index

    with tempfile.TemporaryDirectory() as tmp:
        text_index.open_for_writing(Path(tmp) / "i.sqlite", "tesseract", "eng").close()
        return (Path(tmp) / "i.sqlite").stat().st_size


def mb_per_hour(size: int, minutes: float) -> float:
    """An index's size after an hour like these minutes: the schema once, the rows 60 / minutes times."""
    empty = empty_index_bytes()
    return round((empty + max(0, size - empty) / minutes * 60) / 1e6, 2)


def record(display: str, workload: Workload, args, home: Path, indexed: bool) -> dict:
    config = home / "bench.toml"
    config.write_text(f"[profiles.rep]\nfps = {args.fps}\nguards = []\nnotifiers = []\n"
                      + ('indexer = "tesseract"\n' if indexed else "")
                      + '[profiles.rep.h264]\npreset = "ultrafast"\ncrf = 23\n[profiles.rep.mss]\ncursor = false\n',
                      encoding="utf-8")
    env = dict(env_for(home), DISPLAY=display)
    during = workload.during()
    samples: list[tuple[float, float]] = []
    proc = subprocess.Popen([str(RECORDER), "--profile", "rep", "--config", str(config), "--duration",
                             str(args.seconds), "--new-session"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            cpu = cpu_of(proc.pid)
            if cpu is not None:
                samples.append((time.time(), cpu))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, _, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    workload.stop.set()
    if during:
        during.join()
    folder = Path(proc.stdout.read().decode().strip())
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    times = {e["kind"]: e for e in manifest["events"]}
    ended = datetime.fromisoformat(times["end-requested"]["time"]).timestamp()
    recording = max((cpu for t, cpu in samples if t <= ended), default=0.0)
    total = usage.ru_utime + usage.ru_stime
    minutes = manifest["duration"] / 60
    row = {"indexed": indexed, "folder": str(folder), "duration_s": manifest["duration"],
           "cpu_s_per_min": round(total / minutes, 3), "recording_cpu_s_per_min": round(recording / minutes, 3),
           "after_end_cpu_s": round(total - recording, 2),
           "end_s": round(times["stopped"]["t"] - times["end-requested"]["t"], 2),
           "frames": manifest["frames"], "dropped": manifest["dropped_frames"]}
    entry = manifest.get("text_index")
    if entry:
        db = sqlite3.connect(folder / entry["file"])
        row |= {"index_bytes": entry["size"], "index_complete": entry["complete"],
                "index_rows": db.execute("SELECT count(*) FROM seen").fetchone()[0],
                "index_mb_per_hour": mb_per_hour(entry["size"], minutes)}
        db.close()
    return row


def index_later(folder: Path, home: Path, minutes: float) -> dict:
    """``recorder index`` on a session recorded without an indexer: CPU and wall time per recorded minute."""
    env = env_for(home)
    started = time.monotonic()
    proc = subprocess.Popen([str(RECORDER), "index", str(folder), "--indexer", "tesseract"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    entry = json.loads((folder / "session.json").read_text(encoding="utf-8")).get("text_index") or {}
    return {"index_cpu_s_per_min": round((usage.ru_utime + usage.ru_stime) / minutes, 3),
            "index_wall_s_per_min": round(wall / minutes, 3), "index_status": os.waitstatus_to_exitcode(status),
            "index_bytes_later": entry.get("size"), "index_complete_later": entry.get("complete"),
            "index_error": proc.stderr.read().decode()[-300:] if status else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--workloads", default="busy,bursts,office,animated")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows, summary = [], []
    for name in args.workloads.split(","):
        xvfb, display = start_xvfb(args.size)
        try:
            kind = Bursts if name == "bursts" else Workload
            with kind(name, display) as workload, tempfile.TemporaryDirectory() as tmp:
                for round_ in range(args.rounds):
                    for indexed in (False, True):
                        workload.stop.clear()
                        row = {"workload": name, "round": round_ + 1,
                               **record(display, workload, args, Path(tmp), indexed)}
                        if not indexed:
                            row |= index_later(Path(row["folder"]), Path(tmp), row["duration_s"] / 60)
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        finally:
            xvfb.send_signal(signal.SIGTERM)
            xvfb.wait()
        plain = [r for r in rows if r["workload"] == name and not r["indexed"]]
        indexed = [r for r in rows if r["workload"] == name and r["indexed"]]
        ratio = lambda key: [round(b[key] / a[key], 3) for a, b in zip(plain, indexed)]  # noqa: E731
        median = lambda rs, key: statistics.median(r[key] for r in rs)  # noqa: E731
        summary.append({
            "workload": name, "plain_cpu_s_per_min": median(plain, "cpu_s_per_min"),
            "indexed_cpu_s_per_min": median(indexed, "cpu_s_per_min"),
            "recording_ratios": ratio("recording_cpu_s_per_min"), "total_ratios": ratio("cpu_s_per_min"),
            "recording_ratio": statistics.median(ratio("recording_cpu_s_per_min")),
            "total_ratio": statistics.median(ratio("cpu_s_per_min")),
            "dropped_plain": max(r["dropped"] for r in plain), "dropped_indexed": max(r["dropped"] for r in indexed),
            "end_s_plain": median(plain, "end_s"), "end_s_indexed": median(indexed, "end_s"),
            "catch_up_s_per_min": round(statistics.median((b["end_s"] - a["end_s"]) / (b["duration_s"] / 60)
                                                          for a, b in zip(plain, indexed)), 3),
            "index_later_cpu_s_per_min": median(plain, "index_cpu_s_per_min"),
            "index_later_wall_s_per_min": median(plain, "index_wall_s_per_min"),
            "index_mb_per_hour": median(indexed, "index_mb_per_hour"),
            "index_rows_per_min": round(median(indexed, "index_rows") / (median(indexed, "duration_s") / 60), 1)})
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}; {args.seconds:g} s per run, {args.rounds} rounds, {args.size}@{args.fps:g}")
    for line in summary:
        print(json.dumps(line))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "args": vars(args) | {"json": str(args.json)},
                                         "runs": rows, "summary": summary}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
