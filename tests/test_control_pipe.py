"""The Windows control pipe's logic, simulated on Linux: the same listener and handshake
over an abstract AF_UNIX address (tests/foreign_os.py). The real pipe (its security
descriptor, PIPE_REJECT_REMOTE_CLIENTS) is tested under Wine: tests/windows/test_pipe.py."""

from __future__ import annotations

import os
import socket
import time
from multiprocessing import AuthenticationError
from multiprocessing import connection as mpc

import pytest

import foreign_os
from recorder import platform
from recorder.control import pipe, protocol
from recorder.control.client import Client
from recorder.control.server import ControlServer


@pytest.fixture
def windows(monkeypatch):
    return foreign_os.windows(monkeypatch)


@pytest.fixture
def server(windows, monkeypatch):
    from recorder.session.lock import runtime_dir

    monkeypatch.setattr(pipe, "HANDSHAKE_DEADLINE", 1.0)
    path = protocol.socket_path(runtime_dir(), "rep")
    control = ControlServer(path, lambda command, args: {"did": command}, lambda: {"profile": "rep"}, lambda: [])
    control.start()
    yield control
    control.close()


def raw(server) -> mpc.Connection:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(server.sock.address)
    return mpc.Connection(sock.detach())


def timed_status() -> float:
    began = time.monotonic()
    with Client("rep", timeout=10) as client:
        assert client.request("status") == {"did": "status"}
    return time.monotonic() - began


def test_silent_clients_and_hang_ups_never_stall_the_channel(server):
    silent = [raw(server) for _ in range(100)]
    for _ in range(5):  # read the challenge, hang up
        conn = raw(server)
        conn.recv_bytes()
        conn.close()
    for _ in range(5):  # answer it with nonsense
        conn = raw(server)
        conn.recv_bytes()
        conn.send_bytes(b"\xff" * 1000)
        conn.close()
    conn = raw(server)  # hang up before the challenge is even read
    conn.close()
    assert timed_status() < pipe.HANDSHAKE_DEADLINE  # while the 100 are still silent
    assert server.thread.is_alive() and server.sock.thread.is_alive()
    # the deadline lets a silent client go: the challenge, then the end
    time.sleep(pipe.HANDSHAKE_DEADLINE + 0.5)
    assert silent[0].recv_bytes().startswith(b"#CHALLENGE#")
    with pytest.raises(EOFError):
        silent[0].recv_bytes()
    for _ in range(100):
        timed_status()
    for conn in silent:
        conn.close()


def test_a_wrong_key_is_refused_and_the_channel_goes_on(server):
    conn = raw(server)
    with pytest.raises(AuthenticationError):
        pipe._handshake(conn, b"not the key", server=False)
    conn.close()
    timed_status()


def test_a_client_error_never_ends_the_accept_loop(server, monkeypatch):
    from recorder.control import server as server_module

    calls = []

    def failing(conn):
        calls.append(conn)
        if len(calls) == 1:
            raise RuntimeError("a client the server could not take")
        return None

    monkeypatch.setattr(server_module, "peer_uid", failing)
    with pytest.raises(Exception):
        timed_status()  # the first connection is dropped by the error
    timed_status()
    assert server.thread.is_alive()


def test_a_silent_squatter_costs_the_client_the_deadline_not_forever(windows, monkeypatch):
    from recorder.session.lock import runtime_dir
    from recorder.errors import RecorderError

    monkeypatch.setattr(pipe, "HANDSHAKE_DEADLINE", 1.0)
    path = protocol.socket_path(runtime_dir(), "rep")
    pipe.key_path(path).write_text("00" * 32, encoding="ascii")
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    squatter.bind(pipe._address(path))
    squatter.listen(1)
    try:
        began = time.monotonic()
        with pytest.raises(RecorderError, match="did not answer"):
            Client("rep")
        assert time.monotonic() - began < 3
    finally:
        squatter.close()


def test_the_key_is_owner_only_before_its_first_byte(windows, tmp_path, monkeypatch):
    sizes = []
    real = platform.make_owner_only

    def watched(path, *, folder):
        sizes.append((path, os.path.getsize(path), folder))
        real(path, folder=folder)

    monkeypatch.setattr(platform, "make_owner_only", watched)
    (tmp_path / "run").mkdir()
    key = tmp_path / "run" / "rep.key"
    pipe._write_key(key, b"k" * 32)
    assert [(size, folder) for _, size, folder in sizes] == [(0, False)]
    assert key.read_bytes() == (b"k" * 32).hex().encode()
    assert list(key.parent.iterdir()) == [key]  # no temporary left
