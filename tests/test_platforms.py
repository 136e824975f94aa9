"""Windows and macOS semantics, simulated on Linux (tests/foreign_os.py): no machine of
either kind is available here. Each fixture is first shown to break the code path
it stands for; then recording, saving, verify, stop, list and recover run under it.
The Windows window procedure and ACL logic are fed messages and security descriptors
built by the test ("simulated" in each name). See docs/platforms.md."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from recorder import platform
from recorder.plugins.disk_space_guard import RESERVE, DiskSpaceGuard, DiskSpaceOptions
from recorder.store import verify as verifying
from recorder.disk.files import make_private_dir
from recorder.store.saving import copy_private
from recorder.testing import decode, record

import foreign_os
from conftest import cli_env

def _findings(sim) -> list[str]:
    return list(sim.violations)


@pytest.fixture
def windows(monkeypatch):
    return foreign_os.windows(monkeypatch)


@pytest.fixture
def macos(monkeypatch):
    return foreign_os.macos(monkeypatch)


# -- the fixtures are honest: each breaks the code it stands for ------------------

def test_simulated_windows_breaks_what_the_old_code_did(windows, tmp_path):
    fd = os.open(tmp_path / "x", os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY"), 0o600)
    with pytest.raises(AttributeError):
        os.posix_fallocate(fd, 0, 10)  # the disk-space guard's old call: not an OSError
    os.close(fd)
    with pytest.raises(ImportError):
        import fcntl  # noqa: F401
    assert not hasattr(signal, "SIGHUP")
    with pytest.raises(PermissionError) as opened_dir:
        os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # the old fsync_folder
    assert opened_dir.value.errno == errno.EACCES
    (tmp_path / "target").write_bytes(b"old")
    (tmp_path / "new").write_bytes(b"new")
    with open(tmp_path / "target", "rb"):
        with pytest.raises(PermissionError) as shared:
            os.replace(tmp_path / "new", tmp_path / "target")  # the old write_private
        assert shared.value.winerror == 32
    os.replace(tmp_path / "new", tmp_path / "target")  # the handle closed: it goes through
    from recorder.store import saving

    before = len(windows.violations)
    saving.os.close(saving.os.open(tmp_path / "text", os.O_WRONLY | os.O_CREAT, 0o600))  # as recorder code
    assert len(windows.violations) == before  # a test's own call is not recorder's...
    exec(compile("import os\nos.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600))",
                 str(Path(platform.__file__).parent.parent / "store" / "old.py"), "exec"), {"p": str(tmp_path / "t2")})
    assert "without O_BINARY" in windows.violations[-1]  # ...recorder's is recorded


def test_simulated_macos_has_no_posix_fallocate_and_full_fsync(macos, tmp_path):
    assert not hasattr(os, "posix_fallocate")
    with open(tmp_path / "f", "wb") as fh:
        fh.write(b"x")
        platform.fsync(fh.fileno())
    assert macos.full_fsyncs == 1
    platform.fsync_folder(tmp_path)
    assert macos.full_fsyncs == 2


# -- the platform layer under them ---------------------------------------------------

@pytest.mark.parametrize("system", ["windows", "macos"])
def test_preallocation_works_without_posix_fallocate_simulated(system, monkeypatch, tmp_path):
    getattr(foreign_os, system)(monkeypatch)
    fd = platform.open_binary(tmp_path / "r", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        platform.preallocate(fd, 3 * 2**20 + 5)
        assert os.fstat(fd).st_size == 3 * 2**20 + 5
        assert os.fstat(fd).st_blocks * 512 >= 3 * 2**20  # real blocks, not a sparse file
    finally:
        os.close(fd)


class _Session:
    def __init__(self, folder):
        self.folder, self.places, self.ending, self.parts = folder, [folder], False, []


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("system", ["windows", "macos"])
def test_the_disk_reserve_is_made_and_released_simulated(system, monkeypatch, tmp_path):
    getattr(foreign_os, system)(monkeypatch)
    folder = tmp_path / "session"
    folder.mkdir()
    guard = DiskSpaceGuard(DiskSpaceOptions(interval=60, reserve=2**20))
    guard.start(_Session(folder))
    assert (folder / RESERVE).stat().st_size == 2**20
    guard.before_seal()
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("a bug")])
def test_a_failed_reserve_leaves_no_file_and_no_handle(failure, windows, monkeypatch, tmp_path):
    """Whatever fails while the reserve is made: the handle is closed (Windows could not
    delete the file otherwise) and the file removed (verify would call it a stray)."""
    def fail(fd, size):
        raise failure

    monkeypatch.setattr(platform, "preallocate", fail)
    folder = tmp_path / "session"
    folder.mkdir()
    before = _open_fds()
    guard = DiskSpaceGuard(DiskSpaceOptions(interval=60, reserve=2**20))
    if isinstance(failure, OSError):
        guard._make_reserve(folder)
    else:
        with pytest.raises(RuntimeError):
            guard._make_reserve(folder)
    assert list(folder.iterdir()) == [] and _open_fds() == before


def test_replace_waits_out_a_sharing_violation_simulated(windows, tmp_path):
    target, new = tmp_path / "session.json", tmp_path / "new"
    target.write_bytes(b"old")
    new.write_bytes(b"new")
    reader = open(target, "rb")  # recorder list, the indexer, antivirus...
    threading.Timer(0.3, reader.close).start()
    platform.replace(new, target)
    assert target.read_bytes() == b"new" and windows.sharing_violations >= 1


def test_replace_gives_up_on_a_handle_that_stays_open_simulated(windows, monkeypatch, tmp_path):
    monkeypatch.setattr(platform.files, "REPLACE_ATTEMPTS", 3)
    target, new = tmp_path / "a", tmp_path / "b"
    target.write_bytes(b"old")
    new.write_bytes(b"new")
    with open(target, "rb"):
        with pytest.raises(PermissionError):
            platform.replace(new, target)
    assert windows.sharing_violations == 3 and target.read_bytes() == b"old"


def test_copies_are_binary_and_folders_are_never_opened_simulated(windows, tmp_path):
    data = b"line\nline\r\n\x1a\x00" * 1000
    (tmp_path / "part.mp4").write_bytes(data)
    copy_private(tmp_path / "part.mp4", tmp_path / "copy.mp4")
    assert (tmp_path / "copy.mp4").read_bytes() == data
    platform.fsync_folder(tmp_path)  # would raise EACCES if it opened the folder
    fd = platform.sync_handle(tmp_path / "copy.mp4")
    try:  # writable for FlushFileBuffers, readable for the rescue copy
        assert (os.O_ACCMODE & _flags(fd)) == os.O_RDWR
        assert platform.pread(fd, 10, 0) == data[:10]
        platform.fsync(fd)
    finally:
        os.close(fd)
    assert _findings(windows) == []


def test_the_win32_tables_declare_ctypes_types_and_load_nothing_here():
    """Every declared function has ctypes types (a bare int would cut a handle to 32 bits);
    off Windows a call is ENOSYS, and an undeclared name is refused on any system. The
    real API is called under Wine (tests/windows/test_win32_api.py)."""
    import ctypes

    from recorder.platform import win32

    # values, pointers, structures and callbacks (WNDPROC...): a bare int is none of them
    kinds = (ctypes._SimpleCData, ctypes._Pointer, ctypes.Structure, ctypes._CFuncPtr)  # type: ignore[attr-defined]
    for library in win32.LIBRARIES:
        for name, (restype, argtypes) in library.table.items():
            assert restype is None or issubclass(restype, kinds), f"{library.name}.{name}"
            assert all(issubclass(kind, kinds) for kind in argtypes), f"{library.name}.{name}"
    assert win32.kernel32.table["GetCurrentProcess"][0] is ctypes.c_void_p, "a HANDLE, pointer-wide"
    with pytest.raises(OSError) as called:
        win32.kernel32.GetCurrentProcess()
    assert called.value.errno == errno.ENOSYS
    with pytest.raises(AttributeError, match="not declared"):
        win32.kernel32.WinExec


def _flags(fd: int) -> int:
    with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("flags:")).split()[1], 8)


def test_process_liveness_never_signals_on_windows_simulated(windows):
    assert platform.process_alive(os.getpid())
    assert not platform.process_alive(2**22 + 1)
    assert windows.violations == []  # no os.kill(pid, 0): that is a console event or TerminateProcess there
    assert not platform.can_signal_for_control()


def test_one_recorder_per_profile_without_fcntl_simulated(windows, monkeypatch, tmp_path):
    from recorder.errors import UsageError
    from recorder.session.lock import ProfileLock, holder

    first = ProfileLock("rep")
    first.acquire()
    try:
        assert holder("rep") == os.getpid()
        with pytest.raises(UsageError, match="already running for profile 'rep'"):
            ProfileLock("rep").acquire()
    finally:
        first.release()
    assert holder("rep") is None


# -- owner-only ACLs and the site policy (simulated: SDDL built and read by the test) --

def test_private_folders_get_a_protected_owner_only_acl_simulated(windows, tmp_path):
    make_private_dir(tmp_path / "a" / "b")
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        sddl = windows.acls[str(folder)]
        assert sddl.startswith(f"O:{foreign_os.USER_SID}D:P(")  # protected: nothing inherited from Documents
        owner, writers = platform.sddl_writers(sddl, trusted={foreign_os.USER_SID})
        assert writers == ["S-1-5-18"] or writers == []  # SYSTEM at most, nobody else
        assert set(platform.sddl_writers(sddl, trusted=set())[1]) == {foreign_os.USER_SID, "S-1-5-18"}


@pytest.mark.parametrize("dacl", ["D:NO_ACCESS_CONTROL", "D:PNO_ACCESS_CONTROL", "D:AINO_ACCESS_CONTROL", ""])
def test_a_null_or_missing_dacl_is_writable_by_everyone_simulated(windows, tmp_path, dacl):
    """A NULL DACL (SDDL NO_ACCESS_CONTROL) or no DACL at all grants everyone every access
    on Windows: not "no access", and not "no ACE for anyone else"."""
    user = foreign_os.USER_SID
    assert platform.sddl_writers(f"O:{user}{dacl}", trusted={user}) == (user, ["S-1-1-0"])
    assert platform.sddl_writers(f"O:{user}{dacl}", trusted={user, "S-1-1-0"}) == (user, [])
    windows.acls[str(tmp_path)] = f"O:{user}{dacl}"
    assert platform.writable_by_others(tmp_path) == f"{tmp_path} can be written by other users (S-1-1-0)"


@pytest.mark.parametrize("sddl, why", [
    # C:\ProgramData as installed: Users may create files and folders
    ("O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)(A;CI;DCLCRPCR;;;BU)",
     "can be written by users who are not administrators (S-1-5-32-545)"),
    # a file a user planted first: the user owns it
    (f"O:{foreign_os.USER_SID}D:(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{foreign_os.USER_SID})",
     "does not belong to Administrators or SYSTEM"),
    ("O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1301bf;;;AU)", "S-1-5-11"),  # Authenticated Users: modify
    ("O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)", None),  # read for users: fine
    ("O:BAD:NO_ACCESS_CONTROL", "S-1-1-0"),  # a NULL DACL: everyone may do anything
    ("O:BA", "S-1-1-0"),  # no DACL at all: the same
])
def test_site_policy_must_be_the_administrators_alone_simulated(windows, tmp_path, sddl, why):
    site = tmp_path / "ProgramData" / "recorder" / "recorder.toml"
    site.parent.mkdir(parents=True)
    site.write_text("[profiles.rep]\nfps = 5.0\n", encoding="utf-8")
    admin = "O:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FR;;;BU)"
    windows.acls[str(site.parent)] = admin
    windows.acls[str(site)] = sddl
    found = platform.admin_only(site)
    assert (found is None) if why is None else (why in found)


def test_a_planted_site_config_is_refused_in_one_line_simulated(windows, monkeypatch, tmp_path):
    from recorder.config import layers
    from recorder.errors import UsageError

    site = tmp_path / "ProgramData" / "recorder" / "recorder.toml"
    site.parent.mkdir(parents=True)
    site.write_text('[profiles.rep]\nlocked = ["enabled"]\nenabled = false\n', encoding="utf-8")
    monkeypatch.setattr(layers, "SITE_CONFIG", site)
    windows.acls[str(site.parent)] = "O:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;CI;DCLCRPCR;;;BU)"
    windows.acls[str(site)] = f"O:{foreign_os.USER_SID}D:AI(A;ID;FA;;;{foreign_os.USER_SID})"
    with pytest.raises(UsageError) as refused:
        layers.file_layers(None)
    assert "refusing the site config" in str(refused.value) and "\n" not in str(refused.value)
    windows.acls[str(site.parent)] = windows.acls[str(site)] = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    assert any("enabled" in str(k) for layer in layers.file_layers(None) for k in layer.values)


# -- cloud-synced Documents ----------------------------------------------------------

def _documents_sink(monkeypatch, documents: Path, allow: bool = False):
    import recorder.plugins.documents_sink as sink

    monkeypatch.setattr(sink, "documents_dir", lambda: documents)
    return sink.DocumentsSink(sink.DocumentsOptions(allow_cloud_folder=allow)), sink


class _Rec:
    output_dir = ""


def test_onedrive_documents_are_left_for_a_local_folder_simulated(windows, monkeypatch, tmp_path, capsys):
    onedrive = tmp_path / "OneDrive - Contoso"
    monkeypatch.setenv("OneDriveCommercial", str(onedrive))
    sink, module = _documents_sink(monkeypatch, onedrive / "Documents")
    root = sink.root(_Rec())
    assert root == module.local_recordings() and "OneDrive" not in str(root)
    err = capsys.readouterr().err
    assert "synced by OneDrive" in err and len(err.strip().splitlines()) == 1
    allowed, _ = _documents_sink(monkeypatch, onedrive / "Documents", allow=True)
    assert allowed.root(_Rec()) == onedrive / "Documents" / "SessionRecordings"
    monkeypatch.delenv("OneDriveCommercial")
    assert sink.root(_Rec()) == onedrive / "Documents" / "SessionRecordings"  # not synced: Documents


def test_icloud_desktop_and_documents_is_left_for_a_local_folder_simulated(macos, monkeypatch, tmp_path):
    home = Path(os.environ["HOME"])
    (home / "Documents").mkdir(parents=True)
    sink, module = _documents_sink(monkeypatch, home / "Documents")
    assert sink.root(_Rec()) == home / "Documents" / "SessionRecordings"  # iCloud off
    (home / "Library" / "Mobile Documents" / "com~apple~CloudDocs" / "Documents").mkdir(parents=True)
    assert sink.root(_Rec()) == module.local_recordings()
    assert platform.cloud_synced(home / "Library" / "Mobile Documents" / "com~apple~CloudDocs" / "x") == "iCloud Drive"


# -- names and foreign files ---------------------------------------------------------

@pytest.mark.parametrize("name", ["CON", "nul", "COM1", "a:b", "what?", "x*", 'q"', "<a>", "a|b", "dots.", "space ",
                                  "tab\there", ".", ".."])
def test_folder_names_every_system_refuses_are_refused(name):
    assert platform.check_folder_name(name, "folder_name") is not None
    assert platform.check_folder_name(platform.safe_folder_name(name), "x") is None or name in (".", "..")


def test_support_input_becomes_a_valid_folder_name(host, tmp_settings):
    from recorder.pipeline.assembly import folder_name
    from recorder.session.model import Session

    session = Session(profile="rep", role="rep", support_id="INC:42", labels={"ticket": 'a<b>"c"'})
    name = folder_name(session, "{support_id}_{label[ticket]}_{short_id}")
    assert platform.check_folder_name(name, "x") is None and name.startswith("INC_42_a_b__c__")


def test_a_documents_folder_name_windows_refuses_is_a_config_error(run_cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[profiles.rep.documents]\nfolder_name = "CON"\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", "--config", str(config))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "folder_name" in result.stderr and "CON" in result.stderr


METADATA = [".DS_Store", "._part-001.mp4", "Icon\r", "Thumbs.db", "desktop.ini"]


def test_os_metadata_files_do_not_fail_verify_or_block_retention(host, tmp_settings):
    session = record(host, tmp_settings, 1.0)
    for name in METADATA:
        (session.folder / name).write_bytes(b"\0\x05\x16\x07")
    ok, problems = verifying.verify(session.folder)
    assert problems == [], problems
    (session.folder / "notes.txt").write_bytes(b"x")
    assert verifying.verify(session.folder)[1] == ["unexpected file in the session folder: notes.txt"]
    from recorder.plugins.retention import _only_a_session

    files = {"session.json"} | {p.file for p in session.parts}
    assert not _only_a_session(session.folder, files)
    (session.folder / "notes.txt").unlink()
    assert _only_a_session(session.folder, files)


# -- the paths a user relies on, under each simulation ---------------------------

@pytest.mark.parametrize("system", ["windows", "macos"])
def test_recording_verify_and_saving_elsewhere_simulated(system, monkeypatch, host, tmp_settings, tmp_path):
    sim = getattr(foreign_os, system)(monkeypatch)
    settings = dict(tmp_settings, guards=["disk-space"], max_part_duration=1.0)
    session = record(host, settings, 2.5)
    assert len(session.parts) >= 2 and session.end_reason
    assert verifying.verify(session.folder)[1] == []
    assert not (session.folder / RESERVE).exists()
    from recorder.store import saving

    target = tmp_path / "saved" / session.folder.name
    make_private_dir(target.parent)
    moved = saving._copy_verify_delete(session.folder, target)  # the cross-drive path: copy, verify, rename
    assert verifying.verify(moved)[1] == []
    assert _findings(sim) == []
    if system == "macos":
        assert sim.full_fsyncs > 0


def _cli(system: str, home: Path, log: Path, *args: str, **kw) -> subprocess.Popen:
    here = Path(__file__).parent
    return subprocess.Popen([sys.executable, str(here / "foreign_os.py"), system, str(log), "--", *args],
                            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", **kw)


def _run(system, home, log, *args, timeout=60):
    proc = _cli(system, home, log, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err, json.loads(log.read_text(encoding="utf-8"))


@pytest.mark.parametrize("system", ["windows", "macos"])
def test_the_cli_records_stops_lists_verifies_and_recovers_simulated(system, home, tmp_path):
    """The recorder command in a process of its own under the simulation: a recording
    ended by `recorder stop` (through the control channel: no signal), then list,
    verify and recover."""
    logs = iter(tmp_path / f"log{i}.json" for i in range(10))
    rec_log = next(logs)
    recording = _cli(system, home, rec_log, "--profile", "rep", "--source", "synthetic", "--duration", "60")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, out, err, _ = _run(system, home, next(logs), "status", "--profile", "rep", "--wait", "10")
        if code == 0:
            break
    assert code == 0, err
    if system == "windows":  # the channel is the (simulated) named pipe: its key, no Unix socket
        assert list(home.rglob("rep.key")) and not list(home.rglob("rep.sock"))
    time.sleep(1.0)
    code, out, err, found = _run(system, home, next(logs), "stop", "--profile", "rep")
    assert code == 0, err
    assert _findings(argparse_ns(found)) == []
    out, err = recording.communicate(timeout=60)
    assert recording.returncode == 0, err
    folder = Path(out.strip().splitlines()[-1])
    recorded = json.loads(rec_log.read_text(encoding="utf-8"))
    assert _findings(argparse_ns(recorded)) == [], recorded
    code, out, err, _ = _run(system, home, next(logs), "list", "--json")
    assert code == 0 and [row["folder"] for row in json.loads(out)] == [str(folder)], err
    code, out, err, _ = _run(system, home, next(logs), "verify", str(folder))
    assert code == 0, out + err
    code, out, err, _ = _run(system, home, next(logs), "recover", "--profile", "rep")
    assert code == 0, err


def test_a_lost_folder_is_rescued_through_a_readable_handle_simulated(home, tmp_path):
    """The session's folder becomes unwritable mid-recording: the part being written is
    copied out of the handle recorder keeps for fsync. On Windows that handle must be
    readable too (it was opened write-only there, and the copy failed with EBADF)."""
    output, log = tmp_path / "out", tmp_path / "log.json"
    output.mkdir(mode=0o700)
    recording = _cli("windows", home, log, "--profile", "rep", "--source", "synthetic", "--duration", "30",
                     "--output-dir", str(output))
    folder = None
    try:
        deadline = time.monotonic() + 30
        while not (found := list(output.glob("*/part-001.mp4.partial"))):
            assert time.monotonic() < deadline and recording.poll() is None
            time.sleep(0.05)
        folder = found[0].parent
        time.sleep(2)
        subprocess.run(["chattr", "+i", str(folder)], check=True)  # nobody may add or rename anything there
        out, err = recording.communicate(timeout=30)
    finally:
        if folder is not None:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        recording.kill()
    assert recording.returncode == 1 and "can no longer be written to" in err, err
    [kept] = (home / ".local" / "share" / "recorder" / "rescued").iterdir()
    manifest = json.loads((kept / "session.json").read_text(encoding="utf-8"))
    [part] = manifest["parts"]
    assert manifest["end_reason"] == "folder-lost" and part["state"] == "sealed", manifest
    assert decode(kept / part["file"]).frames == part["frames"] >= 25
    assert _findings(argparse_ns(json.loads(log.read_text(encoding="utf-8")))) == []


class argparse_ns:
    def __init__(self, found):
        self.violations = found["violations"]


# -- Windows shutdown: the window procedure fed the messages Windows sends (simulated) --

class _FakeApi:
    def __init__(self):
        self.calls = []

    def block_reason(self, hwnd, text):
        self.calls.append(("block", hwnd, text))

    def unblock(self, hwnd):
        self.calls.append(("unblock", hwnd))


def _guard_on_a_recording(host, tmp_settings):
    from recorder.pipeline.recording import Recording
    from recorder.plugins.windows_shutdown_guard import WindowsShutdownGuard
    from recorder.testing import make_profile

    recording = Recording(host, make_profile(host, dict(tmp_settings, guards=[])), duration=30)
    api = _FakeApi()
    guard = WindowsShutdownGuard(api=api)
    recording.prepare()
    guard.start(recording.session)  # not Windows: no window; the procedure is called below
    return recording, guard, api


def test_simulated_wm_queryendsession_then_wm_endsession_seal_the_session_as_interrupted(host, tmp_settings):
    from recorder.plugins import windows_shutdown_guard as w

    recording, guard, api = _guard_on_a_recording(host, tmp_settings)
    answers = {}

    def windows_shuts_down():
        time.sleep(1.0)
        answers["query"] = guard.window_procedure(0x1234, w.WM_QUERYENDSESSION, 0, 0)
        answers["ending after the question"] = recording.session.ending  # the question alone ends nothing
        started = time.monotonic()
        answers["end"] = guard.window_procedure(0x1234, w.WM_ENDSESSION, 1, 0)
        answers["waited"] = time.monotonic() - started

    threading.Thread(target=windows_shuts_down).start()
    session = recording.run()
    time.sleep(0.2)
    assert answers["query"] == 1 and answers["end"] == 0  # never vetoes; returns once sealed
    assert answers["ending after the question"] is False
    assert answers["waited"] < w.SEAL_WAIT
    assert api.calls[0] == ("block", 0x1234, w.REASON) and api.calls[-1] == ("unblock", 0x1234)
    assert session.end_reason == "interrupted"
    manifest = json.loads((session.folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "interrupted"
    assert guard.window_procedure(0x1234, 0x000F, 0, 0) is None  # WM_PAINT: Windows' default


def test_simulated_console_close_seals_within_five_seconds(host, tmp_settings):
    from recorder.plugins import windows_shutdown_guard as w

    recording, guard, api = _guard_on_a_recording(host, tmp_settings)
    answered = []
    threading.Timer(1.0, lambda: answered.append(guard.console_handler(w.CTRL_CLOSE_EVENT))).start()
    session = recording.run()
    time.sleep(0.2)
    assert answered == [True] and session.end_reason == "interrupted"
    assert guard.console_handler(0) is False  # Ctrl-C keeps its meaning


def test_simulated_shutdown_cancelled_after_the_question_goes_on_recording(host, tmp_settings):
    """Another application refused: Windows sends WM_ENDSESSION FALSE to those it asked.
    The block reason goes, the recording goes on and ends as the user ends it."""
    from recorder.plugins import windows_shutdown_guard as w

    recording, guard, api = _guard_on_a_recording(host, tmp_settings)
    seen = {}

    def windows_asks_then_cancels():
        time.sleep(0.5)
        guard.window_procedure(7, w.WM_QUERYENDSESSION, 0, w.ENDSESSION_LOGOFF)
        seen["answer"] = guard.window_procedure(7, w.WM_ENDSESSION, 0, w.ENDSESSION_LOGOFF)
        seen["ending"], seen["captured"] = recording.session.ending, recording.session.captured
        time.sleep(1.5)
        seen["captured later"] = recording.session.captured
        recording.session.request_end("user", by="test")

    threading.Thread(target=windows_asks_then_cancels).start()
    session = recording.run()
    assert seen["answer"] == 0 and seen["ending"] is False
    assert seen["captured later"] > seen["captured"]  # frames kept coming after the cancel
    assert api.calls == [("block", 7, w.REASON), ("unblock", 7)]
    assert session.end_reason == "user"
    assert not [e for e in session.events if e.by == "windows-shutdown"]


# -- control without signals on Windows (simulated: the pipe code over an AF_UNIX address) --

def test_simulated_windows_control_channel_is_a_keyed_pipe(windows):
    from recorder.control import protocol
    from recorder.control.client import Client
    from recorder.control.server import ControlServer
    from recorder.errors import UsageError
    from recorder.session.lock import runtime_dir

    path = protocol.socket_path(runtime_dir(), "rep")
    server = ControlServer(path, lambda command, args: {"did": command}, lambda: {"profile": "rep"}, lambda: [])
    server.start()
    try:
        key = path.with_suffix(".key")
        assert key.exists() and not path.exists()  # no Unix socket: a pipe and its key
        assert windows.acls.get(str(runtime_dir()), "").startswith(f"O:{foreign_os.USER_SID}D:P(")
        with Client("rep") as client:
            assert client.request("status") == {"did": "status"}
        real = key.read_bytes()
        key.write_bytes(b"00" * 32)  # a process without the user's key
        with pytest.raises(UsageError, match="permission denied"):
            Client("rep")
        key.write_bytes(real)
        with Client("rep") as client:
            assert client.request("stop") == {"did": "stop"}
    finally:
        server.close()
    assert not path.with_suffix(".key").exists()
    with pytest.raises(UsageError, match="no recorder is running"):
        Client("rep")


def test_simulated_windows_stop_never_kills_a_recorder_without_a_channel(windows):
    from click.testing import CliRunner
    from recorder.cli.control import stop_cmd
    from recorder.errors import UsageError
    from recorder.session.lock import ProfileLock

    held = ProfileLock("rep")  # a recorder that could not open its channel
    held.acquire()
    try:
        result = CliRunner().invoke(stop_cmd, ["--profile", "rep"])
    finally:
        held.release()
    assert isinstance(result.exception, UsageError) and "no control channel" in str(result.exception)
    assert [v for v in windows.violations if "os.kill" in v] == []


def test_the_replay_page_is_utf8_whatever_the_locale(run_cli):
    """replay.html holds × and ·: read in the locale's encoding (cp1252 on many Windows
    machines, ASCII here with the C locale and no UTF-8 mode) it failed or changed."""
    legacy = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": "utf-8"}
    out = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", env=legacy, check=0).stdout
    folder = out.strip().splitlines()[-1]
    page = Path(run_cli("play", folder, "--no-open", env=legacy, check=0).stdout.strip().splitlines()[-1])
    text = page.read_bytes().decode("utf-8")
    assert "1.5×" in text and "Slower [  ·  Faster ]" in text
