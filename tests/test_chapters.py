"""Marks, pauses, gaps and resumptions as chapters: in each sealed part (Nero ``chpl``, which
ffprobe, mpv and VLC all list), in a part recovered after kill -9, after a crash at every step of
finishing a part, and in exports (MP4, WebM, WMV). Players run as their users run them; a missing
player fails the test (tests/test_players.py says which package to install)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import child_signals, cli_env, recorder_command
from recorder import sha256_file

FINISH = ["finish:indexed"]  # the crash point of finishing a part (listed in test_crash_points' harness)
X11 = """
[profiles.rep]
fps = 5.0
"""
SYNTHETIC = """
[profiles.rep]
fps = 10.0
[profiles.rep.synthetic]
width = 320
height = 240
"""
CHAT = "Customer: the login page hangs"
IN_PAUSE = "während der Pause: 🔒 typed a password"
REMOTE = "remote control granted"
VLC_CHAPTERS = """-- Print the chapter titles of what VLC opened (its "chapter" variable), then quit.
for _ = 1, 200 do
  local input = vlc.object.input()
  if input and vlc.var.get(input, "state") ~= 0 then
    local ok, values, texts = pcall(vlc.var.get_list, input, "chapter")
    if ok and values and #values > 0 then
      for _, text in ipairs(texts) do io.stdout:write("CHAPTER\\t", text, "\\n") end
      break
    end
  end
  vlc.misc.mwait(vlc.misc.mdate() + 50000)
end
io.stdout:write("END\\n")
io.stdout:flush()
vlc.misc.quit()
"""


def run(home: Path, *args: str, crash: str = "", display: str | None = None, timeout: float = 120):
    extra = {"RECORDER_TEST_CRASH_AT": crash} if crash else {}
    return subprocess.run([recorder_command(), *args], env=cli_env(home, display, **extra), capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout)


def start(home: Path, config: Path, *args: str, crash: str = "", display: str | None = None) -> subprocess.Popen:
    extra = {"RECORDER_TEST_CRASH_AT": crash} if crash else {}
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--duration", "120",
                             *args], env=cli_env(home, display, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    assert run(home, "status", "--json", "--wait", "30").returncode == 0
    return proc


def finished(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out + err


def folder_of(home: Path) -> Path:
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    return folder


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def ffprobe_chapters(path: Path) -> list[tuple[float, str]]:
    assert shutil.which("ffprobe"), "ffprobe is not installed (apt-get install ffmpeg)"
    result = subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)],
                            capture_output=True, text=True, encoding="utf-8", check=True)
    return [(float(c["start_time"]), c["tags"]["title"]) for c in json.loads(result.stdout)["chapters"]]


def titles(path: Path) -> list[str]:
    return [title for _, title in ffprobe_chapters(path)]


def mpv_chapters(path: Path) -> list[tuple[float, str]]:
    assert shutil.which("mpv"), "mpv is not installed (apt-get install mpv)"
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run(["mpv", "--no-config", "--vo=null", "--ao=null", "--frames=1",
                                 "--term-playing-msg=CHAPTERS=${=chapter-list}", str(path)],
                                capture_output=True, timeout=60, env=dict(os.environ, HOME=home))
    line = next(line for line in result.stdout.decode("utf-8").splitlines() if line.startswith("CHAPTERS="))
    return [(c["time"], c["title"]) for c in json.loads(line.removeprefix("CHAPTERS="))]


def vlc_chapters(path: Path) -> list[str]:
    """VLC's own list (its "chapter" variable, as its menus show it), read by a Lua interface."""
    assert shutil.which("cvlc"), "VLC is not installed (apt-get install vlc-bin vlc-plugin-base)"
    with tempfile.TemporaryDirectory() as temp:  # under /tmp, so that VLC's user can reach it
        os.chmod(temp, 0o755)
        scripts = Path(temp, ".local", "share", "vlc", "lua", "intf")
        scripts.mkdir(parents=True)
        (scripts / "chapters.lua").write_text(VLC_CHAPTERS, encoding="utf-8")
        for folder in [scripts, *scripts.parents]:
            if folder == Path(temp).parent:
                break
            folder.chmod(0o755)
        copy = Path(temp) / path.name
        shutil.copyfile(path, copy)
        for file in (copy, scripts / "chapters.lua"):
            file.chmod(0o644)
        command = ["cvlc", "-I", "luaintf", "--lua-intf=chapters", "--no-audio", "--vout=dummy", "--play-and-exit",
                   str(copy)]
        if os.geteuid() == 0:  # VLC refuses to run as root
            nobody = pwd.getpwnam("nobody")
            command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                       *command]
        result = subprocess.run(command, capture_output=True, timeout=60,
                                env={"PATH": os.environ["PATH"], "HOME": temp})
    lines = result.stdout.decode("utf-8").splitlines()
    assert "END" in lines, result.stderr.decode("utf-8", errors="replace")[-2000:]
    return [line.split("\t", 1)[1] for line in lines if line.startswith("CHAPTER\t")]


def check_sealed(home: Path, folder: Path) -> dict:
    """Every part is sealed and its manifest hash is the file's; recorder verify agrees (a session
    recovered after a crash is not complete until it is resumed or closed: verify says so, and only that)."""
    manifest = manifest_of(folder)
    for part in manifest["parts"]:
        assert part["state"] == "sealed", part
        assert part["sha256"] == sha256_file(folder / part["file"]), part["file"]
    verified = run(home, "verify", str(folder))
    lines = verified.stdout.splitlines()
    for part in manifest["parts"]:
        assert any(line.startswith("ok") and f"{part['file']}:" in line and "SHA-256 ok, decodes" in line
                   for line in lines), verified.stdout
    problems = [line.strip() for line in lines if line.startswith("PROBLEM")]
    interrupted = manifest["state"] == "interrupted"
    assert problems == (["PROBLEM  the session is not complete (state 'interrupted')"] if interrupted else []), \
        verified.stdout
    assert verified.returncode == (1 if interrupted else 0), verified.stderr
    return manifest


# -- a session on a real X display: marks, a pause (two parts), stopped -------------------------


@pytest.fixture(scope="module")
def marked(tmp_path_factory, xdisplay):
    root = tmp_path_factory.mktemp("marked")
    home = root / "home"
    home.mkdir()
    config = root / "x11.toml"
    config.write_text(X11, encoding="utf-8")
    proc = start(home, config, "--source", "mss", display=xdisplay.name)
    try:
        time.sleep(1.5)
        assert run(home, "mark", CHAT, "--kind", "chat", "--by", "customer").returncode == 0
        time.sleep(1.5)
        assert run(home, "pause", "--by", "customer", "--reason", "typing a secret").returncode == 0
        time.sleep(1)
        assert run(home, "mark", IN_PAUSE, "--by", "rep").returncode == 0
        time.sleep(1)
        assert run(home, "resume", "--by", "customer").returncode == 0
        time.sleep(1.5)
        assert run(home, "mark", REMOTE, "--kind", "remote-control", "--by", "rep").returncode == 0
        time.sleep(1.5)
        assert run(home, "stop", "--by", "support-tool").returncode == 0
    finally:
        code, output = finished(proc)
    assert code == 0, output
    folder = folder_of(home)
    return home, folder, check_sealed(home, folder)


EXPECTED = [[CHAT, "paused"], [IN_PAUSE, "resumed", REMOTE]]


def test_each_sealed_part_has_its_marks_pause_and_resumption_as_chapters(marked):
    _, folder, manifest = marked
    parts = manifest["parts"]
    assert len(parts) == 2, "the pause cut the recording into two parts"
    assert [titles(folder / part["file"]) for part in parts] == EXPECTED
    events = {e["text"] or e["kind"]: e["t"] for e in manifest["events"]}
    first, second = parts
    chat_at, remote_at = ffprobe_chapters(folder / first["file"])[0][0], ffprobe_chapters(folder / second["file"])[2][0]
    assert abs(chat_at - (events[CHAT] - first["start"])) < 0.01, "a chapter is where its mark was"
    assert abs(remote_at - (events[REMOTE] - second["start"])) < 0.01
    assert ffprobe_chapters(folder / second["file"])[1][0] == 0.0, "the resumption starts the next part"
    assert ffprobe_chapters(folder / first["file"])[1][0] <= first["duration"], "the pause ends the part"


@pytest.mark.parametrize("index", [0, 1])
def test_mpv_lists_the_chapters(marked, index):
    _, folder, manifest = marked
    path = folder / manifest["parts"][index]["file"]
    listed = mpv_chapters(path)
    assert [title for _, title in listed] == EXPECTED[index]
    assert [t for t, _ in listed] == pytest.approx([t for t, _ in ffprobe_chapters(path)], abs=0.001)


@pytest.mark.parametrize("index", [0, 1])
def test_vlc_lists_the_chapters(marked, index):
    _, folder, manifest = marked
    assert vlc_chapters(folder / manifest["parts"][index]["file"]) == EXPECTED[index]


def test_no_chapter_names_the_machine_or_who_marked(marked):
    _, folder, manifest = marked
    every = [title for part in manifest["parts"] for title in titles(folder / part["file"])]
    assert sorted(every) == sorted(title for part in EXPECTED for title in part), "the mark's text, nothing added"
    for secret in (manifest["host"], "support-tool", "typing a secret"):
        assert not any(secret in title for title in every), secret


@pytest.mark.parametrize("fmt, flags", [("mp4", ()), ("mp4", ("--keep-gaps",)), ("webm", ()), ("wmv", ())])
def test_exports_carry_every_chapter_of_the_session(marked, tmp_path, fmt, flags):
    home, folder, manifest = marked
    output = tmp_path / f"session.{fmt}"
    exported = run(home, "export", str(folder), "--format", fmt, "-o", str(output), *flags)
    assert exported.returncode == 0, exported.stderr
    chapters = ffprobe_chapters(output)
    assert [title for _, title in chapters] == [CHAT, "paused", IN_PAUSE, "resumed", REMOTE]
    starts = [start for start, _ in chapters]
    assert starts == sorted(starts) and starts[-1] < float(json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(output)], capture_output=True,
        check=True).stdout)["format"]["duration"])
    if flags:  # the pause is held as a still frame: its chapter starts where it began, "resumed" where it ended
        assert starts[3] - starts[1] == pytest.approx(
            manifest["parts"][1]["start"] - manifest["parts"][0]["start"] - manifest["parts"][0]["duration"], abs=0.2)


def test_only_marks_pauses_gaps_and_resumptions_are_chapters():
    """What recorder and its plugins write about themselves (the window in front, the indicator, a
    legal hold, a stop) would bury the marks: none of it is a chapter."""
    from recorder import Event
    from recorder.session import chapters
    from recorder.testing import make_host

    def event(t: float, kind: str, text: str, by: str) -> Event:
        return Event(t, "", kind, text, by=by)

    timeline = [event(1, "chat", "Customer: hello", "customer"), event(2, "window", "firefox", "window-events"),
                event(3, "hold", "held by rep: audit", "rep"), event(4, "indicator-lost", "gone", "indicator"),
                event(5, "notification", "Recording is paused", "recorder"),
                event(6, "paused", "paused by rep: pw", "rep"),
                event(7, "mark", "", "tool"), event(8, "unpaused", "recording again", "rep"),
                event(9, "end-requested", "stopped by rep", "rep")]
    found = chapters.of_part(timeline, make_host().order, start=0.5, previous_end=None, next_start=None)
    assert [(c.start, c.title) for c in found] == [(0.5, "Customer: hello"), (5.5, "paused"), (6.5, "mark"),
                                                   (7.5, "resumed")]


# -- kill -9, crash points ------------------------------------------------------------------------


def synthetic(tmp_path: Path) -> Path:
    config = tmp_path / "synthetic.toml"
    config.write_text(SYNTHETIC, encoding="utf-8")
    return config


def record_with_marks(home: Path, tmp_path: Path, crash: str = "", *, stop: bool = True) -> subprocess.Popen:
    proc = start(home, synthetic(tmp_path), "--source", "synthetic", "--session-id", "chapters-1", crash=crash)
    time.sleep(1.2)
    assert run(home, "mark", "first mark", "--by", "tool").returncode == 0
    time.sleep(1.2)
    assert run(home, "mark", "", "--kind", "connect", "--by", "tool").returncode == 0  # no text: its kind
    time.sleep(1.2)
    if stop:
        assert run(home, "stop").returncode == 0
    return proc


MARKS = ["first mark", "connect"]


def test_a_part_recovered_after_kill_9_gets_its_chapters(home, tmp_path):
    proc = record_with_marks(home, tmp_path, stop=False)
    proc.send_signal(signal.SIGKILL)
    code, _ = finished(proc)
    assert code == -9
    folder = folder_of(home)
    assert [p.name for p in folder.glob("*.partial")], "the kill left the part unsealed"
    recovered = run(home, "recover")
    assert recovered.returncode == 0, recovered.stderr
    manifest = check_sealed(home, folder)
    [part] = manifest["parts"]
    path = folder / part["file"]
    assert titles(path) == MARKS
    assert [title for _, title in mpv_chapters(path)] == MARKS
    assert vlc_chapters(path) == MARKS
    first = next(e for e in manifest["events"] if e["text"] == "first mark")
    assert ffprobe_chapters(path)[0][0] == pytest.approx(first["t"] - part["start"], abs=0.01)


@pytest.mark.parametrize("point", FINISH + ["seal:closed", "seal:renamed", "seal:hashed", "seal:recorded"])
def test_a_crash_at_each_step_of_sealing_leaves_a_part_that_verifies_with_its_chapters(home, tmp_path, point):
    code, output = finished(record_with_marks(home, tmp_path, point))
    assert code == -9, output
    recovered = run(home, "recover")
    assert recovered.returncode == 0, recovered.stderr
    folder = folder_of(home)
    [part] = check_sealed(home, folder)["parts"]
    assert titles(folder / part["file"]) == MARKS
    assert run(home, "recover").stdout.strip() == "nothing to recover"


@pytest.mark.parametrize("point", FINISH + ["recover:repaired", "recover:renamed", "recover:recorded"])
def test_a_crash_while_recovery_finishes_a_part_is_redone_by_the_next_recovery(home, tmp_path, point):
    code, output = finished(record_with_marks(home, tmp_path, "finish:indexed"))
    assert code == -9, output
    assert run(home, "recover", crash=point).returncode == -9
    again = run(home, "recover")
    assert again.returncode == 0, again.stderr
    folder = folder_of(home)
    [part] = check_sealed(home, folder)["parts"]
    assert titles(folder / part["file"]) == MARKS


def test_an_encrypted_session_has_its_chapters_in_its_exports(home, tmp_path):
    """An encrypted part stays as the age stream wrote it (no chapters of its own: finishing would
    rewrite its start); the key holder's export of the session carries them."""
    assert shutil.which("age-keygen"), "the age tool is installed by .ci/run"
    identity = tmp_path / "keys" / "auditor.key"
    identity.parent.mkdir()
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True,
                               encoding="utf-8").stdout.strip()
    site = home / "site-config" / "recorder"
    site.mkdir(parents=True)
    (site / "recorder.toml").write_text(f'[profiles.rep]\nguards = ["+encrypt"]\n[profiles.rep.encrypt]\n'
                                        f'recipients = ["{recipient}"]\n', encoding="utf-8")
    code, output = finished(record_with_marks(home, tmp_path))
    assert code == 0, output
    folder = folder_of(home)
    [part] = manifest_of(folder)["parts"]
    assert part["file"].endswith(".age") and part["stream"] == "age"
    for fmt in ("mp4", "webm"):
        output_file = tmp_path / f"clear.{fmt}"
        exported = run(home, "export", str(folder), "--format", fmt, "-o", str(output_file), "-i", str(identity),
                       "--decrypted")
        assert exported.returncode == 0, exported.stderr
        assert titles(output_file) == MARKS


def test_a_session_resumed_after_a_kill_has_gap_and_resumed_chapters(home, tmp_path):
    proc = record_with_marks(home, tmp_path, stop=False)
    proc.send_signal(signal.SIGKILL)
    assert finished(proc)[0] == -9
    proc = start(home, synthetic(tmp_path), "--source", "synthetic", "--session-id", "chapters-1")  # recovers, resumes
    time.sleep(1.5)
    assert run(home, "mark", "after the restart", "--by", "tool").returncode == 0
    time.sleep(1)
    assert run(home, "stop").returncode == 0
    code, output = finished(proc)
    assert code == 0, output
    folder = folder_of(home)
    first, second = check_sealed(home, folder)["parts"]
    assert titles(folder / first["file"]) == MARKS, "recovered with its chapters before the session went on"
    expected = ["gap", "resumed", "after the restart"]
    assert titles(folder / second["file"]) == expected
    assert [start for start, _ in ffprobe_chapters(folder / second["file"])][:2] == [0.0, 0.0]
    assert vlc_chapters(folder / second["file"]) == expected
    exported = tmp_path / "session.webm"
    assert run(home, "export", str(folder), "--format", "webm", "-o", str(exported)).returncode == 0
    chapters = ffprobe_chapters(exported)
    assert [title for _, title in chapters] == MARKS + expected
    assert chapters[2][0] == pytest.approx(first["duration"], abs=0.01), "the gap is where the first part ended"


def test_a_mark_is_a_chapter_of_exactly_the_part_it_was_made_in(home, tmp_path):
    """Parts split by duration follow each other: each mark is in one part, at its own time."""
    config = synthetic(tmp_path)
    config.write_text(SYNTHETIC.replace("fps = 10.0", "fps = 10.0\nmax_part_duration = 1.0"), encoding="utf-8")
    proc = start(home, config, "--source", "synthetic")
    for text in ("one", "two", "three", "four"):
        time.sleep(0.7)
        assert run(home, "mark", text, "--by", "tool").returncode == 0
    time.sleep(0.5)
    assert run(home, "stop").returncode == 0
    code, output = finished(proc)
    assert code == 0, output
    folder = folder_of(home)
    manifest = check_sealed(home, folder)
    assert len(manifest["parts"]) >= 3
    marked_at = {e["text"]: e["t"] for e in manifest["events"] if e["kind"] == "mark"}
    found = [(part["start"] + start, title) for part in manifest["parts"]
             for start, title in ffprobe_chapters(folder / part["file"])]
    assert [title for _, title in found] == ["one", "two", "three", "four"]
    for at, title in found:
        assert at == pytest.approx(marked_at[title], abs=0.01), title
