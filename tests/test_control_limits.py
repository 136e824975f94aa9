"""The control channel against a hostile or clumsy client (issue 30, items 8, 13, 14):
ids answered back, lone surrogates, idle connections, deep or huge JSON, a flood of marks.

Most tests talk to the server on its own (a real Unix socket, a handler standing in for
the recording); the surrogate test runs a real recorder with an ``events --follow`` style
subscriber."""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from recorder.control import protocol, server as control_server
from recorder.control.server import ControlServer

from test_control import manifest_of, no_recorder_left_behind, raw_client, start, status, verb  # noqa: F401


class Served:
    """A control server whose handler marks onto a timeline it publishes, as the recording does."""

    def __init__(self):
        self.events: list[dict] = []
        folder = Path(tempfile.mkdtemp())
        self.path = folder / "t.sock"
        self.server = ControlServer(self.path, self.handle, hello=lambda: {}, history=lambda: [])
        self.server.start()

    def handle(self, command: str, args: dict):
        if command == "mark":
            event = {"kind": protocol.kind(args), "text": protocol.text(args, "text"), "by": protocol.who(args),
                     "data": protocol.data(args)}
            self.events.append(event)
            self.server.publish({"type": "event", "seq": len(self.events) - 1, "event": event})
            return {"t": 0.0}
        return {"state": "recording"}

    def connect(self) -> tuple[socket.socket, "object"]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(str(self.path))
        reader = sock.makefile("rb")
        json.loads(reader.readline())  # hello
        return sock, reader

    def ask(self, line: bytes) -> dict:
        sock, reader = self.connect()
        with sock:
            sock.sendall(line + b"\n")
            return json.loads(reader.readline())


@pytest.fixture
def served():
    served = Served()
    yield served
    served.server.close({"type": "ended"})


# -- item 8: the id comes back ----------------------------------------------------------

def test_an_unknown_command_is_answered_with_the_requests_id(served):
    answer = served.ask(b'{"id": 41, "command": "format-disk"}')
    assert answer["ok"] is False and "command: unknown" in answer["error"]
    assert answer["id"] == 41
    answer = served.ask(b'{"id": "a-7", "command": "mark", "kind": "started"}')
    assert answer["id"] == "a-7" and "recorder's own" in answer["error"]


# -- item 13: lone surrogates -----------------------------------------------------------

def test_a_lone_surrogate_is_fixed_at_the_door_and_every_subscriber_keeps_its_stream(home):
    """A chat bridge that cuts an emoji in half sends "\\ud83d": the mark is kept with U+FFFD in
    its place, and the subscribers (events --follow) still get every event and the end."""
    proc = start(home, "--source", "synthetic")
    status(home, wait=15)
    follower = raw_client(home)
    follower.settimeout(30)
    stream = follower.makefile("rb")
    json.loads(stream.readline())  # hello
    follower.sendall(b'{"id": 1, "command": "subscribe", "history": true}\n')
    messages: list[dict] = []

    def read_all():
        for line in stream:
            messages.append(json.loads(line))

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    marker = raw_client(home)
    answers = marker.makefile("rb")
    json.loads(answers.readline())
    marker.sendall(b'{"id": 2, "command": "mark", "kind": "chat", "text": "cut \\ud83d", '
                   b'"data": {"line": "x\\udc00"}}\n')
    answer = json.loads(answers.readline())
    assert answer["id"] == 2 and answer["ok"] is True, answer
    marker.sendall(b'{"id": 3, "command": "mark", "kind": "chat", "text": "after"}\n')
    assert json.loads(answers.readline())["ok"] is True
    marker.close()
    verb(home, "stop")
    manifest = manifest_of(proc)
    reader.join(10)
    chat = [m["event"] for m in messages if m.get("type") == "event" and m["event"]["kind"] == "chat"]
    assert [e["text"] for e in chat] == ["cut \ufffd", "after"], messages
    assert chat[0]["data"] == {"line": "x\ufffd"}
    assert messages[-1]["type"] == "ended", messages[-3:]
    assert any(m.get("type") == "receipt" for m in messages)
    assert [e["text"] for e in manifest["events"] if e["kind"] == "chat"] == ["cut \ufffd", "after"]


def test_a_message_that_cannot_be_encoded_never_ends_a_stream_silently(served):
    sock, reader = served.connect()
    sock.sendall(b'{"id": 1, "command": "subscribe"}\n')
    assert json.loads(reader.readline())["ok"] is True
    served.server.publish({"type": "event", "seq": 0, "event": {"text": "half \ud83d"}})
    served.server.publish({"type": "event", "seq": 1, "event": {"text": "next"}})
    served.server.close({"type": "ended"})
    lines = [json.loads(line) for line in reader]
    assert [m.get("seq") for m in lines if m.get("type") == "event"] == [0, 1]
    assert lines[-1] == {"type": "ended"}
    sock.close()


# -- item 14: limits ----------------------------------------------------------------------

def test_an_idle_connection_is_closed_after_its_deadline_and_a_subscriber_is_not(served, monkeypatch):
    monkeypatch.setattr(control_server, "IDLE_TIMEOUT", 0.6)
    idle, idle_reader = served.connect()
    subscriber, subscriber_reader = served.connect()
    subscriber.sendall(b'{"id": 1, "command": "subscribe"}\n')
    assert json.loads(subscriber_reader.readline())["ok"] is True
    began = time.monotonic()
    goodbye = json.loads(idle_reader.readline())
    assert goodbye["ok"] is False and "idle" in goodbye["error"]
    assert idle_reader.readline() == b"" and time.monotonic() - began < 5
    served.server.publish({"type": "event", "seq": 0, "event": {"text": "still here"}})
    assert json.loads(subscriber_reader.readline())["seq"] == 0


def test_a_full_channel_makes_room_by_closing_an_idle_connection(served, monkeypatch):
    """32 connections that say nothing must not lock out ``recorder status``."""
    monkeypatch.setattr(control_server, "EVICT_IDLE", 0.3)
    idle = [served.connect() for _ in range(control_server.MAX_CLIENTS)]
    time.sleep(0.5)
    answer = served.ask(b'{"id": 9, "command": "status"}')
    assert answer == {"id": 9, "ok": True, "result": {"state": "recording"}}
    for sock, _ in idle:
        sock.close()


@pytest.mark.parametrize("line, expected", [
    (b'{"id": 5, "command": "mark", "data": ' + b'[' * 30000 + b']' * 30000 + b'}', "nested"),
    (b'{"id": 5, "command": "mark", "data": {"n": ' + b"7" * 5000 + b'}}', "number"),
    (b'{"id": 5, "command": "mark", "data": {"n": 1e999}}', "number"),
    (b'{"id": 5, "command": "mark", "data": {"n": NaN}}', "number"),
    (b'{"id": 5, "command": "mark", "data": ' + b'{"a": ' * 40 + b'1' + b'}' * 41, "nested"),
])
def test_deep_or_huge_json_is_bad_input_not_an_internal_error(served, caplog, line, expected):
    with caplog.at_level(logging.ERROR, logger="recorder"):
        answer = served.ask(line)
    assert answer["ok"] is False and expected in answer["error"], answer
    assert "internal error" not in answer["error"]
    assert not [r for r in caplog.records if r.exc_info], "no traceback for bad input"
    assert served.events == []


def test_marks_are_capped_per_session_in_number_and_size_and_the_sender_is_told(served, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_MARKS", 5)
    sock, reader = served.connect()
    for n in range(5):
        sock.sendall(json.dumps({"id": n, "command": "mark", "text": f"m{n}"}).encode() + b"\n")
        assert json.loads(reader.readline())["ok"] is True
    sock.sendall(b'{"id": 5, "command": "mark", "text": "one too many"}\n')
    refused = json.loads(reader.readline())
    assert refused["id"] == 5 and refused["ok"] is False and "5 marks" in refused["error"]
    assert len(served.events) == 5
    sock.close()


def test_marks_are_capped_in_total_size(served, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_MARK_BYTES", 10_000)
    sock, reader = served.connect()
    text = "x" * 900
    answers = []
    for n in range(20):
        sock.sendall(json.dumps({"id": n, "command": "mark", "text": text, "data": {"pad": "y" * 1000}}).encode()
                     + b"\n")
        answers.append(json.loads(reader.readline()))
    kept = [a for a in answers if a["ok"]]
    assert 1 <= len(kept) < 10 and len(served.events) == len(kept)
    assert "bytes of marks" in answers[-1]["error"]
    sock.close()
