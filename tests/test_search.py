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
from recorder.store.text_index import SCHEMA
from recorder.store.text_norm import normalize
from recorder.store.text_search import QueryError, parse_query

from conftest import cli_env, recorder_command

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


def record(home: Path, *args: str, seconds: str = "1.5", env: dict | None = None) -> Path:
    out = run(home, *args, "--source", "synthetic", "--duration", seconds, check=0, env=env).stdout
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
    (("x", "--since", "2026"), ["--since", "not a date"]),  # a year, or seconds? said instead of guessed
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


# -- play --at and the replay page's search box (real Chromium) ------------------------------



def open_page(chromium, address: str, errors: list, bypass_csp: bool = True):
    context = chromium.new_context(bypass_csp=bypass_csp, viewport={"width": 1500, "height": 850})
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))
    page.goto(address)
    return context, page


def at_moment(page, t: float) -> None:
    """The page shows ``t``: its clock, and the video element's own currentTime in the part
    (the part's start on the session's timeline, a moment after the session's start, added)."""
    try:
        page.wait_for_function(f"Math.abs(replay.time() - {t}) < 0.08 && Math.abs(document.getElementById('video')"
                               f".currentTime + replay.segments[replay.part].start - {t}) < 0.08 && "
                               "document.getElementById('video').readyState >= 2", timeout=15000)
    except Exception:
        state = page.evaluate("[replay.time(), document.getElementById('video').currentTime, "
                              "document.getElementById('video').readyState, replay.part, replay.segments]")
        raise AssertionError(f"the page is not at {t}: (time, currentTime, readyState, part, segments) = {state}")


@pytest.mark.parametrize("how", [("--at", "0:01.2"), ("--at", "00:00:01.2"), ("--at", "1.2"), ("REF",),
                                 ("--at", "REF"), ("REF", "--search", "0X8OO7OOO5")])
def test_play_at_opens_the_page_at_that_moment(library, chromium, how):
    ticket = library.id_of(library.ticket)
    [hit] = library.found("0x80070005", "--profile", "rep")
    args = [hit["ref"] if arg == "REF" else arg for arg in how]
    if how[0] == "--at" and how[1] != "REF":
        args.insert(0, ticket[:8])
    page_path = Path(run(library.home, "play", *args, "--no-open", check=0).stdout.strip())
    errors: list[str] = []
    context, page = open_page(chromium, page_path.as_uri(), errors)
    try:
        at_moment(page, 1.2)
        if "--search" in how:  # the hit it opened at: listed, and its text outlined
            assert page.input_value("#search") == "0X8OO7OOO5" and page.locator("#found tr.current").count() == 1
            assert page.evaluate("replay.search.outline") is not None
    finally:
        context.close()
    assert errors == []


def test_play_at_refuses_a_moment_it_cannot_open(library):
    short = library.id_of(library.ticket)[:8]
    one_line_error(run(library.home, "play", short, "--at", "2:00:00", "--no-open"), "ends at")
    one_line_error(run(library.home, "play", short, "--at", "soon", "--no-open"), "not a moment")
    other = library.id_of(library.customer)
    one_line_error(run(library.home, "play", short, "--at", f"{other}@1.0", "--no-open"), "not of")


def test_the_search_box_marks_hits_on_the_timeline_lists_them_and_outlines_the_text(library, chromium):
    page_path = Path(run(library.home, "play", library.id_of(library.ticket), "--no-open", check=0).stdout.strip())
    errors: list[str] = []
    context, page = open_page(chromium, page_path.as_uri() + "#t=0.8", errors)
    try:
        at_moment(page, 0.8)  # #t= in the address opens there
        page.fill("#search", "0X8OO7OOO5")  # typed with O for 0: the page matches as search does
        page.keyboard.type(" ")  # keys in the box are the box's: space does not start playing
        assert page.evaluate("document.getElementById('video').paused")
        assert page.text_content("#search-count") == "1 hit(s)"
        marks = page.locator("#bar .hit")
        assert marks.count() == 1
        bar = page.locator("#bar").bounding_box()
        mark = marks.bounding_box()
        total = page.evaluate("replay.total")
        assert abs(mark["x"] + mark["width"] / 2 - (bar["x"] + bar["width"] * 1.2 / total)) < 3
        assert page.locator("#found tr").count() == 1
        assert page.text_content("#found tr td:nth-child(3)") == "Error 0x80070005: Access is denied"
        page.click("#found tr")
        at_moment(page, 1.2)
        outline = page.evaluate("replay.search.outline")
        video = page.locator("#video").bounding_box()
        fit = page.evaluate("replay.fittedBox()")
        width = page.evaluate("document.getElementById('video').videoWidth")
        scale = fit["width"] / width
        # the outline's inside is the rectangle the text was read in, 40,300 420x18 on the screen
        assert abs(outline["x"] + 2 - (video["x"] + fit["x"] + 40 * scale)) < 2
        assert abs(outline["y"] + 2 - (video["y"] + fit["y"] + 300 * scale)) < 2
        assert abs(outline["width"] - 4 - 420 * scale) < 2 and abs(outline["height"] - 4 - 18 * scale) < 2
        page.evaluate("replay.seek(0.1)")
        at_moment(page, 0.1)
        assert page.evaluate("replay.search.outline") is None  # not outlined at another moment
        page.fill("#search", '"registry edit"*')
        assert page.text_content("#search-count") == "1 hit(s)"
        page.fill("#search", "zebra")
        assert page.text_content("#search-count") == "0 hit(s)" and page.locator("#bar .hit").count() == 0
        # text from a screen is shown as text: no element, no script, whatever it holds
        page.fill("#search", "hostile")
        assert page.text_content("#found tr td:nth-child(3)") == HOSTILE
        assert page.locator("#found img").count() == 0
    finally:
        context.close()
    assert errors == []


def test_the_search_box_works_under_the_pages_own_security_policy(library, chromium):
    page_path = Path(run(library.home, "play", library.id_of(library.customer), "--no-open", check=0).stdout.strip())
    errors: list[str] = []
    context, page = open_page(chromium, page_path.as_uri(), errors, bypass_csp=False)
    try:
        page.fill("#search", "c:\\windows")
        page.wait_for_selector("#found tr")
        assert page.text_content("#search-count") == "1 hit(s)"
    finally:
        context.close()
    assert errors == []


def test_a_session_without_an_index_says_so_in_the_box(library, chromium):
    page_path = Path(run(library.home, "play", library.id_of(library.bare), "--no-open", check=0).stdout.strip())
    errors: list[str] = []
    context, page = open_page(chromium, page_path.as_uri(), errors)
    try:
        page.wait_for_selector("#search-count")
        assert page.text_content("#search-count") == "no text index" and page.is_disabled("#search")
    finally:
        context.close()
    assert errors == []


# -- search --archive (moto's S3 server) -----------------------------------------------------

BUCKET = "recordings"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def archive_config(home: Path, endpoint: str) -> None:
    path = home / ".config" / "recorder" / "recorder.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.rep]\nguards = ["+archive"]\n[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n'
                    f'[profiles.rep.archive]\nendpoint = "{endpoint}"\nbucket = "{BUCKET}"\nregion = "us-east-1"\n'
                    'prefix = "site-a/{profile}/{session_id}"\n', encoding="utf-8")


def put_index(client, folder: Path, lines) -> str:
    """What the archive holds of a session's index: the index beside its parts, listed in its
    session.json (as a session indexed before its upload); returns the objects' prefix."""
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    prefix = f"site-a/rep/{manifest['session_id']}"
    data = index_bytes(lines)
    import hashlib

    manifest["text_index"] = {"file": "text-index.sqlite", "sha256": hashlib.sha256(data).hexdigest(),
                              "size": len(data), "engine": "tesseract", "complete": True}
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/text-index.sqlite", Body=data)
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/session.json", Body=json.dumps(manifest).encode())
    return prefix


def test_search_archive_fetches_only_indexes_of_sessions_not_here(tmp_path):
    import shutil

    from s3_server import MotoServer

    server = MotoServer()
    try:
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        home = tmp_path / "home"
        home.mkdir()
        archive_config(home, server.endpoint)
        kept = record(home, "--profile", "rep", "--label", "ticket=T-9", seconds="1", env=CREDENTIALS)
        gone = record(home, "--profile", "rep", "--label", "ticket=T-9", "--session-id", "SUP-77", seconds="1",
                      env=CREDENTIALS)
        assert run(home, "archive", "--drain", env=CREDENTIALS).returncode == 0
        write_index(kept, [("ZEBRA-42 on this machine", 0.5, (1, 2, 3, 4))])
        put_index(client, kept, [("ZEBRA-42 in the bucket", 0.5, (1, 2, 3, 4))])
        put_index(client, gone, [("Deployment ZEBRA-42 failed", 0.6, (10, 20, 200, 16))])
        gone_id = Library.id_of(gone)
        shutil.rmtree(gone)

        here = json.loads(run(home, "search", "zebra-42", "--json", env=CREDENTIALS, check=0).stdout)
        assert [hit["text"] for hit in here] == ["ZEBRA-42 on this machine"]
        done = run(home, "search", "zebra-42", "--archive", "--json", env=CREDENTIALS, check=0)
        found = json.loads(done.stdout)
        # the session here is searched here, not fetched; the one gone is found in the bucket
        assert sorted(hit["text"] for hit in found) == ["Deployment ZEBRA-42 failed", "ZEBRA-42 on this machine"]
        [remote] = [hit for hit in found if hit["session"] == gone_id]
        assert remote["ref"] == f"{gone_id}@0.6" and remote["support_session_id"] == "SUP-77"
        cached = Path(remote["folder"])
        assert cached.is_relative_to(home / ".cache") and sorted(p.name for p in cached.iterdir()) == [
            "session.json", "text-index.sqlite"]  # only the index: no part was fetched
        assert cached.stat().st_mode & 0o777 == 0o700 and (cached / "text-index.sqlite").stat().st_mode & 0o777 == 0o600
        assert not (cached.parent / Library.id_of(kept)).exists()
        # filters apply to archived sessions too
        assert run(home, "search", "zebra-42", "--archive", "--session-id", "OTHER", env=CREDENTIALS).returncode == 1
        assert len(json.loads(run(home, "search", "zebra-42", "--archive", "--label", "ticket=T-9", "--json",
                                  env=CREDENTIALS, check=0).stdout)) == 2
        # an index in the bucket that is not the one its session.json lists is named, never searched
        client.put_object(Bucket=BUCKET, Key=f"site-a/rep/{gone_id}/text-index.sqlite",
                          Body=index_bytes([("ZEBRA-42 planted", 0.1, (0, 0, 1, 1))]))
        (cached / "text-index.sqlite").unlink()
        tampered = run(home, "search", "zebra-42", "--archive", "--json", env=CREDENTIALS, check=0)
        assert [hit["text"] for hit in json.loads(tampered.stdout)] == ["ZEBRA-42 on this machine"]
        [line] = [line for line in tampered.stderr.splitlines() if gone_id[:8] in line]
        assert "not searched" in line and "SHA-256" in line
        # no archive configured: --archive is bad input
        (home / ".config" / "recorder" / "recorder.toml").unlink()
        one_line_error(run(home, "search", "zebra-42", "--archive"), "no profile has an archive")
    finally:
        server.stop()


def test_the_remembered_session_list_follows_session_json_and_survives_damage(library):
    """search remembers what it needs of each session.json (a thousand of them cost more to read
    than the indexes to search); a session.json rewritten is read again, a damaged cache rebuilt."""
    from recorder.session import manifest as manifests

    cache = library.home / ".cache" / "recorder" / "search-sessions.json"
    assert library.found("administrator", "--label", "ticket=T-2")
    assert cache.stat().st_mode & 0o777 == 0o600
    manifest = manifests.read(library.other)
    original = dict(manifest.labels)
    manifest.labels["ticket"] = "T-3"
    manifests.write(library.other, manifest)
    try:
        assert library.found("administrator", "--label", "ticket=T-2") == []
        assert library.found("administrator", "--label", "ticket=T-3")
        cache.write_bytes(b"\x00{not json")
        assert library.found("administrator", "--label", "ticket=T-3")
        assert json.loads(cache.read_bytes())["format"] == 1
    finally:
        manifest.labels.clear()
        manifest.labels.update(original)
        manifests.write(library.other, manifest)


# -- an encrypted index ----------------------------------------------------------------------

def test_an_encrypted_index_is_searched_only_with_the_key(tmp_path, chromium):
    """The index written through the encrypt guard's part stream (store/text_crypt.py): no
    plaintext index on disk; search says once to whom the sessions it could not search are
    encrypted, finds with --identity, names a wrong key; play --identity's page searches it."""
    import shutil

    from recorder.host.manager import load_plugins
    from recorder.session import manifest as manifests
    from recorder.store import text_crypt

    assert shutil.which("age-keygen"), "the age tool is installed by .ci/run"
    secret, other = tmp_path / "auditor.key", tmp_path / "other.key"
    for path in (secret, other):
        subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(secret)], check=True, capture_output=True, text=True,
                               encoding="utf-8").stdout.strip()
    home = tmp_path / "home"
    (home / "site-config" / "recorder").mkdir(parents=True)
    (home / "site-config" / "recorder" / "recorder.toml").write_text(
        f'[profiles.rep]\nguards = ["+encrypt"]\n[profiles.rep.encrypt]\nrecipients = ["{recipient}"]\n'
        "[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n", encoding="utf-8")
    folder = record(home, "--profile", "rep")
    plain = record(home, "--profile", "rep")
    write_index(plain, [("nothing secret here", 0.2, (0, 0, 10, 10))])
    manifest = manifests.read(folder)
    _, stream, parts = text_crypt.protecting_stream(load_plugins(), manifest.parts)
    text_crypt.write_encrypted(folder, stream, parts, index_bytes([("Password reset for SECRET-4711", 0.9,
                                                                   (30, 60, 240, 14))]))
    assert not (folder / "text-index.sqlite").exists()
    short = manifest.session_id[:8]

    without = run(home, "search", "secret-4711")
    assert without.returncode == 1 and without.stdout.strip() == "no match"
    [said] = [line for line in without.stderr.splitlines() if "not searched" in line]
    assert said.startswith("recorder: 1 session(s) not searched") and short in said
    assert f"encrypted to {recipient[:12]}...{recipient[-6:]}" in said  # as play and info name the key
    assert "--identity" in said

    found = json.loads(run(home, "search", "secret-4711", "--json", "--identity", str(secret), check=0).stdout)
    assert [(hit["session"], hit["offset"], hit["text"]) for hit in found] == [
        (manifest.session_id, 0.9, "Password reset for SECRET-4711")]
    assert run(home, "search", "secret", "-i", str(secret), check=0).stdout.count("@") == 2  # plain ones too

    wrong = run(home, "search", "secret-4711", "--identity", str(other))
    assert wrong.returncode == 1
    [named] = [line for line in wrong.stderr.splitlines() if short in line]
    assert "not searched" in named and "Traceback" not in wrong.stderr

    # play --identity: the page (in memory) searches what play decrypted
    proc = subprocess.Popen([recorder_command(), "play", short, "--identity", str(secret), "--no-open",
                             "--search", "secret-4711", "--at", "0.9"], env=cli_env(home), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        page_path = Path(proc.stdout.readline().strip())
        errors: list[str] = []
        context, page = open_page(chromium, page_path.as_uri(), errors)
        try:
            at_moment(page, 0.9)
            assert page.text_content("#search-count") == "1 hit(s)"
            assert page.text_content("#found tr td:nth-child(3)") == "Password reset for SECRET-4711"
        finally:
            context.close()
        assert errors == []
    finally:
        proc.communicate("\n", timeout=30)
    assert not page_path.exists()


# -- end to end: a token a terminal printed, found, and shown by play --at -------------------

@pytest.mark.display
def test_search_finds_the_token_a_terminal_printed_and_play_at_shows_it(still_display, home, tmp_path, chromium):
    """A real recording with the tesseract indexer (as tests/test_text_index.py records it):
    recorder search TOKEN gives that session within 2 s of the moment it was printed, and the
    replay page opened with play --at on the hit shows a frame in which Tesseract reads TOKEN
    inside the outlined rectangle."""
    import io
    import time

    from PIL import Image
    from recorder import Screen
    from recorder.plugins.tesseract import TesseractIndexer, TesseractOptions
    from test_text_index import finished, printing_when_told, record as record_text, started_at, terminal, token

    display = still_display.name
    shown, go = token(), tmp_path / "go"
    window = terminal(display, "Shell", printing_when_told(go, shown), "70x12+40+40")  # once it is shown
    try:
        recording = record_text(home, display, 16, 'indexer = "tesseract"\n')
        while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
            assert recording.poll() is None, recording.communicate()
            time.sleep(0.05)
        time.sleep(3 + 5 * (os.getpid() % 100) / 100)  # a moment the test does not choose
        go.touch()
        printed = time.time()
        folder, manifest, _ = finished(recording)
    finally:
        window.kill()
    moment = printed - started_at(manifest)
    found = json.loads(run(home, "search", shown, "--json", check=0).stdout)
    assert [hit["session"] for hit in found][:1] == [manifest["session_id"]], found
    hit = found[0]
    assert abs(hit["offset"] - moment) <= 2.0 and shown in hit["text"], (hit, moment)

    page_path = Path(run(home, "play", "--at", hit["ref"], "--search", shown, "--no-open", check=0).stdout.strip())
    errors: list[str] = []
    context = chromium.new_context(bypass_csp=True, viewport={"width": 2200, "height": 1400})
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_path.as_uri())
        at_moment(page, float(hit["ref"].rpartition("@")[2]))  # where the hit's reference opens the page
        page.wait_for_function("replay.search.outline !== null && replay.presented > 0")
        box = page.evaluate("replay.search.outline")
        margin = 12
        png = page.screenshot(clip={"x": box["x"] - margin, "y": box["y"] - margin,
                                    "width": box["width"] + 2 * margin, "height": box["height"] + 2 * margin})
    finally:
        context.close()
    assert errors == []
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    b, g, r, a = image.split()[2], image.split()[1], image.split()[0], image.split()[3]
    pixels = Image.merge("RGBA", (b, g, r, a)).tobytes()  # BGRA, as a screen is given to an indexer
    indexer = TesseractIndexer(TesseractOptions())
    try:
        read = indexer.read(Screen(image.width, image.height, image.width * 4, pixels), [])
    finally:
        indexer.close()
    assert any(shown in seen.text.replace(" ", "") for seen in read), [seen.text for seen in read]
