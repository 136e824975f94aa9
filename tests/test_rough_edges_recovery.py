"""Issue 30, items 16, 21 and 22: what a key, a vanishing folder or a kill leaves behind.

16: a process that holds the auditor's key (and so the decrypted video) never dumps core.
21: a folder made unwritable while recording, writable again later, is reconciled with
    its rescued copy: one session, nothing reported lost that was rescued.
22: a kill -9 while the prompt sink copies a session to another disk leaves a hidden
    half copy at the destination; the next start finishes or removes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env
from test_crash_points import check_folder, record, run
from test_encryption import encrypted_site, keys, only_session  # noqa: F401 - keys is a fixture
from test_folder_lost import rescued, start, wait_for_partial

# -- 16: no core dump of a process that holds a key -------------------------------------

# The real command, in a child that says on its way out whether it could still dump core.
REPORTING = """
import atexit, ctypes, resource, sys
report = sys.argv.pop(1)
def said():
    dumpable = ctypes.CDLL(None, use_errno=True).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
    with open(report, "w") as out:
        out.write(f"{resource.getrlimit(resource.RLIMIT_CORE)[0]} {dumpable}")
atexit.register(said)
from recorder.cli.main import main
sys.argv[0] = "recorder"
sys.exit(main())
"""


def run_reporting(home: Path, tmp_path: Path, *args: str, stdin: str = "") -> tuple[int, int]:
    """(the core size limit, PR_GET_DUMPABLE) of ``recorder ARGS`` when it exits."""
    report = tmp_path / "dumpable.txt"
    report.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", REPORTING, str(report), *args], env=cli_env(home), input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr
    limit, dumpable = report.read_text(encoding="utf-8").split()
    return int(limit), int(dumpable)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_DUMPABLE) is Linux's")
def test_a_process_holding_the_key_never_dumps_core(home, run_cli, keys, tmp_path):  # noqa: F811
    encrypted_site(home, keys["recipient"])
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", check=0)
    session = only_session(home).name.rsplit("_", 1)[1]
    assert run_reporting(home, tmp_path, "info", session)[1] == 1, "without the key nothing changes"
    key = str(keys["identity"])
    for command, stdin in ((["info", session, "--identity", key], ""),
                           (["export", session, "--format", "mp4", "-o", str(tmp_path / "out.mp4"),
                             "--identity", key], ""),
                           (["play", session, "--no-open", "--identity", key], "\n"),
                           (["recover", "--identity", key], ""),
                           # recording: the screen passes through in the clear before it is encrypted
                           (["--profile", "rep", "--source", "synthetic", "--duration", "1"], "")):
        assert run_reporting(home, tmp_path, *command, stdin=stdin) == (0, 0), command


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_DUMPABLE) is Linux's")
def test_core_dumps_are_off_after_the_platform_says_so():
    """The function itself, in a child: RLIMIT_CORE 0, not dumpable (Linux)."""
    code = ("import ctypes, resource; from recorder import platform; platform.no_core_dumps(); "
            "print(resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", check=True)
    assert done.stdout.split() == ["(0,", "0)", "0"]


# -- 21: a folder lost while recording, and found again ---------------------------------

# What `recorder recover` does with a folder it finds a crash left (when it finds this one).
RECOVER_FOLDER = ("import sys; from pathlib import Path; from recorder.host.manager import load_plugins; "
                  "from recorder.session.recovery import recover_folder; "
                  "print('\\n'.join(recover_folder(Path(sys.argv[1]), load_plugins())))")


@pytest.mark.parametrize("how", ["the next start", "recorder recover", "recovering the folder"])
def test_a_folder_made_writable_again_is_one_session_with_its_rescued_copy(home, tmp_path, how):
    output = tmp_path / "out"
    output.mkdir(mode=0o700)
    proc = start(home, output)
    folder = None
    try:
        folder = wait_for_partial(output)
        time.sleep(2)
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        proc.communicate(timeout=20)
    finally:
        if folder is not None:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        proc.kill()
    assert proc.returncode == 1
    kept = rescued(home)
    session_id = json.loads((kept / "session.json").read_text(encoding="utf-8"))["session_id"]
    # the folder found again is reconciled with the copy the recording went on in
    if how == "the next start":
        done = run(home, "--profile", "rep", "--source", "synthetic", "--duration", "1", "--output-dir", str(output))
        said = done.stderr
    elif how == "recorder recover":
        done = run(home, "recover")
        said = done.stdout
        assert "dropped" not in said, said
    else:
        done = subprocess.run([sys.executable, "-c", RECOVER_FOLDER, str(folder)], env=cli_env(home),
                              capture_output=True, text=True, encoding="utf-8", timeout=60)
        said = done.stdout
    assert done.returncode == 0, done.stderr
    assert "nothing lost" in said and str(kept) in said and "nothing on disk" not in said, said
    assert not folder.exists(), sorted(p.name for p in folder.iterdir())
    rows = json.loads(run(home, "list", "--json").stdout)
    mine = [row for row in rows if row["id"] == session_id]
    assert len(mine) == 1 and mine[0]["state"] == "saved" and Path(mine[0]["folder"]) == kept, rows
    assert run(home, "verify", str(kept)).returncode == 0
    assert run(home, "recover").stdout.strip() == "nothing to recover"


# -- 22: a move to another disk cut short by kill -9 --------------------------------------

@pytest.mark.parametrize("point", ["move:copied", "move:verified", "move:renamed", "move:deleted"])
def test_the_next_start_finishes_a_move_a_kill_cut_short(home, tmp_path, tmpfs_factory, point):
    target = tmpfs_factory("300M")  # above the disk-space guard's stop_free
    crashed = record(home, tmp_path, point, 'sink = "prompt"', "--save-to", str(target))
    assert crashed.returncode == -9, crashed.stderr
    half = [p for p in target.iterdir() if p.name.startswith(".") and p.name.endswith(".partial")]
    assert len(half) == (1 if point in ("move:copied", "move:verified") else 0)
    # the next start, not `recorder save`: a new session, saved to the default place
    config = tmp_path / "next.toml"
    config.write_text('[profiles.rep]\nsink = "prompt"\nfps = 10.0\n[profiles.rep.synthetic]\nwidth = 320\n'
                      'height = 240\nrealtime = false\n', encoding="utf-8")
    nxt = run(home, "--profile", "rep", "--source", "synthetic", "--duration", "1", "--config", str(config))
    assert nxt.returncode == 0, nxt.stderr
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == [], "no half copy left behind"
    assert "the move a crash cut short is finished" in nxt.stderr, nxt.stderr
    rows = json.loads(run(home, "list", "--json").stdout)
    [first] = [row for row in rows if row["support_session_id"] == "crash-1"]
    assert len([row for row in rows if row["id"] == first["id"]]) == 1
    assert Path(first["folder"]).parent == target and first["state"] == "saved", first
    assert check_folder(Path(first["folder"])) == list(range(20))
    staging = home / ".local" / "share" / "recorder" / "staging"
    assert not staging.is_dir() or not [p for p in staging.iterdir() if first["id"][:8] in p.name]
    events = json.loads((Path(first["folder"]) / "session.json").read_text(encoding="utf-8"))["events"]
    assert events[-1]["kind"] == "saved", events[-1]
    assert run(home, "verify", first["folder"]).returncode == 0


def test_the_next_start_removes_a_half_copy_that_is_not_whole(home, tmp_path, tmpfs_factory):
    """A copy cut short part-way (here: a part torn at the destination) is not finished: it goes,
    and the session stays where it was staged, unsaved, with a line saying how to save it."""
    target = tmpfs_factory("300M")
    crashed = record(home, tmp_path, "move:copied", 'sink = "prompt"', "--save-to", str(target))
    assert crashed.returncode == -9, crashed.stderr
    [half] = [p for p in target.iterdir() if p.name.startswith(".")]
    torn = half / "part-001.mp4"
    torn.write_bytes(torn.read_bytes()[:1000])
    config = tmp_path / "next.toml"
    config.write_text('[profiles.rep]\nfps = 10.0\n[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n'
                      'realtime = false\n', encoding="utf-8")
    nxt = run(home, "--profile", "rep", "--source", "synthetic", "--duration", "1", "--config", str(config))
    assert nxt.returncode == 0, nxt.stderr
    assert "was cut short; the recording stays in" in nxt.stderr, nxt.stderr
    assert list(target.iterdir()) == []
    rows = json.loads(run(home, "list", "--json").stdout)
    [first] = [row for row in rows if row["support_session_id"] == "crash-1"]
    assert first["state"] == "unsaved" and Path(first["folder"]).parent.name == "staging", first
    assert check_folder(Path(first["folder"])) == list(range(20))
    assert run(home, "save", first["id"][:8], str(target)).returncode == 0
    assert [p.name for p in target.iterdir()] == [Path(first["folder"]).name]
