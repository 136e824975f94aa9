"""The control channel, as a support tool uses it: a real Unix socket, the CLI verbs,
several clients, a stuck subscriber, another Unix user, pause through a kill -9."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from recorder.control import protocol
from recorder.control.server import BACKLOG, ControlServer
from recorder.testing import decode

from conftest import child_signals, cli_env, recorder_command
from test_hostile_folders import OTHER, other_user  # noqa: F401 (a fixture)


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_recorder_left_behind():
    """A failing test must not leave a recorder running into the next one."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def start(home: Path, *args: str, display: str | None = None) -> subprocess.Popen:
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", *args], env=cli_env(home, display),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    STARTED.append(proc)
    return proc


def verb(home: Path, *args: str, check: int | None = 0, timeout: float = 30) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=cli_env(home), capture_output=True, text=True,
                            timeout=timeout, encoding="utf-8")
    if check is not None:
        assert result.returncode == check, (args, result.stdout, result.stderr)
    return result


def status(home: Path, wait: float = 0) -> dict:
    return json.loads(verb(home, "status", "--json", "--wait", str(wait)).stdout)


def manifest_of(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    folder = Path(out.strip().splitlines()[-1])
    return json.loads((folder / "session.json").read_text(encoding="utf-8")) | {"folder": str(folder)}


def kinds(manifest: dict) -> list[str]:
    return [event["kind"] for event in manifest["events"]]


def raw_client(home: Path, profile: str = "rep") -> socket.socket:
    path = home / ".local" / "state" / "recorder" / "run" / f"{profile}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.chdir(path.parent)  # the path may be longer than a socket address allows
    try:
        sock.connect(path.name)
    finally:
        os.chdir("/")
    return sock


def test_status_pause_resume_mark_and_events_from_the_command_line(home):
    proc = start(home, "--source", "synthetic", "--session-id", "T-1", "--label", "ticket=INC-7")
    first = status(home, wait=15)
    assert first["state"] == "recording" and first["support_session_id"] == "T-1"
    assert first["labels"] == {"ticket": "INC-7"} and first["pid"] == proc.pid
    follower = subprocess.Popen([recorder_command(), "events", "--follow", "--json"], env=cli_env(home),
                                stdout=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    time.sleep(1)
    assert verb(home, "pause", "--by", "customer", "--reason", "typing a password").stdout.strip() == "paused"
    assert verb(home, "pause", "--by", "rep").stdout.strip() == "already paused"
    paused = status(home)
    assert paused["state"] == "paused" and paused["paused"]["by"] == "customer"
    grabbed = paused["frames_captured"]
    time.sleep(1.5)
    assert status(home)["frames_captured"] == grabbed, "nothing is grabbed while paused"
    assert verb(home, "resume", "--by", "customer").stdout.strip() == "recording"
    verb(home, "mark", "Customer: it fails at login", "--kind", "chat", "--by", "customer",
         "--data", '{"line": 12}')
    verb(home, "mark", "remote control granted", "--kind", "remote-control", "--by", "rep")
    time.sleep(1)
    history = verb(home, "events").stdout
    assert "paused by customer: typing a password" in history and "Customer: it fails at login" in history
    verb(home, "stop", "--by", "support-tool", "--reason", "support session ended")
    streamed = [json.loads(line) for line in follower.communicate(timeout=10)[0].splitlines()]
    manifest = manifest_of(proc)

    # The subscriber saw the whole session once, in order, and the end.
    events = [m["event"] for m in streamed if m["type"] == "event"]
    assert [e["kind"] for e in events] == kinds(manifest)
    assert streamed[-1]["type"] == "ended" and streamed[-1]["end_reason"] == "user"
    assert any(m["type"] == "receipt" for m in streamed)
    chat = next(e for e in manifest["events"] if e["kind"] == "chat")
    assert (chat["by"], chat["text"], chat["data"]) == ("customer", "Customer: it fails at login", {"line": 12})
    stop = next(e for e in manifest["events"] if e["kind"] == "end-requested")
    assert (stop["by"], stop["text"]) == ("support-tool", "support session ended")

    # The pause is a gap between two parts, with who and why.
    pause = next(e for e in manifest["events"] if e["kind"] == "paused")
    unpause = next(e for e in manifest["events"] if e["kind"] == "unpaused")
    first_part, second_part = manifest["parts"]
    assert first_part["start"] + first_part["duration"] <= pause["t"] + 0.2
    assert second_part["start"] >= unpause["t"] - 0.05
    from recorder.playback import timeline
    line = timeline.load(Path(manifest["folder"]))
    [gap] = line.gaps
    assert gap.reason == "paused by customer: typing a password" and gap.end - gap.start >= 1.4
    # An export leaves the pause out, as it does a restart's gap.
    out = Path(manifest["folder"]).parent / "export.mp4"
    verb(home, "export", manifest["folder"], "--format", "mp4", "-o", str(out), timeout=120)
    assert abs(decode(out).duration - line.recorded) < 0.5


@pytest.mark.display
def test_while_paused_the_screen_is_not_grabbed(home, xdisplay):
    """The real screen source: a pause leaves no frame of the paused span in any part."""
    proc = start(home, "--source", "mss", display=xdisplay.name)
    status(home, wait=15)
    time.sleep(1.5)
    verb(home, "pause", "--by", "customer")
    time.sleep(2)
    verb(home, "resume", "--by", "customer")
    time.sleep(1.5)
    verb(home, "stop")
    manifest = manifest_of(proc)
    pause = next(e["t"] for e in manifest["events"] if e["kind"] == "paused")
    unpause = next(e["t"] for e in manifest["events"] if e["kind"] == "unpaused")
    folder = Path(manifest["folder"])
    for part in manifest["parts"]:
        times = [part["start"] + t for t in decode(folder / part["file"]).times]
        assert not [t for t in times if pause + 0.15 < t < unpause - 0.05], part["file"]
    assert len(manifest["parts"]) == 2


def test_bad_requests_are_answered_and_the_recording_goes_on(home):
    proc = start(home, "--source", "synthetic")
    status(home, wait=15)
    sock = raw_client(home)
    reader = sock.makefile("rb")
    hello = json.loads(reader.readline())
    assert hello["recorder"] == "control" and hello["protocol"] == protocol.PROTOCOL
    for line, expected in [(b"not json", "not a JSON object"), (b"[1, 2]", "not a JSON object"),
                           (b'{"command": "format-disk"}', "command: unknown"),
                           (b'{"command": "mark", "kind": "started"}', "recorder's own"),
                           (b'{"command": "mark", "kind": "Chat!"}', "kind:"),
                           (b'{"command": "mark", "by": "recorder"}', "by:"),
                           (b'{"command": "mark", "text": "a\\u0000b"}', "control characters"),
                           (b'{"command": "mark", "data": [1]}', "data: must be a JSON object"),
                           (b'{"command": "pause", "reason": 7}', "reason: must be a string"),
                           (b'{"command": "subscribe", "history": "yes"}', "history:")]:
        sock.sendall(line + b"\n")
        answer = json.loads(reader.readline())
        assert answer["ok"] is False and expected in answer["error"], (line, answer)
    sock.sendall(b"x" * (protocol.MAX_LINE + 10) + b"\n")
    assert "longer than" in json.loads(reader.readline())["error"]
    sock.close()
    assert status(home)["state"] == "recording"
    bad = verb(home, "mark", "x", "--kind", "stopped", check=2)
    assert bad.stderr.count("\n") == 1 and "recorder's own" in bad.stderr
    verb(home, "stop")
    manifest = manifest_of(proc)
    assert "mark" not in kinds(manifest) and "stopped" in kinds(manifest)


def test_the_verbs_without_a_recorder_say_so_in_one_line(home):
    for args in (["status"], ["pause"], ["resume"], ["mark", "x"], ["events"], ["stop"]):
        result = verb(home, *args, check=2)
        assert result.stderr.strip() == "recorder: error: no recorder is running", args
    result = verb(home, "mark", "x", "--data", "{", check=2)
    assert "--data: not JSON" in result.stderr


def test_a_stuck_subscriber_delays_nothing_and_is_dropped():
    """The server on its own: publishing never waits, whatever a subscriber does."""
    import tempfile

    folder = Path(tempfile.mkdtemp())
    path = folder / "t.sock"
    server = ControlServer(path, lambda command, args: {}, hello=lambda: {}, history=lambda: [])
    server.start()
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(path))
    stuck.sendall(b'{"id": 1, "command": "subscribe"}\n')  # and never reads again
    healthy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    healthy.connect(str(path))
    healthy.sendall(b'{"id": 1, "command": "subscribe"}\n')
    received: list[dict] = []

    def read_all():
        for line in healthy.makefile("rb"):
            received.append(json.loads(line))

    reader = threading.Thread(target=read_all)
    reader.start()
    time.sleep(0.3)
    slowest = 0.0
    for n in range(3 * BACKLOG):
        began = time.perf_counter()
        server.publish({"type": "event", "seq": n, "event": {"text": "x" * 200}})
        slowest = max(slowest, time.perf_counter() - began)
        if n % 100 == 99:  # as events come: the healthy reader keeps up, the stuck one cannot
            deadline = time.monotonic() + 10
            while len(received) < n and time.monotonic() < deadline:
                time.sleep(0.002)
    began = time.perf_counter()
    server.close({"type": "ended"})
    closing = time.perf_counter() - began
    reader.join(5)
    # A publish that waited for the stuck subscriber would take its 2 s send timeout, or forever.
    assert slowest < 0.5, f"a publish waited {slowest:.3f} s"
    assert closing < 1.0
    assert [m.get("seq") for m in received if m.get("type") == "event"] == list(range(3 * BACKLOG))
    assert received[-1] == {"type": "ended"}
    assert len(server.connections) == 0
    stuck.close()


def test_several_clients_at_once_and_a_stuck_one_while_recording(home):
    proc = start(home, "--source", "synthetic")
    status(home, wait=15)
    stuck = raw_client(home)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b'{"id": 1, "command": "subscribe", "history": true}\n')
    followers = [subprocess.Popen([recorder_command(), "events", "--follow", "--json"], env=cli_env(home),
                                  stdout=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals) for _ in range(3)]
    time.sleep(1)

    def marks(who: str):
        for n in range(40):
            verb(home, "mark", f"{who} {n}", "--kind", "chat", "--by", who)

    threads = [threading.Thread(target=marks, args=(who,)) for who in ("rep", "customer")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    began = time.monotonic()
    verb(home, "stop")
    took = time.monotonic() - began
    manifest = manifest_of(proc)
    assert took < 3, f"stopping took {took:.1f} s with a stuck subscriber"
    assert manifest["frames_dropped"] == 0 if "frames_dropped" in manifest else True
    chat = [e["text"] for e in manifest["events"] if e["kind"] == "chat"]
    assert sorted(chat) == sorted([f"{w} {n}" for w in ("rep", "customer") for n in range(40)])
    for follower in followers:
        seen = [json.loads(line) for line in follower.communicate(timeout=10)[0].splitlines()]
        assert [m["event"]["text"] for m in seen if m["type"] == "event" and m["event"]["kind"] == "chat"] \
            == [e["text"] for e in manifest["events"] if e["kind"] == "chat"]
    stuck.close()


def test_another_unix_user_is_refused(home, other_user):  # noqa: F811
    proc = start(home, "--source", "synthetic")
    status(home, wait=15)
    run = home / ".local" / "state" / "recorder" / "run"
    # As it is: the folder is private, the other user cannot even reach the socket.
    assert (run.stat().st_mode & 0o777) == 0o700 and ((run / "rep.sock").stat().st_mode & 0o777) == 0o600
    # The other user's own Python (the test's virtualenv may not be readable to it).
    probe = ("import socket,os; s=socket.socket(socket.AF_UNIX); s.connect(os.environ['SOCK']);"
             "print(s.makefile().readline()); s.sendall(b'{\"id\":1,\"command\":\"stop\"}\\n')")
    as_other = ["runuser", "-u", OTHER, "--", "/usr/bin/python3", "-c", probe]
    denied = subprocess.run(as_other, env={"SOCK": str(run / "rep.sock"), "PATH": os.environ["PATH"]},
                            capture_output=True, text=True, timeout=30, encoding="utf-8")
    assert denied.returncode == 1 and "PermissionError" in denied.stderr, denied.stderr
    # Even with the folders opened up (a mistake), the recorder itself refuses them.
    modes = {folder: os.stat(folder).st_mode for folder in [run, *run.parents] if folder != Path("/")}
    try:
        for folder, mode in modes.items():
            os.chmod(folder, mode | 0o055)
        os.chmod(run / "rep.sock", 0o666)
        refused = subprocess.run(as_other, env={"SOCK": str(run / "rep.sock"), "PATH": os.environ["PATH"]},
                                 capture_output=True, text=True, timeout=30, encoding="utf-8")
    finally:
        for folder, mode in modes.items():
            os.chmod(folder, mode)
    assert "refused" in json.loads(refused.stdout.splitlines()[0])["error"], refused
    assert status(home)["state"] == "recording", "the other user's stop was not carried out"
    verb(home, "stop")
    assert manifest_of(proc)["end_reason"] == "user"


def test_a_pause_survives_kill_9_and_the_recovered_session_shows_it(home):
    proc = start(home, "--source", "synthetic", "--session-id", "K-9")
    status(home, wait=15)
    time.sleep(1.5)
    verb(home, "pause", "--by", "customer", "--reason", "password")
    time.sleep(3)
    proc.kill()
    proc.communicate(timeout=10)
    verb(home, "recover")
    [folder] = [p for p in (home / "Documents" / "SessionRecordings").iterdir()]
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    pause = next(e for e in manifest["events"] if e["kind"] == "paused")
    crashed = next(e for e in manifest["events"] if e["kind"] == "crashed")
    assert pause["by"] == "customer" and manifest["state"] == "interrupted"
    assert crashed["t"] - pause["t"] >= 2.0, "the pause lasted until the kill, as far as anyone can tell"
    # Continuing the same support session: the pause shows as a gap with who and why, then recording.
    verb(home, "--profile", "rep", "--source", "synthetic", "--session-id", "K-9", "--duration", "1.5")
    from recorder.playback import replay, timeline
    line = timeline.load(folder)
    [gap] = line.gaps
    assert gap.reason == "paused by customer: password"
    page = replay.prepare(line).read_text(encoding="utf-8")
    assert "paused by customer: password" in page


def test_what_the_customer_is_told_in_the_pause_and_crash_scenarios_says_nothing_of_this_machine(
        home, tmp_path):
    """Every message with the customer in its audience (webhook, events file, control channel)
    while pausing, resuming, crashing and continuing: no folder, user, host or disk figure."""
    import getpass
    import re

    from chat_server import ChatServer

    events_file = tmp_path / "events.jsonl"
    with ChatServer() as chat:
        config = tmp_path / "notify.toml"
        config.write_text(f"""
[profiles.rep]
notifiers = ["console", "events-file", "webhook"]
[profiles.rep.events-file]
path = "{events_file}"
[profiles.rep.webhook]
url = "{chat.url}"
""", encoding="utf-8")
        args = ("--config", str(config), "--source", "synthetic", "--session-id", "CASE-5",
                "--label", "customer=ACME")
        proc = start(home, *args)
        status(home, wait=15)
        follower = subprocess.Popen([recorder_command(), "events", "--follow", "--json"], env=cli_env(home),
                                    stdout=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
        verb(home, "pause", "--by", "customer", "--reason", "password")
        time.sleep(1)
        verb(home, "resume", "--by", "customer")
        time.sleep(1)
        proc.kill()  # a crash
        proc.communicate(timeout=10)
        streamed = [json.loads(line) for line in follower.communicate(timeout=10)[0].splitlines()]
        again = start(home, *args)  # the same support session goes on after the crash
        status(home, wait=15)
        follower = subprocess.Popen([recorder_command(), "events", "--follow", "--json"], env=cli_env(home),
                                    stdout=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
        time.sleep(1)
        verb(home, "pause", "--by", "rep")
        verb(home, "stop")  # ended while paused
        streamed += [json.loads(line) for line in follower.communicate(timeout=10)[0].splitlines()]
        manifest = manifest_of(again)
    assert "resumed" in kinds(manifest) and "crashed" in kinds(manifest)
    said = [json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines()]
    to_customer = [m["text"] for m in said if "customer" in m.get("audience", [])]
    to_customer += [json.dumps(m) for m in chat.messages if "customer" in m.get("audience", [])]
    to_customer += [m["notification"]["text"] for m in streamed
                    if m["type"] == "notification" and "customer" in m["notification"]["audience"]]
    assert sum("paused" in text for text in to_customer) >= 3 and any("resumed" in t for t in to_customer)
    assert any("after an interruption" in text for text in to_customer)
    private = [str(home), manifest["folder"], socket.gethostname(), getpass.getuser()]
    for text in to_customer:
        assert not any(p in text for p in private), text
        assert not re.search(r"\d+(\.\d+)? ?(B|KB|MB|GB|TB)\b", text), text


class FakeRecorder:
    """The narrow view the control channel has of a recording (control/status.py, Recorder):
    the commands and the status need nothing else."""

    def __init__(self, state: str | None):
        from recorder.session.model import Session

        self.session = Session(profile="rep", role="rep")
        self.consent_timeout = 30.0
        self.state = state

    def not_recording_yet(self) -> str | None:
        return self.state

    def bytes_written(self) -> int:
        return 1234


def test_the_commands_reach_the_recording_only_through_its_narrow_view():
    from recorder.control import commands

    waiting = FakeRecorder("waiting-for-consent")
    assert commands.handle(waiting, "status", {})["state"] == "waiting-for-consent"
    with pytest.raises(protocol.BadRequest, match=r"consent to record is asked first \(at most 30 s\)"):
        commands.handle(waiting, "mark", {"text": "too early"})
    recording = FakeRecorder(None)
    assert commands.handle(recording, "pause", {"by": "customer"}) == {"paused": True, "already": False}
    assert commands.handle(recording, "status", {})["state"] == "paused"
    assert commands.handle(recording, "resume", {"by": "customer"}) == {"paused": False, "already": False}
    answer = commands.handle(recording, "mark", {"kind": "chat", "text": "hello"})
    assert set(answer) == {"t", "time"}
    assert commands.handle(recording, "stop", {"by": "rep"}) == {"ending": True}
    status = commands.handle(recording, "status", {})
    assert (status["state"], status["end_reason"], status["bytes_written"]) == ("ending", "user", 1234)
    assert [e.kind for e in recording.session.events if e.kind in ("paused", "unpaused", "chat", "end-requested")] \
        == ["paused", "unpaused", "chat", "end-requested"]


def test_a_recordings_phase_says_what_status_reports_before_it_records():
    from recorder.pipeline.phase import Phase

    assert {phase: phase.published for phase in Phase} == {
        Phase.PREPARING: "starting", Phase.ASKING: "waiting-for-consent", Phase.READY: "starting",
        Phase.RECORDING: None, Phase.HANDING_OVER: None, Phase.FINISHED: None, Phase.ABANDONED: "starting"}
    assert [phase for phase in Phase if not phase.holding] == [Phase.RECORDING, Phase.HANDING_OVER, Phase.FINISHED]
