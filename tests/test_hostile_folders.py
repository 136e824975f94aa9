"""Folders other users can write to: recorder refuses to record or save there,
and never writes through a link another user planted. Uses a real second
Unix user, created here (needs root, as in CI; fails rather than skips)."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest
from recorder.testing import decode

OTHER = "recorder-other"
RECORD = ("--profile", "rep", "--source", "synthetic", "--duration", "1")


@pytest.fixture(scope="session")
def other_user() -> pwd.struct_passwd:
    if os.getuid() != 0:
        pytest.fail("these tests create a second Unix user: run them as root, as CI does")
    try:
        return pwd.getpwnam(OTHER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
                       check=True)
        return pwd.getpwnam(OTHER)


@pytest.fixture
def public(tmp_path_factory):
    """A folder the other user can reach (pytest's own temporary folders are 0700)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="recorder-test-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_other(*command: str) -> None:
    subprocess.run(["runuser", "-u", OTHER, "--", *command], check=True)


def shared_folder(path: Path, mode: int, owner: pwd.struct_passwd | None = None) -> Path:
    path.mkdir()
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_recording_into_a_folder_others_can_write_is_refused(run_cli, tmp_path, other_user):
    os.chmod(tmp_path, 0o755)
    world = shared_folder(tmp_path / "world", 0o777)
    line = one_error_line(run_cli(*RECORD, "--output-dir", str(world)))
    assert line == (f"recorder: error: refusing to record into {world}: {world} can be written by other users "
                    "(mode 0777); choose a folder only you can write to (--output-dir)")
    assert list(world.iterdir()) == []
    theirs = shared_folder(tmp_path / "theirs", 0o755, other_user)
    line = one_error_line(run_cli(*RECORD, "--output-dir", str(theirs)))
    assert f"{theirs} belongs to another user" in line
    assert list(theirs.iterdir()) == []


def test_saving_into_a_folder_others_can_write_is_refused(run_cli, home, tmp_path, other_user):
    run_cli(*RECORD, check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    world = shared_folder(tmp_path / "world", 0o777)
    line = one_error_line(run_cli("save", str(folder), str(world)))
    assert "can be written by other users" in line
    assert folder.is_dir() and list(world.iterdir()) == []


def test_export_never_writes_through_a_planted_link(run_cli, home, public, other_user):
    run_cli(*RECORD, check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    drop = shared_folder(public / "drop", 0o1777)  # like /tmp: shared, sticky
    victim = home / "precious.txt"
    victim.write_text("the user's own file", encoding="utf-8")
    out = drop / "session.mp4"
    as_other("ln", "-s", str(victim), str(out))
    # the names recorder 0.1 used for its temporary file, for every pid it could get
    as_other("sh", "-c", 'for pid in $(seq 300 97 70000); do ln -s "$1" "$2/.session.mp4.partial-$pid"; done',
             "-", str(victim), str(drop))
    refused = run_cli("export", str(folder), "--format", "mp4", "-o", str(out))
    assert "exists; use --force" in one_error_line(refused)
    run_cli("export", str(folder), "--format", "mp4", "-o", str(out), "--force", check=0)
    assert victim.read_text(encoding="utf-8") == "the user's own file"
    assert not out.is_symlink() and out.stat().st_mode & 0o777 == 0o600 and out.stat().st_uid == os.getuid()
    assert decode(out).frames == 15
    assert not [p for p in drop.iterdir() if not p.is_symlink() and p != out], "nothing left behind"


def test_an_export_in_progress_is_private_and_unpredictable(run_cli, home, public, tmp_path, other_user):
    """While written, the export lives in a 0700 folder with a random name beside the
    output; nothing of it is ever readable by others or at a name known in advance."""
    import time

    config = tmp_path / "noise.toml"
    config.write_text("[profiles.rep.synthetic]\nwidth = 640\nheight = 360\nnoise = true\n", encoding="utf-8")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "4", check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    drop = shared_folder(public / "drop", 0o1777)
    from conftest import child_signals, cli_env, recorder_command

    proc = subprocess.Popen([recorder_command(), "export", str(folder), "--format", "webm", "-o",
                             str(drop / "out.webm")], env=cli_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    seen: dict[str, int] = {}
    while proc.poll() is None:
        for entry in drop.rglob("*"):
            try:
                seen[str(entry.relative_to(drop))] = entry.lstat().st_mode
            except FileNotFoundError:
                pass
        time.sleep(0.02)
    assert proc.returncode == 0
    during = {name: mode for name, mode in seen.items() if name != "out.webm"}
    assert during, "the export finished before it could be observed"
    for name, mode in during.items():
        top = name.split("/")[0]
        assert top.startswith(".out.webm.") and top.endswith(".partial") and len(top) > len(".out.webm..partial")
        assert mode & 0o077 == 0, f"{name} is {mode & 0o777:04o} while written"
    assert [p.name for p in drop.iterdir()] == ["out.webm"]
