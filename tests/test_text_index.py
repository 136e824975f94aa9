"""Text on screen (issue 28): what recorder reads on settled screens, where it keeps it, and
what never costs the recording.

Real xterms on Xvfb print a random token at a random moment while the real recorder records
with the tesseract indexer (tesserocr, Debian's tesseract-ocr-eng); the session's index is
then queried as recorder search does (``open_index`` and an FTS5 MATCH on the normal form).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import child_signals, cli_env, recorder_command
from installed import install_plugin

# Letters and digits OCR does not confuse with each other (no O/0/9, I/l/1, S/5, B/8, Z/2, G/6).
ALPHABET = "ACDEFHJKMNPRTUVWXY347"
FONT = ["-fa", "DejaVu Sans Mono", "-fs", "12"]


def token() -> str:
    return "".join(random.choice(ALPHABET) for _ in range(10))


def terminal(display: str, title: str, script: str, geometry: str, dark: bool = True) -> subprocess.Popen:
    """An xterm running ``script``, once its window is on the screen. Under load an xterm now and
    then cannot open a display that is up ("Can't open display"): started again, up to 3 times."""
    if shutil.which("xterm") is None or shutil.which("xdotool") is None:
        pytest.fail("xterm and xdotool are needed (apt-get install xterm xdotool)")
    colours = ["-bg", "black", "-fg", "grey85"] if dark else ["-bg", "white", "-fg", "black"]
    for attempt in range(3):
        window = subprocess.Popen(["xterm", "-T", title, *FONT, *colours, "-geometry", geometry, "-e", "sh", "-c",
                                   script], env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
        if wait_for_window(display, title, window):
            return window
    pytest.fail(f"xterm {title!r} exited 3 times: {window.communicate()[1][-300:]}")


def printing_when_told(go: Path, text: str) -> str:
    """A shell script that waits for the file ``go``, then prints ``text``."""
    return f"while [ ! -e '{go}' ]; do sleep 0.05; done; echo 'ticket {text} opened'; sleep 600"


def record(home: Path, display: str, seconds: float, extra: str = "", config: str = "",
           guards: str = "[]") -> subprocess.Popen:
    path = home / "text.toml"
    path.write_text(f'[profiles.rep]\nfps = 10\nguards = {guards}\nnotifiers = []\n' + extra +
                    '[profiles.rep.h264]\npreset = "ultrafast"\n' + config, encoding="utf-8")
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(path), "--duration",
                             str(seconds), "--new-session"], env=cli_env(home, display), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def finished(recording: subprocess.Popen, timeout: float = 120) -> tuple[Path, dict, str]:
    out, err = recording.communicate(timeout=timeout)
    assert recording.returncode == 0, err
    folder = Path(out.strip().splitlines()[-1])
    return folder, json.loads((folder / "session.json").read_text(encoding="utf-8")), err


def started_at(manifest: dict) -> float:
    return datetime.fromisoformat(manifest["started_at"]).timestamp()


def moments(db: sqlite3.Connection, text: str) -> list[float]:
    """The offsets where ``text`` was read, matched as recorder search matches (normal form)."""
    from recorder.store.text_norm import normalize

    return sorted(row[0] for row in db.execute("SELECT offset FROM seen WHERE seen MATCH ?",
                                               (f'norm:"{normalize(text)}"',)))


def rows_of(db: sqlite3.Connection) -> list[tuple]:
    return sorted(db.execute("SELECT text, norm, part, offset, x, y, w, h, confidence FROM seen"))


def wait_for_window(display: str, title: str, window: subprocess.Popen) -> bool:
    """True once the window is shown; False if its xterm exited first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"],
                               env=dict(os.environ, DISPLAY=display), capture_output=True, text=True,
                               encoding="utf-8")
        if found.returncode == 0 and found.stdout.split():
            return True
        if window.poll() is not None:
            return False
        time.sleep(0.1)
    pytest.fail(f"the window {title!r} did not appear")


@pytest.mark.display
def test_a_token_a_terminal_prints_is_found_at_its_moment_and_a_masked_windows_never(still_display, home, tmp_path):
    """A dark terminal prints a random token at a random moment of a 40 s recording: the index
    has it within 2 s of that moment (and verify checks the index's hash); a masked window showing
    another token the whole time never reaches the index."""
    display = still_display.name
    shown, secret, go = token(), token(), tmp_path / "go"
    windows = [terminal(display, "Shell", printing_when_told(go, shown), "70x12+40+40"),
               terminal(display, "Secret vault", f"echo 'vault {secret} key'; sleep 600", "60x8+40+400",
                        dark=False)]
    try:
        recording = record(home, display, 40, 'indexer = "tesseract"\n',
                           '[profiles.rep.mss]\nmask_titles = ["*secret*"]\n')
        while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
            assert recording.poll() is None, recording.communicate()
            time.sleep(0.05)
        time.sleep(random.uniform(3, 34))  # the test: any moment of a 40 s recording
        go.touch()
        printed = time.time()
        folder, manifest, err = finished(recording)
    finally:
        for window in windows:
            window.kill()
    from recorder.store.text_index import open_index

    assert oct((folder / "text-index.sqlite").stat().st_mode & 0o777) == "0o600"
    listed = manifest["text_index"]
    assert listed["file"] == "text-index.sqlite" and listed["complete"] and listed["engine"] == "tesseract", listed
    db = open_index(folder)
    searched = subprocess.run([recorder_command(), "search", shown, "--json"], env=cli_env(home), capture_output=True,
                              text=True, encoding="utf-8")
    assert searched.returncode == 0, (searched.stderr, rows_of(db))
    hits = json.loads(searched.stdout)
    assert hits and {hit["session"] for hit in hits} == {manifest["session_id"]}, hits
    assert abs(hits[0]["offset"] - (printed - started_at(manifest))) <= 2.0, (hits, printed - started_at(manifest))
    hidden = subprocess.run([recorder_command(), "search", secret], env=cli_env(home), capture_output=True,
                            text=True, encoding="utf-8")
    assert hidden.returncode == 1, hidden.stdout
    assert not moments(db, secret) and not any(secret in row[0] for row in rows_of(db)), rows_of(db)
    checked = subprocess.run([recorder_command(), "verify", str(folder)], env=cli_env(home), capture_output=True,
                             text=True, encoding="utf-8")
    assert checked.returncode == 0 and "text-index.sqlite: SHA-256 ok" in checked.stdout, checked.stdout


def printing_at_random(go: Path, text: str) -> str:
    return printing_when_told(go, text)


def run_until_printed(home: Path, display: str, go: Path, seconds: float, recording: subprocess.Popen) -> float:
    """Wait for the recording's first part, then at a random moment have the terminal print."""
    while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4*")):
        assert recording.poll() is None, recording.communicate()
        time.sleep(0.05)
    time.sleep(random.uniform(2, seconds - 8))
    go.touch()
    return time.time()


@pytest.mark.display
def test_an_encrypted_sessions_index_is_never_on_disk_in_the_clear_and_found_only_with_the_key(
        still_display, home, tmp_path):
    """guards = ["encrypt"]: the index is text-index.sqlite.age; not one file the recording left
    (anywhere in the home) holds the token; open_index finds it at its moment with the identity only."""
    from recorder import UsageError
    from recorder.store.text_index import open_index

    assert shutil.which("age-keygen"), "the age tool is installed by .ci/run"
    secret = tmp_path / "keys" / "auditor.key"
    secret.parent.mkdir()
    subprocess.run(["age-keygen", "-o", str(secret)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(secret)], check=True, capture_output=True, text=True,
                               encoding="utf-8").stdout.strip()
    display, shown, go = still_display.name, token(), tmp_path / "go"
    window = terminal(display, "Shell", printing_at_random(go, shown), "70x12+40+40")
    try:
        recording = record(home, display, 20, 'indexer = "tesseract"\n',
                           f'[profiles.rep.encrypt]\nrecipients = ["{recipient}"]\n', guards='["encrypt"]')
        printed = run_until_printed(home, display, go, 20, recording)
        folder, manifest, err = finished(recording)
    finally:
        window.kill()
    names = sorted(p.name for p in folder.iterdir())
    assert "text-index.sqlite" not in names and "text-index.sqlite.age" in names, names
    assert manifest["text_index"]["file"] == "text-index.sqlite.age", manifest["text_index"]
    assert oct((folder / "text-index.sqlite.age").stat().st_mode & 0o777) == "0o600"
    needles = {shown.encode(), shown.lower().encode(), shown.encode("utf-16-le")}
    for path in [p for p in home.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert not any(needle in data for needle in needles), f"{path} holds the token in the clear"
    with pytest.raises(UsageError, match="--identity"):
        open_index(folder)
    db = open_index(folder, str(secret))
    found = moments(db, shown)
    assert found and abs(found[0] - (printed - started_at(manifest))) <= 2.0, (found, rows_of(db))
    # What the CPU budget left unread while recording, recorder index reads with the key, still
    # never in the clear on disk.
    refused = subprocess.run([recorder_command(), "index", str(folder)], env=cli_env(home), capture_output=True,
                             text=True, encoding="utf-8")
    assert refused.returncode == 2 and "--identity" in refused.stderr, refused.stderr
    completed = subprocess.run([recorder_command(), "index", str(folder), "--identity", str(secret)],
                               env=cli_env(home), capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert completed.returncode == 0 and "indexed" in completed.stdout, completed.stderr
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["text_index"]["complete"] and sorted(p.name for p in folder.iterdir()) == names
    for path in [p for p in home.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert not any(needle in data for needle in needles), f"{path} holds the token in the clear"
    assert moments(open_index(folder, str(secret)), shown)
    checked = subprocess.run([recorder_command(), "verify", str(folder)], env=cli_env(home), capture_output=True,
                             text=True, encoding="utf-8")
    assert checked.returncode == 0 and "text-index.sqlite.age: SHA-256 ok" in checked.stdout, checked.stdout


def progress_of(path: Path) -> list[tuple]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
        try:
            return db.execute("SELECT part, indexed_to, complete FROM progress").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return []


@pytest.mark.display
def test_recorder_index_killed_mid_way_resumes_to_the_rows_an_uninterrupted_run_writes(still_display, home, tmp_path):
    """A session recorded without an indexer; recorder index is killed (-9) once it has committed
    some of it; the next recorder index completes it, with exactly the rows recorder index writes
    uninterrupted on a copy of the session."""
    display = still_display.name
    lines = [token() for _ in range(12)]
    script = "; ".join(f"echo 'step {i} {word}'; sleep 0.8" for i, word in enumerate(lines)) + "; sleep 600"
    window = terminal(display, "Shell", script, "70x20+40+40")
    try:
        folder, manifest, err = finished(record(home, display, 12))
    finally:
        window.kill()
    copy = tmp_path / "copy" / folder.name
    shutil.copytree(folder, copy)
    index = folder / "text-index.sqlite"
    env = cli_env(home)
    child = subprocess.Popen([recorder_command(), "index", str(folder)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    deadline = time.monotonic() + 60
    while not any(row[1] > 0 and not row[2] for row in progress_of(index)):
        assert child.poll() is None, ("recorder index ended before it could be killed", child.communicate())
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.3))
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert not all(row[2] for row in progress_of(index)) or not progress_of(index), "killed after it finished"
    again = subprocess.run([recorder_command(), "index", str(folder)], env=env, capture_output=True, text=True,
                           encoding="utf-8", timeout=120)
    assert again.returncode == 0 and "indexed" in again.stdout, again.stderr
    whole = subprocess.run([recorder_command(), "index", str(copy)], env=env, capture_output=True, text=True,
                           encoding="utf-8", timeout=120)
    assert whole.returncode == 0, whole.stderr
    from recorder.store.text_index import open_index

    resumed, uninterrupted = rows_of(open_index(folder)), rows_of(open_index(copy))
    assert resumed == uninterrupted and len(resumed) >= len(lines) // 2, (resumed, uninterrupted)
    read = [word for word in lines if moments(open_index(folder), word)]
    assert len(read) >= len(lines) - 2, (lines, resumed)
    checked = subprocess.run([recorder_command(), "verify", str(folder)], env=env, capture_output=True, text=True,
                             encoding="utf-8")
    assert checked.returncode == 0, checked.stdout


FAILING_INDEXER = '''
from recorder import hookimpl


class Failing:
    def __init__(self, options=None):
        pass

    def read(self, screen, rects):
        raise RuntimeError("the OCR service is down")

    def close(self):
        pass


@hookimpl
def recorder_register_indexers(register):
    register("flaky-ocr", Failing)
'''


@pytest.mark.display
def test_a_failing_third_party_indexer_never_costs_the_recording(still_display, home, tmp_path):
    """Its failure is one line naming it and an event; the recording is whole and verifies."""
    site = install_plugin(tmp_path / "site", "flaky-ocr", FAILING_INDEXER)
    display, go = still_display.name, tmp_path / "go"
    window = terminal(display, "Shell", printing_when_told(go, token()), "70x12+40+40")
    try:
        path = home / "text.toml"
        path.write_text('[profiles.rep]\nfps = 10\nguards = []\nnotifiers = []\nindexer = "flaky-ocr"\n'
                        '[profiles.rep.h264]\npreset = "ultrafast"\n', encoding="utf-8")
        recording = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(path), "--duration",
                                      "8", "--new-session"], env=cli_env(home, display, PYTHONPATH=str(site)),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                     preexec_fn=child_signals)
        time.sleep(3)
        go.touch()
        folder, manifest, err = finished(recording)
    finally:
        window.kill()
    said = [line for line in err.splitlines() if "flaky-ocr" in line]
    assert len(said) == 1 and "the OCR service is down" in said[0] and "recording goes on" in said[0], err
    assert [e["kind"] for e in manifest["events"]].count("indexing-stopped") == 1
    assert manifest["state"] == "complete" and manifest["dropped_frames"] == 0 and manifest["duration"] >= 7.5
    assert not manifest["text_index"]["complete"]
    checked = subprocess.run([recorder_command(), "verify", str(folder)], env=cli_env(home), capture_output=True,
                             text=True, encoding="utf-8")
    assert checked.returncode == 0, checked.stdout
