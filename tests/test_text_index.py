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

# Letters and digits OCR does not confuse with each other (no O/0, I/l/1, S/5, B/8, Z/2, G/6).
ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
FONT = ["-fa", "DejaVu Sans Mono", "-fs", "12"]


def token() -> str:
    return "".join(random.choice(ALPHABET) for _ in range(10))


def terminal(display: str, title: str, script: str, geometry: str, dark: bool = True) -> subprocess.Popen:
    if shutil.which("xterm") is None:
        pytest.fail("xterm is needed (apt-get install xterm)")
    colours = ["-bg", "black", "-fg", "grey85"] if dark else ["-bg", "white", "-fg", "black"]
    return subprocess.Popen(["xterm", "-T", title, *FONT, *colours, "-geometry", geometry, "-e", "sh", "-c", script],
                            env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def printing_when_told(go: Path, text: str) -> str:
    """A shell script that waits for the file ``go``, then prints ``text``."""
    return f"while [ ! -e '{go}' ]; do sleep 0.05; done; echo 'ticket {text} opened'; sleep 600"


def record(home: Path, display: str, seconds: float, extra: str = "", config: str = "") -> subprocess.Popen:
    path = home / "text.toml"
    path.write_text('[profiles.rep]\nfps = 10\nguards = []\nnotifiers = []\n' + extra +
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


def wait_for_window(display: str, title: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"],
                               env=dict(os.environ, DISPLAY=display), capture_output=True, text=True,
                               encoding="utf-8")
        if found.returncode == 0 and found.stdout.split():
            return
        time.sleep(0.1)
    pytest.fail(f"the window {title!r} did not appear")


@pytest.mark.display
def test_a_token_a_terminal_prints_is_found_at_its_moment_and_a_masked_windows_never(still_display, home, tmp_path):
    """A dark terminal prints a random token at a random moment of a 24 s recording: the index
    has it within 2 s of that moment (and verify checks the index's hash); a masked window showing
    another token the whole time never reaches the index."""
    display = still_display.name
    shown, secret, go = token(), token(), tmp_path / "go"
    windows = [terminal(display, "Shell", printing_when_told(go, shown), "70x12+40+40"),
               terminal(display, "Secret vault", f"echo 'vault {secret} key'; sleep 600", "60x8+40+400",
                        dark=False)]
    try:
        for title in ("Shell", "Secret vault"):
            wait_for_window(display, title)
        recording = record(home, display, 24, 'indexer = "tesseract"\n',
                           '[profiles.rep.mss]\nmask_titles = ["*secret*"]\n')
        while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
            assert recording.poll() is None, recording.communicate()
            time.sleep(0.05)
        time.sleep(random.uniform(3, 14))
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
    found = moments(db, shown)
    assert found, f"{shown} is not in the index; it holds {rows_of(db)}"
    assert abs(found[0] - (printed - started_at(manifest))) <= 2.0, (found, printed - started_at(manifest))
    assert not moments(db, secret) and not any(secret in row[0] for row in rows_of(db)), rows_of(db)
    checked = subprocess.run([recorder_command(), "verify", str(folder)], env=cli_env(home), capture_output=True,
                             text=True, encoding="utf-8")
    assert checked.returncode == 0 and "text-index.sqlite: SHA-256 ok" in checked.stdout, checked.stdout
