"""Finding the moment (issue 28): ``recorder search`` across the sessions on this machine,
``recorder play --at``, the replay page's search box (real Chromium) and ``search --archive``
(moto's S3 server).

The sessions are really recorded (synthetic source); their text indexes are written here
with the documented schema (docs/search.md), so that what each test finds is known exactly.
The end-to-end test with real OCR of a real screen is in tests/test_text_index.py.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from recorder.store.text_norm import normalize
from recorder.store.text_search import QueryError, parse_query

from conftest import cli_env, recorder_command

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE progress(part TEXT PRIMARY KEY, indexed_to REAL NOT NULL, complete INTEGER NOT NULL);
CREATE VIRTUAL TABLE seen USING fts5(text, norm, part UNINDEXED, offset UNINDEXED,
    x UNINDEXED, y UNINDEXED, w UNINDEXED, h UNINDEXED, confidence UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u202eALERT <img src=x onerror=alert(1)> hostile\x9b31m"


def index_bytes(lines: list[tuple[str, float, tuple[int, int, int, int]]], version: int = 1) -> bytes:
    """A text index holding ``lines`` (text, offset, rect), as SQLite bytes."""
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA + f"PRAGMA user_version = {version};")
    db.executemany("INSERT INTO seen VALUES (?,?,?,?,?,?,?,?,?)",
                   [(text, normalize(text), "part-001.mp4", offset, *rect, 0.93) for text, offset, rect in lines])
    db.commit()
    return bytes(db.serialize())


def write_index(folder: Path, lines, version: int = 1) -> Path:
    path = folder / "text-index.sqlite"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(index_bytes(lines, version))
    return path


def run(home: Path, *args: str, check: int | None = None, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=cli_env(home, **(env or {})), capture_output=True,
                            text=True, encoding="utf-8", timeout=timeout)
    if check is not None:
        assert result.returncode == check, (args, result.stdout, result.stderr)
    return result


def record(home: Path, *args: str, seconds: str = "1.5") -> Path:
    out = run(home, *args, "--source", "synthetic", "--duration", seconds, check=0).stdout
    return Path(out.strip().splitlines()[-1])


class Library:
    """Four sessions recorded in one home, three with an index, one without."""

    def __init__(self, home: Path):
        self.home = home
        self.ticket = record(home, "--profile", "rep", "--label", "ticket=T-1", "--session-id", "SUP-1")
        write_index(self.ticket, [
            ("Error 0x80070005: Access is denied", 1.2, (40, 300, 420, 18)),
            ("Registry Editor - HKEY_LOCAL_MACHINE", 0.4, (0, 0, 380, 20)),
            (HOSTILE, 0.8, (5, 5, 100, 10)),
            ("licence key QX7-ALPHA-99 accepted", 1.0, (10, 100, 300, 16)),
        ])
        self.customer = record(home, "--profile", "customer")
        write_index(self.customer, [
            ("C:\\Windows\\System32\\cmd.exe", 0.5, (0, 0, 250, 16)),
            ("ERROR 0X8OO7OOO5 AGAIN", 0.9, (12, 40, 200, 16)),  # OCR read the zeros as O
            ("set path=C:\\tools", 1.1, (0, 20, 150, 16)),
        ])
        self.other = record(home, "--profile", "rep", "--label", "ticket=T-2")
        write_index(self.other, [("Registry editing is disabled by your administrator", 0.7, (8, 8, 500, 18))])
        self.bare = record(home, "--profile", "rep")  # never indexed

    def search(self, *args: str, check: int | None = None, **kw) -> subprocess.CompletedProcess:
        return run(self.home, "search", *args, check=check, **kw)

    def found(self, *args: str) -> list[dict]:
        done = self.search(*args, "--json")
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    @staticmethod
    def id_of(folder: Path) -> str:
        return json.loads((folder / "session.json").read_text(encoding="utf-8"))["session_id"]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Library:
    home = tmp_path_factory.mktemp("search") / "home"
    home.mkdir()
    return Library(home)


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recorder: error: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


# -- what is found ---------------------------------------------------------------------------

def test_a_code_on_screen_is_found_at_its_moment_with_wall_clock_time_and_snippet(library):
    done = library.search("0x80070005", check=0)
    lines = done.stdout.strip().splitlines()
    ticket, customer = library.id_of(library.ticket), library.id_of(library.customer)
    # both sessions: the customer's screen was read with O for 0, the query typed with zeros finds it
    assert [line.split("@")[0] for line in lines] == sorted([ticket[:8], customer[:8]], key=lambda short: [
        library.ticket, library.customer][[ticket[:8], customer[:8]].index(short)].name)
    first = next(line for line in lines if line.startswith(ticket[:8]))
    manifest = json.loads((library.ticket / "session.json").read_text(encoding="utf-8"))
    wall = datetime.fromisoformat(manifest["started_at"]) + timedelta(seconds=1.2)
    assert first.startswith(f"{ticket[:8]}@1.2  {wall:%Y-%m-%d %H:%M:%S}  00:00:01  rep ")
    assert first.endswith("Error 0x80070005: Access is denied")
    [hit] = library.found("0x80070005", "--profile", "rep")
    assert hit["session"] == ticket and hit["ref"] == f"{ticket}@1.2" and hit["offset"] == 1.2
    assert hit["rect"] == [40, 300, 420, 18] and hit["part"] == "part-001.mp4"
    assert datetime.fromisoformat(hit["time"]) == wall
    assert hit["text"] == "Error 0x80070005: Access is denied"


@pytest.mark.parametrize(("query", "texts"), [
    ('"access is denied"', ["Error 0x80070005: Access is denied"]),
    ('"denied access"', []),  # a phrase is in order
    ("EDITOR", ["Registry Editor - HKEY_LOCAL_MACHINE"]),  # whole words only (not editing)
    ("regist*", ["Registry Editor - HKEY_LOCAL_MACHINE", "Registry editing is disabled by your administrator"]),
    ('"registry edit"*', ["Registry Editor - HKEY_LOCAL_MACHINE", "Registry editing is disabled by your administrator"]),
    ("error again", ["ERROR 0X8OO7OOO5 AGAIN"]),  # every word on the same line
    ("error administrator", []),
    ("qx7-a1pha-99", ["licence key QX7-ALPHA-99 accepted"]),  # l typed as 1
    ("L1CENCE", ["licence key QX7-ALPHA-99 accepted"]),
    ("ci:\\windows", []),
    ("C:\\Windows\\System32", ["C:\\Windows\\System32\\cmd.exe"]),
    ("system32\\cmd.exe", ["C:\\Windows\\System32\\cmd.exe"]),
])
def test_phrases_prefixes_case_and_ocr_confusions(library, query, texts):
    assert sorted(hit["text"] for hit in library.found(query)) == sorted(texts)


def test_filters_profile_label_support_session_and_since(library):
    ticket = library.id_of(library.ticket)
    assert {hit["session"] for hit in library.found("regist*", "--label", "ticket=T-1")} == {ticket}
    assert {hit["session"] for hit in library.found("regist*", "--session-id", "SUP-1")} == {ticket}
    assert library.found("regist*", "--profile", "customer") == []
    assert {hit["profile"] for hit in library.found("error")} == {"rep", "customer"}
    assert library.found("error", "--since", "1h") and library.found("error", "--since", "2000-01-01")
    later = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    done = library.search("error", "--since", later)
    assert done.returncode == 1 and done.stdout.strip() == "no match"
    # --profile before the command name, as for list
    assert run(library.home, "--profile", "customer", "search", "cmd.exe", check=0).stdout.count("@") == 1


def test_no_match_exits_1_and_says_which_sessions_have_no_index(library):
    done = library.search("zebra")
    assert done.returncode == 1 and done.stdout.strip() == "no match"
    assert "1 session(s) have no text index" in done.stderr
    assert library.search("zebra", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize(("args", "words"), [
    (("x", "--since", "last tuesday"), ["--since", "not a date"]),
    (("x", "--label", "ticket"), ["--label", "key=value"]),
    (("x", "--profile", "nobody"), ["unknown profile 'nobody'"]),
    (("x", "--session-id", "bad id!"), ["--session-id"]),
    (('"unclosed',), ["unclosed quote"]),
    (("*** ---",), ["no letter or digit"]),
    (("a" * 100_000,), ["at most 1000"]),
    (("x", "--identity", "/nonexistent/key"), []),
])
def test_bad_input_is_one_line_and_exit_2(library, args, words):
    one_line_error(library.search(*args), *words)


@pytest.mark.parametrize("query", [
    "NEAR(error denied)", "error OR nothing", "error NOT denied", "-error", "^error", "norm:error", "{text}:error",
    "text : error", "error AND", "(error", "error)", "'error'", "error +", '"error" "', "error*denied",
    "*error", "e*", "\u202eerror", "error\x1b[31m", "%", "error; DROP TABLE seen; --", '"0x80070005"*:',
])
def test_fts5_syntax_in_a_query_is_literal_or_one_line_never_a_traceback(library, query):
    done = library.search(query, "--json")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    if done.returncode == 2:
        one_line_error(done)
        return
    assert done.returncode in (0, 1), done.stderr
    for hit in json.loads(done.stdout):  # literal: each found line holds the query's words
        assert any(word.strip("*") in normalize(hit["text"]) for word in re.findall(r"[\w*]+", normalize(query)))


def test_a_nul_or_an_empty_query_is_refused_by_the_parser():
    for query in ("a\0b", "", "   ", '""'):
        with pytest.raises(QueryError):
            parse_query(query)
    assert parse_query('say "it\'s" done*').match() == 'norm : ("say" "1t\'s" "d0ne"*)'


def test_text_from_a_screen_is_escaped_on_the_terminal_and_kept_whole_in_json(library):
    done = library.search("hostile", check=0)
    [line] = done.stdout.strip().splitlines()
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line and "\x9b" not in line
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202eALERT <img src=x onerror=alert(1)> hostile\\x9b31m" in line
    [hit] = library.found("hostile")
    assert hit["text"] == HOSTILE


@pytest.mark.parametrize(("content", "says"), [
    (b"this is not a database at all, just text" * 100, "not a text index"),
    (index_bytes([("Registry key", 0.1, (0, 0, 1, 1))], version=7), "format 7"),
    (b"", "not a text index"),
])
def test_a_corrupt_or_foreign_index_is_named_and_the_other_sessions_still_searched(library, content, says):
    path = library.bare / "text-index.sqlite"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    try:
        done = library.search("registry")
    finally:
        path.unlink()
    assert done.returncode == 0, done.stderr
    assert "Registry Editor" in done.stdout
    [warning] = [line for line in done.stderr.splitlines() if "not searched" in line]
    assert library.id_of(library.bare)[:8] in warning and says in warning and str(path) in warning
    assert "Traceback" not in done.stderr


def test_searching_writes_nothing_in_the_session_folders(library):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in library.home.rglob("*") if p.is_file()
              and "SessionRecordings" in p.parts}
    library.search("error", check=0)
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in library.home.rglob("*") if p.is_file()
             and "SessionRecordings" in p.parts}
    assert before == after
