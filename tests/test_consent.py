"""Consent before recording: asked on the terminal or in a dialog; no yes, nothing recorded.

A declined (or unanswered, or unaskable) consent must leave no trace on disk,
exit with its own status, and still reach the support tool: on the control
channel and through the notifiers."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from recorder import hookimpl
from recorder.errors import EXIT_NO_CONSENT, NoConsent
from recorder.testing import TmpSinkPlugin, make_host, record

from chat_server import ChatServer
from conftest import child_signals, cli_env, recorder_command

QUESTION = r"The support session would like to record this screen\..*\(No answer within 30 s counts as no\.\) \[y/N\]: "
AGAIN = r"The support session would like to go on recording this screen.*\[y/N\]: "
RECORD = ("--profile", "customer", "--source", "synthetic", "--duration", "1")


def consent_config(tmp_path: Path, extra: str = "", timeout: float = 30) -> Path:
    config = tmp_path / "consent.toml"
    config.write_text(f'[profiles.customer]\nconsent = "required"\nconsent_timeout = {timeout}\n{extra}', encoding="utf-8")
    return config


def written(home: Path) -> list[str]:
    """Every file under the home, but the profile's lock (taken by every start, holding a pid only)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if not p.is_dir() and p.name != "customer.lock")


def events_of(folder: Path) -> list[dict]:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))["events"]


def recordings(home: Path) -> list[Path]:
    root = home / "Documents" / "SessionRecordings"
    return sorted(root.iterdir()) if root.exists() else []


def test_yes_on_the_terminal_records_and_puts_consent_on_the_timeline(spawn_cli, home, tmp_path):
    child = spawn_cli(*RECORD, "--config", str(consent_config(tmp_path)))
    child.expect(QUESTION)
    assert not recordings(home), "nothing may be created before the answer"
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    [folder] = recordings(home)
    events = events_of(folder)
    kinds = [e["kind"] for e in events]
    assert kinds.index("consent-requested") < kinds.index("consent") < kinds.index("started")
    [given] = [e for e in events if e["kind"] == "consent"]
    assert given["by"] == "customer" and given["time"]
    assert given["data"]["who"] == "customer" and given["data"]["answer"] == "yes"
    assert given["data"]["how"] == "terminal" and "May the screen be recorded?" in given["data"]["question"]
    assert json.loads((folder / "session.json").read_text(encoding="utf-8"))["parts"][0]["frames"] > 0


@pytest.mark.parametrize("answer", ["n", "", "\x03"], ids=["no", "enter", "ctrl-c"])
def test_no_on_the_terminal_writes_nothing_and_tells_the_support_tool(spawn_cli, home, tmp_path, answer):
    """The support tool follows the events on the control channel and hears the chat bridge
    (webhook); a tail of the events file sees the same notification."""
    events_file = tmp_path / "events.jsonl"
    with ChatServer() as chat:
        config = consent_config(tmp_path, f'notifiers = ["+webhook", "+events-file"]\n'
                                          f'[profiles.customer.webhook]\nurl = "{chat.url}"\n'
                                          f'[profiles.customer.events-file]\npath = "{events_file}"\n')
        child = spawn_cli(*RECORD, "--config", str(config))
        child.expect(QUESTION)
        follower = subprocess.Popen([recorder_command(), "events", "--follow", "--json", "--profile", "customer",
                                     "--wait", "20"], env=cli_env(home), stdout=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
        first = json.loads(follower.stdout.readline())  # the history: the question is open
        assert first["type"] == "event" and first["event"]["kind"] == "consent-requested"
        status = subprocess.run([recorder_command(), "status", "--json", "--profile", "customer"],
                                env=cli_env(home), capture_output=True, text=True, timeout=30, encoding="utf-8")
        assert json.loads(status.stdout)["state"] == "waiting-for-consent"
        mark = subprocess.run([recorder_command(), "mark", "too early", "--profile", "customer"],
                              env=cli_env(home), capture_output=True, text=True, timeout=30, encoding="utf-8")
        assert mark.returncode == 2 and "consent to record is asked first" in mark.stderr
        child.send(answer + ("\r" if answer != "\x03" else ""))
        child.expect(pexpect.EOF)
        child.close()
        stream = [json.loads(line) for line in follower.communicate(timeout=30)[0].splitlines()]
        deadline = time.monotonic() + 20
        while not chat.messages and time.monotonic() < deadline:
            time.sleep(0.1)

    assert child.exitstatus == EXIT_NO_CONSENT, child.before
    assert "not recording: The customer declined the recording: nothing is recorded" in child.before
    assert written(home) == [], "a declined consent leaves no folder, journal entry or catalog row"
    assert not (home / "Documents").exists()

    [declined] = [m["event"] for m in stream if m["type"] == "event" and m["event"]["kind"] != "notification"]
    assert declined["kind"] == "consent-declined" and declined["by"] == "customer"
    assert declined["data"]["answer"] == "no" and declined["data"]["how"] == "terminal"
    [told] = [m["notification"] for m in stream if m["type"] == "notification"]
    assert told["text"].startswith("The customer declined the recording") and told["audience"] == ["rep", "customer"]
    assert stream[-1]["type"] == "ended" and stream[-1]["end_reason"] == "no-consent"

    [posted] = chat.messages
    assert posted["text"] == told["text"] and posted["audience"] == ["rep", "customer"]
    [line] = events_file.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["text"] == told["text"]
    assert str(home) not in json.dumps([stream, chat.messages])  # nothing of the machine in what is told


def test_no_answer_in_time_is_no(spawn_cli, home, tmp_path):
    child = spawn_cli(*RECORD, "--config", str(consent_config(tmp_path, timeout=2)))
    child.expect(r"\(No answer within 2 s counts as no\.\) \[y/N\]: ")
    started = time.monotonic()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == EXIT_NO_CONSENT
    assert time.monotonic() - started < 15
    assert "did not answer the recording question within 2 s" in child.before
    assert written(home) == []


def test_nobody_to_ask_is_no_and_the_site_config_can_lock_it(home, tmp_path):
    """No terminal and no display: nobody can say yes. The administrator's lock keeps
    the user from switching consent off with a config of their own."""
    site = home / "site-config" / "recorder"
    site.mkdir(parents=True)
    (site / "recorder.toml").write_text('[profiles.customer]\nconsent = "required"\nlocked = ["consent"]\n', encoding="utf-8")
    mine = tmp_path / "mine.toml"
    mine.write_text('[profiles.customer]\nconsent = "none"\n', encoding="utf-8")
    result = subprocess.run([recorder_command(), *RECORD, "--config", str(mine)], env=cli_env(home),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, encoding="utf-8")
    assert result.returncode == EXIT_NO_CONSENT, result.stderr
    assert "consent" in result.stderr and "locked" in result.stderr  # the ignored attempt is reported
    assert "could not be asked for consent (no terminal or display to ask on)" in result.stderr
    assert [p for p in written(home) if not p.startswith("site-config")] == []


def test_a_resumed_session_asks_again_and_a_no_leaves_it_as_it_was(spawn_cli, home, tmp_path):
    """After a restart another person may be at the machine: consent is asked again. A no
    records nothing and leaves the interrupted session to a later start."""
    config = consent_config(tmp_path)
    resume = ("--profile", "customer", "--source", "synthetic", "--session-id", "support-7", "--config", str(config))
    child = spawn_cli(*resume, "--duration", "60")
    child.expect(QUESTION)
    child.sendline("y")
    deadline = time.monotonic() + 30
    while not list((home / "Documents").glob("SessionRecordings/*/part-001.mp4.partial")):
        assert time.monotonic() < deadline, "recording did not start"
        time.sleep(0.05)
    time.sleep(1)
    child.kill(signal.SIGTERM)  # a restart
    child.expect(pexpect.EOF)
    child.close()
    [folder] = recordings(home)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    journal = sorted((home / ".local" / "state" / "recorder").rglob("*"))
    journal_bytes = {p: p.read_bytes() for p in journal if p.is_file() and p.name != "customer.lock"}

    child = spawn_cli(*resume, "--duration", "1")
    child.expect(AGAIN)
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == EXIT_NO_CONSENT
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert {p: p.read_bytes() for p in journal if p.is_file() and p.name != "customer.lock"} == journal_bytes

    child = spawn_cli(*resume, "--duration", "1")
    child.expect(AGAIN)
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert recordings(home) == [folder]
    kinds = [e["kind"] for e in events_of(folder)]
    assert kinds.count("consent") == 2 and "consent-declined" not in kinds
    assert kinds.index("consent", kinds.index("stopped")) < kinds.index("gap") < kinds.index("resumed")


@pytest.mark.display
@pytest.mark.parametrize("keys, answer", [("alt+a", "yes"), ("Escape", "no")])
def test_the_dialog_asks_on_the_display(home, tmp_path, xdisplay, keys, answer):
    """Without a terminal (started by a support tool) the question is a window on the
    screen, answered with xdotool as the customer would with the keyboard."""
    env = cli_env(home, xdisplay.name)
    proc = subprocess.Popen([recorder_command(), "--profile", "customer", "--config", str(consent_config(tmp_path)),
                             "--duration", "1"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    try:
        xdotool = lambda *args: subprocess.run(["xdotool", *args], env=env, capture_output=True,  # noqa: E731
                                               text=True, timeout=30, encoding="utf-8").stdout
        deadline = time.monotonic() + 30
        while not (window := xdotool("search", "--onlyvisible", "--name", "Screen recording").split()):
            assert time.monotonic() < deadline, "the consent window did not appear"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(0.5)  # let Tk finish laying out the window
        assert not recordings(home)
        for _ in range(5):  # without a window manager a key can go astray before focus settles
            xdotool("windowfocus", "--sync", window[0], "key", keys)
            try:
                proc.wait(3)
                break
            except subprocess.TimeoutExpired:
                continue
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if answer == "no":
        assert proc.returncode == EXIT_NO_CONSENT, err
        assert "The customer declined the recording" in err  # answered, not timed out
        assert written(home) == []
        return
    assert proc.returncode == 0, err
    [folder] = recordings(home)
    assert Path(out.strip()) == folder
    [given] = [e for e in events_of(folder) if e["kind"] == "consent"]
    assert given["data"]["how"] == "dialog" and given["by"] == "customer"


class SupportToolPrompt:
    """A third-party prompt: the support tool asks the customer in its own window."""
    name = "support-tool-prompt"

    def __init__(self, reply, delay: float = 0.0):
        self.reply, self.delay = reply, delay
        self.questions: list[str] = []
        self.seen: list[str] = []

    @hookimpl
    def recorder_prompt_consent(self, session, question, prefer, timeout):
        self.questions.append(question)
        time.sleep(self.delay)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply

    @hookimpl
    def recorder_session_event(self, session, event):
        self.seen.append(event.kind)


def test_a_plugin_can_ask_and_is_waited_for(tmp_settings, monkeypatch):
    """A third-party prompt may take its time (the person is being asked), unlike other hooks."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # no terminal either: only the plugin can ask
    prompt = SupportToolPrompt(("yes", "support tool"), delay=1.5)
    session = record(make_host(TmpSinkPlugin(), prompt), {**tmp_settings, "consent": "required"}, duration=1.0)
    [question] = prompt.questions
    assert "record this screen" in question and session.host not in question
    [given] = [e for e in session.events if e.kind == "consent"]
    assert given.data["how"] == "support tool" and given.by == "rep"
    assert prompt.seen[:3] == ["consent-requested", "consent", "notification"]  # told once recording starts
    assert "started" in prompt.seen


@pytest.mark.parametrize("reply", [True, ("maybe", "x"), None, RuntimeError("support tool offline")],
                         ids=["not-a-pair", "unknown-answer", "cannot-ask", "raises"])
def test_anything_but_yes_is_no(tmp_settings, tmp_path, monkeypatch, reply):
    monkeypatch.delenv("DISPLAY", raising=False)  # no terminal, no display: no other prompt can ask
    monkeypatch.setattr("sys.stdin", io.StringIO())
    prompt = SupportToolPrompt(reply)
    with pytest.raises(NoConsent) as refused:
        record(make_host(TmpSinkPlugin(), prompt), {**tmp_settings, "consent": "required"}, duration=1.0)
    assert refused.value.answer == ("no-prompt" if reply is None or isinstance(reply, Exception) else "no")
    assert not (tmp_path / "sessions").exists() or not list((tmp_path / "sessions").iterdir())
    assert prompt.seen == []  # plugins hear of events only once recording starts
