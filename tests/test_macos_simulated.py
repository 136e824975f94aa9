"""macOS findings of issue 26 (item 6), simulated on Linux (tests/foreign_os.py: macOS
is by design only here, see docs/platforms.md): the control socket path within
macOS's 104-byte sun_path, the Documents privacy prompt (TCC) answered by a local
folder and one line, and the upload thread's background priority."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from recorder.control import address, protocol
from recorder.errors import RecorderError

import foreign_os
from conftest import cli_env

TESTS = Path(__file__).parent
PRIVACY = "System Settings > Privacy & Security > Files and Folders"

# The recorder command under the macOS simulation, with the short base of the socket
# fallback and (optionally) a Documents folder macOS's privacy control refuses writes in.
RUNNER = """
import errno, os, sys
sys.path.insert(0, os.environ["TESTS"])
import foreign_os
foreign_os.macos(foreign_os.Patch())
from recorder.control import address
address.SHORT_BASE = os.environ["SHORT_BASE"]
refused = os.environ.get("REFUSED_DOCUMENTS")
if refused:
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777, *, dir_fd=None):
        if os.path.abspath(path).startswith(refused + os.sep):  # TCC: "Operation not permitted"
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(path))
        return real_mkdir(path, mode, dir_fd=dir_fd)

    os.mkdir = mkdir
from recorder.cli.main import main
sys.argv = ["recorder", *sys.argv[1:]]
main()
"""


@pytest.fixture
def short_base():
    base = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # short, as /tmp is on macOS
    yield Path(base)
    import shutil

    shutil.rmtree(base, ignore_errors=True)


def _cli(home: Path, base: Path, *args: str, refused: Path | None = None) -> subprocess.Popen:
    env = cli_env(home, TESTS=str(TESTS), SHORT_BASE=str(base))
    if refused:
        env["REFUSED_DOCUMENTS"] = str(refused)
    return subprocess.Popen([sys.executable, "-c", RUNNER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")


def _run(home, base, *args, timeout=60, **kw):
    proc = _cli(home, base, *args, **kw)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# -- 1. the control socket path fits macOS's sun_path --------------------------------

def test_the_simulation_refuses_a_socket_path_macos_refuses(monkeypatch, tmp_path):
    import socket

    foreign_os.macos(monkeypatch)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with pytest.raises(OSError, match="too long"):
        sock.bind(str(tmp_path / ("x" * 110)))
    sock.close()


def test_a_long_home_records_and_is_stopped_over_a_short_socket_simulated(tmp_path, short_base):
    """A user whose home is long: the runtime dir's socket path is over 104 bytes; the
    recorder and its clients (status, stop) meet at the same short stand-in."""
    home = tmp_path / "Users" / ("a-support-representative-with-a-long-name-" * 3)
    home.mkdir(parents=True)
    recording = _cli(home, short_base, "--profile", "rep", "--source", "synthetic", "--duration", "60")
    try:
        deadline = time.monotonic() + 40
        code, err = 1, ""
        while time.monotonic() < deadline and code != 0:
            code, out, err = _run(home, short_base, "status", "--profile", "rep", "--wait", "10")
        assert code == 0, err
        sockets = list((short_base / f"recorder-{os.getuid()}").glob("*.sock"))
        assert len(sockets) == 1 and len(os.fsencode(str(sockets[0]))) < 104
        assert not list(home.rglob("*.sock"))  # nothing bound at the long path
        info = os.lstat(sockets[0].parent)
        assert info.st_mode & 0o777 == 0o700 and info.st_uid == os.getuid()
        code, out, err = _run(home, short_base, "stop", "--profile", "rep")
        assert code == 0, err
        out, err = recording.communicate(timeout=60)
        assert recording.returncode == 0, err
        assert not sockets[0].exists()  # removed at the end, as the long one would be
    finally:
        if recording.poll() is None:
            recording.kill()
            recording.communicate()


def test_the_short_socket_path_is_the_same_for_server_and_client_and_per_runtime_dir(macos, monkeypatch,
                                                                                      short_base, tmp_path):
    monkeypatch.setattr(address, "SHORT_BASE", str(short_base))
    long_dir = tmp_path / ("r" * 100)
    path = protocol.socket_path(long_dir, "rep")
    assert len(os.fsencode(str(path))) < 104 and path.parent == short_base / f"recorder-{os.getuid()}"
    assert protocol.socket_path(long_dir, "rep") == path
    assert protocol.socket_path(long_dir, "other") != path
    assert protocol.socket_path(tmp_path / ("s" * 100), "rep") != path
    assert protocol.socket_path(Path("/run/user/1"), "rep") == Path("/run/user/1/rep.sock")  # fits: kept


def test_linux_keeps_the_long_path(monkeypatch, short_base, tmp_path):
    monkeypatch.setattr(address, "SHORT_BASE", str(short_base))
    long_dir = tmp_path / ("r" * 100)
    assert protocol.socket_path(long_dir, "rep") == long_dir / "rep.sock"  # Linux binds it through /proc


@pytest.mark.parametrize("planted", ["link", "file"])
def test_a_planted_short_folder_is_refused_in_one_line_simulated(macos, monkeypatch, short_base, tmp_path,
                                                                 planted):
    monkeypatch.setattr(address, "SHORT_BASE", str(short_base))
    folder = short_base / f"recorder-{os.getuid()}"
    if planted == "link":
        (tmp_path / "elsewhere").mkdir()
        folder.symlink_to(tmp_path / "elsewhere")
    else:
        folder.write_bytes(b"")
    with pytest.raises(RecorderError) as caught:
        protocol.socket_path(tmp_path / ("r" * 100), "rep")
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message
    assert ("is a link" if planted == "link" else "not this user's folder") in message
    assert not list((tmp_path / "elsewhere").iterdir()) if planted == "link" else True


def test_a_wide_short_folder_of_this_user_is_made_private_again_simulated(macos, monkeypatch, short_base,
                                                                          tmp_path):
    monkeypatch.setattr(address, "SHORT_BASE", str(short_base))
    folder = short_base / f"recorder-{os.getuid()}"
    folder.mkdir()
    os.chmod(folder, 0o755)
    protocol.socket_path(tmp_path / ("r" * 100), "rep")
    assert os.stat(folder).st_mode & 0o777 == 0o700


# -- 2. Documents refused by macOS's privacy control (TCC) ---------------------------

def test_documents_refused_by_macos_privacy_records_locally_with_one_line_simulated(tmp_path, short_base):
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    code, out, err = _run(home, short_base, "--profile", "rep", "--source", "synthetic", "--duration", "2",
                          refused=home / "Documents")
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    local = home / ".local" / "share" / "recorder" / "recordings"  # local_recordings() on Linux
    assert folder.parent == local and folder.is_dir()
    assert list(folder.glob("*")), "the session folder holds the recording"
    assert not list((home / "Documents").iterdir())
    lines = [line for line in err.splitlines() if "Documents" in line]
    assert len(lines) == 1 and PRIVACY in lines[0] and str(local) in lines[0], err


def _refusing_sink(monkeypatch, documents: Path, error: int):
    import recorder.plugins.documents_sink as sink

    monkeypatch.setattr(sink, "documents_dir", lambda: documents)
    real = sink.make_private_dir

    def make(path, *, exist_ok=False):
        if documents in Path(path).parents:
            raise PermissionError(error, os.strerror(error), str(path))
        return real(path, exist_ok=exist_ok)

    monkeypatch.setattr(sink, "make_private_dir", make)
    return sink.DocumentsSink(sink.DocumentsOptions()), sink


class _Session:
    output_dir = ""


def test_a_refusal_by_mode_bits_or_on_linux_stays_an_error(monkeypatch, tmp_path):
    documents = tmp_path / "Documents"
    documents.mkdir()
    sink, _ = _refusing_sink(monkeypatch, documents, errno.EPERM)
    with pytest.raises(PermissionError):  # Linux has no TCC: EPERM there is a real refusal
        sink.prepare(_Session(), "s1")
    foreign_os.macos(monkeypatch)
    sink, _ = _refusing_sink(monkeypatch, documents, errno.EACCES)
    with pytest.raises(PermissionError):  # mode bits, not the privacy prompt
        sink.prepare(_Session(), "s1")


def test_tcc_fallback_is_the_local_folder_in_process_simulated(macos, monkeypatch, tmp_path, capsys):
    documents = tmp_path / "Documents"
    documents.mkdir()
    sink, module = _refusing_sink(monkeypatch, documents, errno.EPERM)
    folder = sink.prepare(_Session(), "s1")
    assert folder == module.local_recordings() / "s1" and folder.is_dir()
    assert os.stat(folder).st_mode & 0o777 == 0o700
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and PRIVACY in err


# -- 3. the upload thread's priority ---------------------------------------------------

def _priority_calls(monkeypatch) -> list[tuple[int, int, int]]:
    from recorder.plugins.archive import uploader

    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(os, "setpriority", lambda which, who, prio: calls.append((which, who, prio)),
                        raising=False)
    done = threading.Thread(target=uploader.lowest_priority)  # as the upload thread calls it
    done.start()
    done.join()
    return calls


def test_the_upload_thread_goes_to_the_background_band_on_macos_simulated(macos, monkeypatch):
    # PRIO_DARWIN_THREAD (3), 0 = the calling thread, PRIO_DARWIN_BG (0x1000): <sys/resource.h>
    assert _priority_calls(monkeypatch) == [(3, 0, 0x1000)]


def test_the_upload_thread_is_nice_19_on_linux(monkeypatch):
    calls = _priority_calls(monkeypatch)
    assert len(calls) == 1 and calls[0][0] == os.PRIO_PROCESS and calls[0][2] == 19
    assert calls[0][1] not in (0, os.getpid())  # the thread's own id, not the process


def test_the_upload_thread_priority_is_left_alone_on_windows_simulated(windows_sim, monkeypatch):
    assert _priority_calls(monkeypatch) == []


@pytest.fixture
def macos(monkeypatch):
    return foreign_os.macos(monkeypatch)


@pytest.fixture
def windows_sim(monkeypatch):
    return foreign_os.windows(monkeypatch)
