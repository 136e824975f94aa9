"""The control pipe on Windows: only its user can open it, and no client can stall it.

A recorder started from the bundle (recorder.cmd); the clients here are this test's own
process, the same Windows user, speaking to the pipe directly: silent ones, ones that
hang up half-way through the handshake, ones that talk nonsense or hold the wrong key.
Whatever they do, ``status`` and ``recorder stop`` must still be answered at once.
"""

from __future__ import annotations

import _winapi
import json
import re
import subprocess
import time
from pathlib import Path
from multiprocessing import AuthenticationError

import pytest

from conftest import kill_tree, run, sessions, status, wait_until
from recorder import platform
from recorder.control import pipe, win32_pipe
from recorder.platform import windows
from recorder.control.client import Client, endpoint

ADDRESS = platform.pipe_name("rep")
SYSTEM = "S-1-5-18"
FILE_FLAG_BACKUP_SEMANTICS = 0x02000000


def sids_with_access(sddl: str) -> set[str]:
    """The accounts an allow ACE of ``sddl``'s DACL names (aliases such as SY spelled out)."""
    dacl = sddl.split("D:", 1)[1].split("S:", 1)[0]
    aces = [ace.split(";") for ace in re.findall(r"\(([^)]*)\)", dacl)]
    return {{"SY": SYSTEM}.get(ace[5], ace[5]) for ace in aces if ace[0] in ("A", "OA")}


@pytest.fixture
def recording(start):
    started = start("--profile", "rep", "--duration", "300")
    wait_until("the recorder to answer status over the pipe", lambda: status("rep"), timeout=90)
    yield started
    if started.proc.poll() is None:
        run("stop", "--profile", "rep", timeout=60)
        try:
            started.finish(90)
        except subprocess.TimeoutExpired:
            kill_tree(started.proc.pid)  # the start fixture's end: the test's assertions are made


def timed_status() -> tuple[float, dict]:
    began = time.monotonic()
    with Client("rep", timeout=30) as client:
        answer = client.request("status")
    return time.monotonic() - began, answer


def file_sddl(path: Path) -> str:
    handle = _winapi.CreateFile(str(path), win32_pipe.READ_CONTROL, 7, _winapi.NULL, win32_pipe.OPEN_EXISTING,
                                FILE_FLAG_BACKUP_SEMANTICS, _winapi.NULL)
    try:
        return win32_pipe.security_of(handle)
    finally:
        _winapi.CloseHandle(handle)


def test_the_pipe_admits_only_its_user(recording):
    conn = win32_pipe.open_client(ADDRESS, 10)
    try:
        sddl = win32_pipe.security_of(conn.fileno())  # read back through the client's handle
    finally:
        conn.close()
    assert "D:P" in sddl, sddl  # protected: nothing inherited from a default
    assert sids_with_access(sddl) == {windows.user_sid(), SYSTEM}, sddl  # no Everyone, no Anonymous Logon


def test_the_pipes_key_file_admits_only_its_user(recording, tmp_path):
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    platform.make_owner_only(probe, folder=False)
    if sids_with_access(file_sddl(probe)) != {windows.user_sid(), SYSTEM}:
        pytest.skip("Wine gap: Wine 8 keeps no DACL for a file, it makes one from the Unix mode (a DACL set "
                    "with SetNamedSecurityInfoW becomes mode bits and reads back with Everyone:read)")
    sddl = file_sddl(endpoint("rep"))
    assert sids_with_access(sddl) == {windows.user_sid(), SYSTEM}, sddl


def test_silent_broken_and_many_clients_never_stall_status_or_stop(recording):
    # 100 clients that connect and say nothing: each holds a pipe instance of its own
    silent = [win32_pipe.open_client(ADDRESS, 10) for _ in range(100)]
    # clients that read the challenge and hang up, or answer it with nonsense
    for _ in range(5):
        conn = win32_pipe.open_client(ADDRESS, 10)
        conn.recv_bytes()
        conn.close()
    for _ in range(5):
        conn = win32_pipe.open_client(ADDRESS, 10)
        conn.recv_bytes()
        conn.send_bytes(b"\xff" * 1000)
        conn.close()
    # and one holding the wrong key: refused, and nothing else changes
    conn = win32_pipe.open_client(ADDRESS, 10)
    with pytest.raises(AuthenticationError):
        pipe._handshake(conn, b"not the recorder's key", server=False)
    conn.close()

    # Answered while the 100 are still connected and silent, within their deadline: the
    # handshakes run beside the accept loop, not in it.
    elapsed, answer = timed_status()
    assert answer["state"] == "recording"
    assert elapsed < pipe.HANDSHAKE_DEADLINE, f"status took {elapsed:.1f} s"

    # A silent client is let go at the deadline: after the challenge, the pipe ends.
    time.sleep(pipe.HANDSHAKE_DEADLINE + 1)
    assert silent[0].recv_bytes().startswith(b"#CHALLENGE#")
    with pytest.raises((EOFError, OSError)):
        silent[0].recv_bytes()

    # 100 more connections, one after the other, each answered
    for _ in range(100):
        assert timed_status()[1]["state"] == "recording"

    # stop, with the silent clients still holding their end
    began = time.monotonic()
    run("stop", "--profile", "rep", timeout=60, check=0)
    assert recording.finish(60) == 0, recording.err
    assert time.monotonic() - began < 30
    assert "ended: user" in recording.out + recording.err
    for conn in silent:
        conn.close()


def test_a_silent_squatter_on_the_pipe_costs_the_client_seconds_not_forever():
    """No recorder, but someone holds the pipe's name and a key file: status gives up
    after the handshake's deadline with one line, instead of hanging."""
    key = endpoint("rep")
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("00" * 32, encoding="ascii")
    security = win32_pipe.SecurityDescriptor(win32_pipe.owner_only_sddl(windows.user_sid()))
    squatter = win32_pipe.create_instance(ADDRESS, security, first=True)
    try:
        began = time.monotonic()
        result = run("status", "--profile", "rep", timeout=60)
        elapsed = time.monotonic() - began
    finally:
        _winapi.CloseHandle(squatter)
        key.unlink()
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "did not answer" in result.stderr, result.stderr
    assert elapsed < pipe.HANDSHAKE_DEADLINE + 20  # recorder.cmd's own start-up under Wine is most of it


def test_a_recorder_never_joins_a_pipe_someone_else_created(start):
    """The first instance claims the name (FILE_FLAG_FIRST_PIPE_INSTANCE): with the name
    taken, the recording goes on without a control channel and says so."""
    security = win32_pipe.SecurityDescriptor(win32_pipe.owner_only_sddl(windows.user_sid()))
    squatter = win32_pipe.create_instance(ADDRESS, security, first=True)
    try:
        try:
            second = win32_pipe.create_instance(ADDRESS, security, first=True)
        except OSError:
            pass  # as Windows does: access denied
        else:
            _winapi.CloseHandle(second)
            pytest.skip("Wine gap: Wine 8's CreateNamedPipeW does not enforce FILE_FLAG_FIRST_PIPE_INSTANCE "
                        "(a second first instance of a name succeeds)")
        recording = start("--profile", "rep", "--duration", "8")
        assert recording.finish(90) == 0, recording.err
        [folder] = sessions()
        manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        assert any("no control channel" in event.get("text", "") for event in manifest["events"])
    finally:
        _winapi.CloseHandle(squatter)
