"""How long ``recorder search`` takes over 1,000 indexed sessions.

In a temporary home, recorder records one real session with the indexer on (a
terminal on its own Xvfb), and that session is copied 1,000 times (its parts
hard-linked): each copy has its own id and start time in its ``session.json``,
is in recorder's catalog, and has a text index of realistic size in the
index's own schema (``--rows`` lines of text read per session, generated words,
hex codes, hostnames as text_corpus.py makes them; 20 different indexes
shared round-robin), its ``text_index`` entry hashed as recorder writes it.
One token is put in one session only. Then ``recorder search`` is run for
each query in turn, ``--rounds`` times (the first run of all, which also
builds search's cache of the sessions, reported apart), and its wall time
and CPU seconds (wait4) are reported, with those of a search where there is no
session at all (starting Python, recorder and its plugins). recorder runs with
its modules compiled (``PYTHONPYCACHEPREFIX`` in the system's temporary folder), as an
installed recorder has them. Files are in the page cache (written
just before): a search after a reboot reads them from disk first.

    python benchmarks/text_search_latency.py --sessions 1000 --rows 3000 --json benchmarks/results/text-search.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from compare_ffmpeg import RECORDER, start_xvfb
from text_corpus import Words

from recorder.store import text_index
from recorder.store.text_norm import normalize

PYCACHE = Path(tempfile.gettempdir()) / "recorder-bench-pycache"
RARE = "0x80070005"
QUERIES = [RARE, '"access is denied"', "regedit*", "zzzzunseen"]


def record_template(home: Path) -> Path:
    """A real session recorded with the indexer on: the model of every copy."""
    config = home / "bench.toml"
    config.write_text('[profiles.rep]\nfps = 30\nguards = []\nnotifiers = []\nindexer = "tesseract"\n',
                      encoding="utf-8")
    xvfb, display = start_xvfb("1280x800")
    env = dict(os.environ, DISPLAY=display, HOME=str(home))
    term = subprocess.Popen(["xterm", "-e", "sh", "-c", "ls -l /usr/bin | head -30; exec sleep 60"], env=env)
    try:
        time.sleep(1.5)
        out = subprocess.run([str(RECORDER), "--profile", "rep", "--config", str(config), "--duration", "4",
                              "--new-session"], env=env, capture_output=True, text=True, encoding="utf-8",
                             check=True).stdout
    finally:
        term.send_signal(signal.SIGTERM)
        term.wait()
        xvfb.send_signal(signal.SIGTERM)
        xvfb.wait()
    return Path(out.strip())


def make_index(path: Path, rows: int, seed: int, extra: list[str] = ()) -> None:
    words = Words(seed)
    db = text_index.open_for_writing(path, "tesseract", "eng")
    lines = [words.line(2, 9, 100) for _ in range(rows)] + list(extra)
    phrases = ["Error 0x80004005: access is denied", "regedit.exe HKEY_LOCAL_MACHINE\\Software", "Ready"]
    lines += [phrases[i % 3] for i in range(rows // 200)]
    random.Random(seed).shuffle(lines)
    db.execute("BEGIN")
    db.executemany('INSERT INTO seen(text, norm, part, "offset", x, y, w, h, confidence) VALUES (?,?,?,?,?,?,?,?,?)',
                   [(line, normalize(line), "part-001.mp4", round(i * 0.61, 3), 100, 100 + (i % 40) * 17,
                     7 * len(line), 15, 0.9) for i, line in enumerate(lines)])
    db.execute("INSERT INTO progress(part, indexed_to, complete) VALUES ('part-001.mp4', ?, 1)", (rows * 0.61,))
    db.execute("COMMIT")
    db.close()


def build(home: Path, template: Path, sessions: int, rows: int) -> dict:
    manifest = json.loads((template / "session.json").read_text(encoding="utf-8"))
    models = home / "models"
    models.mkdir()
    for k in range(20):
        make_index(models / f"{k}.sqlite", rows, k)
    rare_at = sessions // 2
    make_index(models / "rare.sqlite", rows, rare_at % 20, [f"Error {RARE}: Access is denied"])
    root = template.parent
    catalog_path = home / ".local/state/recorder/catalog.json"
    catalog = json.loads(catalog_path.read_text(encoding="utf-8"))
    rng = random.Random(1000)
    start = datetime.fromisoformat(manifest["started_at"]) - timedelta(days=90)
    sizes = []
    for i in range(sessions):
        session_id = uuid.UUID(int=rng.getrandbits(128)).hex
        began = start + timedelta(hours=2 * i)
        folder = root / f"{began:%Y-%m-%d_%H-%M-%S}_rep_{session_id[:8]}"
        folder.mkdir(mode=0o700)
        for part in manifest["parts"]:
            os.link(template / part["file"], folder / part["file"])
        index = folder / "text-index.sqlite"
        shutil.copyfile(models / ("rare.sqlite" if i == rare_at else f"{i % 20}.sqlite"), index)
        os.chmod(index, 0o600)
        data = index.read_bytes()
        sizes.append(len(data))
        copy = dict(manifest, session_id=session_id, started_at=began.isoformat(),
                    ended_at=(began + timedelta(minutes=30)).isoformat(),
                    text_index=dict(manifest["text_index"], size=len(data), sha256=hashlib.sha256(data).hexdigest()))
        (folder / "session.json").write_text(json.dumps(copy), encoding="utf-8")
        os.chmod(folder / "session.json", 0o600)
        catalog[session_id] = {"folder": str(folder), "profile": "rep"}
    catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
    return {"sessions": sessions + 1, "rows_per_index": rows, "index_bytes_median": statistics.median(sizes),
            "index_bytes_total": sum(sizes)}


def env_for(home: Path) -> dict:
    """recorder's environment: this home, and Python's compiled modules kept (as an installed
    recorder has them: pip compiles them at install) outside the source tree."""
    env = dict(os.environ, HOME=str(home), PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def search(home: Path, query: str) -> dict:
    """What ``search`` answers: its exit status and how many moments it lists."""
    done = subprocess.run([str(RECORDER), "search", query], env=env_for(home),
                          capture_output=True, text=True, encoding="utf-8", errors="replace")
    return {"exit": done.returncode, "hits": len(done.stdout.splitlines()), "stderr": done.stderr[-200:]}


def timed(home: Path, query: str) -> dict:
    """``search`` with its CPU seconds (wait4 on the child)."""
    env = env_for(home)
    started = time.monotonic()
    proc = subprocess.Popen([str(RECORDER), "search", query], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    return {"query": query, "wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "exit": os.waitstatus_to_exitcode(status), "stderr": proc.stderr.read().decode()[-200:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=3000, help="lines of text read per session")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "empty").mkdir()
        timed(home / "empty", RARE)  # Python compiles recorder's modules once
        empty = [timed(home / "empty", RARE) for _ in range(args.rounds)]  # what search costs before any session
        template = record_template(home)
        made = build(home, template, args.sessions, args.rows)
        print(json.dumps(made), flush=True)
        first = timed(home, RARE)  # builds search's cache of the sessions
        print("first", json.dumps(first), flush=True)
        hits = {q: search(home, q) for q in QUERIES}
        runs = []
        for round_ in range(args.rounds):
            for query in QUERIES:
                runs.append({"round": round_ + 1, **timed(home, query)})
                print(json.dumps(runs[-1]), flush=True)
        summary = [{"query": q, "hits": hits[q]["hits"], "exit": hits[q]["exit"],
                    "wall_s_median": statistics.median(r["wall_s"] for r in runs if r["query"] == q),
                    "wall_s_max": max(r["wall_s"] for r in runs if r["query"] == q),
                    "cpu_s_median": statistics.median(r["cpu_s"] for r in runs if r["query"] == q)} for q in QUERIES]
        version = subprocess.run([str(RECORDER), "--version"], capture_output=True, text=True, encoding="utf-8")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    for line in summary:
        print(json.dumps(line))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "recorder": version.stdout.strip(), "args": vars(args) |
                                         {"json": str(args.json)}, "made": made, "first": first,
                                         "no_session": {"wall_s_median": statistics.median(r["wall_s"] for r in empty),
                                                        "cpu_s_median": statistics.median(r["cpu_s"] for r in empty)},
                                         "summary": summary, "runs": runs}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
