"""Crash at every step of every multi-step write, the way storage engines test
atomic commit: the process is killed (SIGKILL) at each named point of
``recorder.disk.crashpoints``, then recovered, and the session folder must be
exactly what its manifest says, with no frame lost that had reached a
complete fragment."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import av
import pytest
from conftest import child_signals, cli_env, recorder_command
from recorder import sha256_file
from recorder.plugins.synthetic_source import frame_number_of
from recorder.disk.crashpoints import POINTS
from test_chapters import FINISH
from test_legal_hold import HOLD

ROOT = Path(__file__).parent.parent
# 20 frames as fast as they can be encoded, timed as if taken at 10 fps.
SETTINGS = """
[profiles.rep]
fps = 10.0
{extra}
[profiles.rep.synthetic]
width = 320
height = 240
realtime = false
"""


def run(home: Path, *args: str, crash: str = "", config: Path | None = None, env: dict | None = None):
    extra = {"RECORDER_TEST_CRASH_AT": crash} if crash else {}
    command = [recorder_command(), *args] + (["--config", str(config)] if config else [])
    return subprocess.run(command, env=cli_env(home, **extra, **(env or {})), capture_output=True, text=True,
                          timeout=120, encoding="utf-8")


def record(home: Path, tmp_path: Path, crash: str, extra: str = "", *flags: str):
    config = tmp_path / "crash.toml"
    config.write_text(SETTINGS.format(extra=extra), encoding="utf-8")
    return run(home, "--profile", "rep", "--source", "synthetic", "--duration", "2", "--session-id", "crash-1",
               *flags, crash=crash, config=config)


def frame_numbers(path: Path) -> list[int]:
    numbers = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            plane = frame.reformat(format="gray").planes[0]
            data, stride = bytes(plane), plane.line_size
            numbers.append(frame_number_of(lambda x, y: data[y * stride + x]))
    return numbers


def check_folder(folder: Path) -> list[int]:
    """The folder is exactly its manifest; returns every frame number recorded, in order."""
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    listed = {"session.json"} | {part["file"] for part in manifest["parts"]}
    assert sorted(p.name for p in folder.iterdir()) == sorted(listed), "stray or missing files"
    numbers: list[int] = []
    previous = ""
    for part in manifest["parts"]:
        assert part["state"] == "sealed", part
        assert part["sha256"] == sha256_file(folder / part["file"])
        assert part["previous_sha256"] == previous
        previous = part["sha256"]
        found = frame_numbers(folder / part["file"])
        assert len(found) == part["frames"], part
        numbers += found
    assert manifest["frames"] == len(numbers)
    return numbers


def session_folder(home: Path) -> Path:
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    return folder


def test_every_crash_point_is_reached_by_the_harness():
    used = set()
    for path in [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:  # plugins: recorder.crash_point
        used |= set(re.findall(r'crash_point\("([a-z]+:[a-z]+)"\)', path.read_text(encoding="utf-8")))
    assert used == set(POINTS), "a point is listed but never reached in the code, or the reverse"
    tested = set(SEAL) | set(SPLIT) | set(RECOVER) | set(MOVE) | set(REWRAP) | {"write:temporary"}
    tested |= set(FINISH)  # finishing a part with its chapters: tests/test_chapters.py
    tested |= set(HOLD)  # a legal hold on a finished session: tests/test_legal_hold.py
    assert tested == set(POINTS), "every point has a crash test below"


SEAL = ["seal:closed", "seal:renamed", "seal:hashed", "seal:recorded"]
SPLIT = ["split:created", "split:opened"]


@pytest.mark.parametrize("point", SEAL + SPLIT + [f"write:temporary@{n}" for n in (1, 2, 3, 5, 8, 13)])
def test_a_crash_at_each_step_of_recording_loses_no_complete_fragment(home, tmp_path, point):
    splits = point in SPLIT
    crashed = record(home, tmp_path, point, "max_part_duration = 1.0" if splits else "")
    assert crashed.returncode == -9, crashed.stderr
    recovered = run(home, "recover")
    assert recovered.returncode == 0, recovered.stderr
    if not list((home / "Documents" / "SessionRecordings").glob("*/session.json")):
        assert point.startswith("write:temporary"), "only a crash before the first manifest leaves none"
        assert record(home, tmp_path, "", "").returncode == 0  # the next start clears what is left
        stray = [p for p in (home / "Documents").rglob("*") if p.is_file() and p.parent.joinpath(
            "session.json").exists() is False]
        assert stray == [], "nothing was recorded, and nothing is left of it"
        return
    folder = session_folder(home)
    numbers = check_folder(folder)
    assert numbers == list(range(len(numbers))), "frames in order, none missing inside"
    if point in SEAL:
        assert len(numbers) == 20, "the writer had closed: every frame was in a complete fragment"
    elif splits:
        assert len(numbers) >= 10, "the first part was complete when the crash came"
    assert run(home, "recover").stdout.strip() == "nothing to recover", "recovery is idempotent"
    resumed = record(home, tmp_path, "", "")
    assert resumed.returncode == 0, resumed.stderr
    check_folder(session_folder(home))
    verified = run(home, "verify", str(session_folder(home)))
    assert verified.returncode == 0, verified.stdout


RECOVER = ["recover:repaired", "recover:renamed", "recover:recorded"]


@pytest.mark.parametrize("point", RECOVER)
def test_a_crash_during_recovery_is_recovered_by_the_next_recovery(home, tmp_path, point):
    assert record(home, tmp_path, "seal:closed").returncode == -9
    assert run(home, "recover", crash=point).returncode == -9
    again = run(home, "recover")
    assert again.returncode == 0, again.stderr
    numbers = check_folder(session_folder(home))
    assert numbers == list(range(20))
    journal = json.loads((home / ".local" / "state" / "recorder" / "journal" / "rep.json").read_text(encoding="utf-8"))
    assert journal["state"] == "interrupted"


MOVE = ["move:copied", "move:verified", "move:renamed", "move:deleted"]


@pytest.mark.parametrize("point", MOVE)
def test_a_crash_while_saving_to_another_disk_keeps_one_whole_copy(home, tmp_path, tmpfs_factory, point):
    target = tmpfs_factory("300M")  # above the disk-space guard's stop_free
    crashed = record(home, tmp_path, point, 'sink = "prompt"', "--save-to", str(target))
    assert crashed.returncode == -9, crashed.stderr
    rows = json.loads(run(home, "list", "--json").stdout)
    assert {row["id"] for row in rows} and len({row["id"] for row in rows}) == 1
    whole = [Path(row["folder"]) for row in rows]
    for folder in whole:
        assert check_folder(folder) == list(range(20))
    saved = run(home, "save", rows[0]["id"][:8], str(target))
    assert saved.returncode == 0, saved.stderr
    [row] = json.loads(run(home, "list", "--json").stdout)
    assert row["state"] == "saved" and Path(row["folder"]).parent == target
    assert check_folder(Path(row["folder"])) == list(range(20))
    assert [p.name for p in target.iterdir()] == [Path(row["folder"]).name], "no half copy left behind"
    assert run(home, "verify", row["folder"]).returncode == 0


# -- encrypted parts (the encrypt guard): the same steps, and the key holder's recover --identity

@pytest.fixture
def age_key(tmp_path):
    from pyrage import x25519

    identity = x25519.Identity.generate()
    path = tmp_path / "auditor.key"
    path.write_text(f"{identity}\n", encoding="utf-8")
    return path, str(identity.to_public()), identity


def encrypted(recipient: str, extra: str = "") -> str:
    return f'guards = ["+encrypt"]\n{extra}\n[profiles.rep.encrypt]\nrecipients = ["{recipient}"]\n'


def check_encrypted_folder(folder: Path, identity) -> list[int]:
    """As check_folder, decrypting each part in memory first."""
    import pyrage

    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    listed = {"session.json"} | {part["file"] for part in manifest["parts"]}
    listed |= {name for part in manifest["parts"] for name in part["sidecars"]}
    assert sorted(p.name for p in folder.iterdir()) == sorted(listed), "stray or missing files"
    numbers, previous = [], ""
    for part in manifest["parts"]:
        assert part["state"] == "sealed" and part["stream"] == "age", part
        assert part["sha256"] == sha256_file(folder / part["file"]) and part["previous_sha256"] == previous
        previous = part["sha256"]
        plain = folder.parent / "plain.mp4"
        plain.write_bytes(pyrage.decrypt((folder / part["file"]).read_bytes(), [identity]))
        try:
            found = frame_numbers(plain)
        finally:
            plain.unlink()
        assert len(found) == part["frames"], part
        numbers += found
    return numbers


@pytest.mark.parametrize("point", SEAL + SPLIT)
def test_a_crash_at_each_step_of_an_encrypted_recording_loses_no_complete_fragment(home, tmp_path, point, age_key):
    key, recipient, identity = age_key
    splits = point in SPLIT
    crashed = record(home, tmp_path, point, encrypted(recipient, "max_part_duration = 1.0" if splits else ""))
    assert crashed.returncode == -9, crashed.stderr
    assert run(home, "recover").returncode == 0
    whole = run(home, "recover", "--identity", str(key))
    assert whole.returncode == 0, whole.stderr
    numbers = check_encrypted_folder(session_folder(home), identity)
    assert numbers == list(range(len(numbers))), "frames in order, none missing inside"
    if point in SEAL:
        assert len(numbers) == 20, "the writer had closed: every frame was in the sealed age file"
    elif splits:
        assert len(numbers) >= 10, "the first part was complete when the crash came"


REWRAP = ["rewrap:written", "rewrap:recorded", "rewrap:renamed"]


@pytest.mark.parametrize("point", REWRAP)
def test_a_crash_while_the_key_holder_joins_a_part_and_its_tail_is_finished_by_the_next_run(
        home, tmp_path, point, age_key):
    key, recipient, identity = age_key
    config = tmp_path / "live.toml"
    config.write_text(SETTINGS.format(extra=encrypted(recipient)).replace("realtime = false", "realtime = true"), encoding="utf-8")
    child = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "30",
                              "--config", str(config)], env=cli_env(home), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    deadline = time.monotonic() + 30
    while not list((home / "Documents").rglob("*.tail")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    child.kill()
    child.wait(30)
    assert run(home, "recover").returncode == 0
    folder = session_folder(home)
    [part] = json.loads((folder / "session.json").read_text(encoding="utf-8"))["parts"]
    assert part["sidecars"], "the kill left a tail"
    crashed = run(home, "recover", "--identity", str(key), crash=point)
    assert crashed.returncode == -9, crashed.stderr
    finished = run(home, "recover", "--identity", str(key))
    assert finished.returncode == 0, finished.stderr
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert not manifest["parts"][0]["sidecars"]
    numbers = check_encrypted_folder(folder, identity)
    assert numbers == list(range(len(numbers))) and len(numbers) >= 10, "killed 2.5 s in: at least 1 s kept"
    assert run(home, "recover", "--identity", str(key)).stdout.strip() == "nothing to recover"
