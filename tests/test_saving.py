"""Prompted save location, moving sessions, the catalog and integrity checks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pexpect
import pytest

from recorder import SaveError, move_session
from recorder.testing import decode

EXAMPLE = Path(__file__).parent.parent / "examples" / "recorder.toml"
PROMPT = r"Save the recording to which folder\? \(Ctrl-C to decide later\) \[(.*)\]: "
RECORD = ("--profile", "customer", "--config", str(EXAMPLE), "--source", "synthetic", "--duration", "2")


def staging(home: Path) -> Path:
    return home / ".local" / "share" / "recorder" / "staging"


def ask_and_answer(spawn_cli, answer: str, *args: str, **env: str) -> tuple[str, str]:
    child = spawn_cli(*(args or RECORD), **env)
    child.expect(PROMPT)
    default = child.match.group(1)
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return default, child.before


def test_prompt_offers_the_last_location_and_saves_there(spawn_cli, run_cli, home, xdisplay):
    first = home / "Recordings" / "customer"
    # the example config's customer profile as it is: the real screen, prompt mode
    default, _ = ask_and_answer(spawn_cli, str(first), "--profile", "customer", "--config", str(EXAMPLE),
                                "--duration", "2", DISPLAY=xdisplay.name)
    assert default == str(home / "Documents" / "SessionRecordings")
    [saved] = first.iterdir()
    assert not list(staging(home).iterdir())
    assert oct(first.stat().st_mode & 0o777) == "0o700"

    default, _ = ask_and_answer(spawn_cli, "")  # Enter accepts the remembered location
    assert default == str(first)
    assert len(list(first.iterdir())) == 2

    other = home / "Elsewhere"
    default, _ = ask_and_answer(spawn_cli, str(other))
    assert default == str(first)
    assert len(list(other.iterdir())) == 1

    verified = run_cli("verify", str(saved), check=0).stdout
    assert verified.strip().endswith(f"{saved}: verified")
    manifest = json.loads((saved / "session.json").read_text(encoding="utf-8"))
    assert manifest["events"][-1]["kind"] == "saved" and "(asked)" in manifest["events"][-1]["text"]
    rows = json.loads(run_cli("list", "--json", check=0).stdout)
    assert len(rows) == 4 - 1  # three sessions
    row = next(r for r in rows if r["folder"] == str(saved))
    assert row["state"] == "saved" and abs(row["duration"] - 2.0) < 0.1 and row["parts"] == 1


def test_a_bad_answer_is_explained_and_asked_again(spawn_cli, home):
    blocker = home / "a-file"
    blocker.write_text("", encoding="utf-8")
    child = spawn_cli(*RECORD)
    child.expect(PROMPT)
    child.sendline(str(blocker))
    child.expect(f"{blocker} is not a folder")
    child.expect(PROMPT)
    child.sendline(str(home / "good"))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert len(list((home / "good").iterdir())) == 1


@pytest.mark.parametrize("give_up", ["\x03", "\x04"], ids=["ctrl-c", "ctrl-d"])
def test_giving_up_keeps_the_recording_unsaved_until_saved_later(spawn_cli, run_cli, home, give_up):
    child = spawn_cli(*RECORD)
    child.expect(PROMPT)
    child.send(give_up)
    child.expect("save it with: recorder save ([0-9a-f]{8}) DIR")
    short_id = child.match.group(1)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    [staged] = staging(home).iterdir()
    listing = run_cli("list", check=0).stdout
    assert "unsaved" in listing and f"recorder save {short_id} DIR" in listing
    target = home / "later"
    saved = Path(run_cli("save", short_id, str(target), check=0).stdout.strip())
    assert saved.parent == target and not staged.exists()
    assert run_cli("verify", short_id, check=0).stdout.strip().endswith("verified")
    assert json.loads(run_cli("list", "--json", check=0).stdout)[0]["state"] == "saved"


def test_without_a_terminal_the_default_location_is_used_and_said(run_cli, home):
    result = run_cli(*RECORD, check=0)  # nothing remembered: the default, named as such (issue 30, item 11)
    assert "no one to ask where to save; saving to the default location" in result.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    events = json.loads((folder / "session.json").read_text(encoding="utf-8"))["events"]
    assert events[-1]["kind"] == "saved" and "(default)" in events[-1]["text"]


def test_save_to_answers_in_advance_and_is_checked_before_recording(run_cli, home):
    target = home / "chosen"
    run_cli(*RECORD, "--save-to", str(target), check=0)
    assert len(list(target.iterdir())) == 1
    blocker = home / "file"
    blocker.write_text("", encoding="utf-8")
    result = run_cli(*RECORD, "--save-to", str(blocker))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "--save-to" in line and str(blocker) in line and "is a file" in line
    assert not list(staging(home).iterdir())


def test_save_across_filesystems_copies_verifies_and_removes_staging(spawn_cli, run_cli, home,
                                                                    tmpfs_factory):
    mount = tmpfs_factory("20m")
    ask_and_answer(spawn_cli, str(mount / "recordings"))
    [saved] = (mount / "recordings").iterdir()
    assert not list(staging(home).iterdir())
    assert not [p for p in (mount / "recordings").iterdir() if p.name.startswith(".")]
    assert run_cli("verify", str(saved), check=0).stdout.strip().endswith("verified")


def test_a_failed_copy_leaves_the_staged_session_intact(run_cli, home, tmpfs_factory):
    run_cli(*RECORD, "--fps", "30", "--save-to", str(home / "first"), check=0)
    [session] = (home / "first").iterdir()
    before = {p.name: p.read_bytes() for p in session.iterdir()}
    tiny = tmpfs_factory("8k")  # smaller than the session: the copy runs out of space
    with pytest.raises(SaveError, match=f"it is still in {session}"):
        move_session(session, tiny)
    assert {p.name: p.read_bytes() for p in session.iterdir()} == before
    assert list(tiny.iterdir()) == []


def frame_numbers(path):
    from test_pipeline import frame_numbers as numbers
    return numbers(path)


@pytest.mark.parametrize("limit", ["max_part_duration = 1.0", "max_part_size = \"600KB\""])
def test_splitting_is_gapless(run_cli, home, tmp_path, limit):
    config = tmp_path / "split.toml"
    config.write_text(f"[profiles.rep]\n{limit}\n"
                      "[profiles.rep.synthetic]\nwidth = 320\nheight = 240\nnoise = true\n", encoding="utf-8")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--fps", "15",
            "--duration", "4", check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    parts = manifest["parts"]
    assert len(parts) >= 3
    numbers, times = [], []
    for part in parts:
        path = folder / part["file"]
        numbers += frame_numbers(path)
        video = decode(path)
        assert video.times[0] == 0.0
        times += [part["start"] + t for t in video.times]
        if "size" in limit:
            assert part["size"] <= 600_000
    assert numbers == list(range(60)), "every frame exactly once, in order"
    steps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.03 < step < 0.1 for step in steps), steps
    assert abs(sum(part["duration"] for part in parts) - 4.0) < 0.1
    assert run_cli("verify", str(folder), check=0).returncode == 0


def test_verify_names_what_is_wrong(run_cli, home, tmp_path):
    config = tmp_path / "split.toml"
    config.write_text("[profiles.rep]\nmax_part_duration = 1.0\n", encoding="utf-8")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "3.5",
            check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    assert run_cli("verify", str(folder)).returncode == 0

    def fresh_copy() -> Path:
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy)
        return copy

    copy = fresh_copy()
    (copy / "part-002.mp4").unlink()
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert "PROBLEM  part-002.mp4 is missing" in result.stdout

    copy = fresh_copy()
    manifest = json.loads((copy / "session.json").read_text(encoding="utf-8"))
    del manifest["parts"][1]  # a part removed, manifest edited to hide it
    (copy / "session.json").write_text(json.dumps(manifest), encoding="utf-8")
    (copy / "part-002.mp4").unlink()
    result = run_cli("verify", str(copy))
    assert result.returncode == 1
    assert "part-003.mp4: hash chain broken" in result.stdout

    copy = fresh_copy()
    with open(copy / "part-001.mp4", "r+b") as fh:
        fh.seek(2000)
        fh.write(b"\x00" * 16)
    (copy / "notes.txt").write_text("x", encoding="utf-8")
    result = run_cli("verify", str(copy))
    assert "part-001.mp4: SHA-256 does not match" in result.stdout
    assert "unexpected file in the session folder: notes.txt" in result.stdout


def test_info_shows_parts_and_events(run_cli, home):
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", check=0)
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    info = run_cli("info", row["id"][:6], check=0).stdout
    assert f"session   {row['id']}" in info
    assert "part-001.mp4" in info and "sealed" in info
    assert "(duration)" in info and "started" in info and "stopped" in info
    assert run_cli("info", "ffffffffff").returncode == 2


def test_retention_deletes_the_oldest_saved_sessions_only(run_cli, home, tmp_path):
    for _ in range(3):
        run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", check=0)
    # an unsaved one: in staging, must survive
    run_cli(*RECORD, "--save-to", str(home / "x"), check=0)
    rows = json.loads(run_cli("list", "--json", "--profile", "rep", check=0).stdout)
    keep = rows[-1]["size"] + rows[-2]["size"] + 100
    config = tmp_path / "retention.toml"
    config.write_text(f"[profiles.rep]\nguards = [\"retention\"]\n[profiles.rep.retention]\n"
                      f"keep_total_size = {keep}\n", encoding="utf-8")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1",
            check=0)
    after = json.loads(run_cli("list", "--json", "--profile", "rep", check=0).stdout)
    # the oldest goes; the two that fit the limit stay (the new session is not counted)
    assert [r["id"] for r in after][:2] == [rows[1]["id"], rows[2]["id"]] and len(after) == 3
    assert not Path(rows[0]["folder"]).exists()
    newest = json.loads((Path(after[-1]["folder"]) / "session.json").read_text(encoding="utf-8"))
    deleted = [e["text"] for e in newest["events"] if e["kind"] == "retention"]
    assert len(deleted) == 1 and rows[0]["folder"] in deleted[0] and "in total" in deleted[0]
    assert len(json.loads(run_cli("list", "--json", "--profile", "customer", check=0).stdout)) == 1


def test_folder_dialog_on_a_display(home, tmp_path, xdisplay):
    """The tkinter dialog on a real X server, answered with xdotool as a person would."""
    import subprocess
    import time

    from conftest import child_signals, cli_env, recorder_command

    config = tmp_path / "dialog.toml"
    config.write_text('[profiles.rep]\nsink = "prompt"\n[profiles.rep.prompt]\nask = "dialog"\n', encoding="utf-8")
    env = cli_env(home, xdisplay.name)
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config),
                             "--source", "synthetic", "--duration", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    xdotool = lambda *args: subprocess.run(["xdotool", *args], env=env, capture_output=True,  # noqa: E731
                                           text=True, encoding="utf-8").stdout
    deadline = time.monotonic() + 30
    while not (window := xdotool("search", "--onlyvisible", "--name", "Save the session recording").split()):
        assert time.monotonic() < deadline, "the folder dialog did not appear"
        time.sleep(0.2)
    time.sleep(0.5)  # let Tk finish laying out the dialog
    target = home / "picked-in-dialog"
    xdotool("windowfocus", "--sync", window[0], "type", "--delay", "5", str(target))
    geometry = dict(line.strip().split(": ", 1) for line in xdotool("getwindowgeometry", window[0]).splitlines()[1:])
    width, height = map(int, geometry["Geometry"].split("x"))
    for _ in range(5):  # under Xvfb without a window manager Tk can miss the first click
        xdotool("mousemove", "--window", window[0], str(width - 51), str(height - 51), "click", "1")  # OK
        try:
            proc.wait(2)
            break
        except subprocess.TimeoutExpired:
            continue
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    [saved] = target.iterdir()
    assert Path(out.strip()) == saved
    events = json.loads((saved / "session.json").read_text(encoding="utf-8"))["events"]
    assert "(dialog)" in events[-1]["text"]


def _remember_many(home: str, worker: int) -> None:
    import types

    os.environ["HOME"] = home
    from recorder.store import catalog

    for n in range(25):
        catalog.remember(types.SimpleNamespace(id=f"{worker}-{n}", folder=f"/x/{worker}/{n}", profile="rep"))


def test_the_catalog_keeps_every_entry_when_recorders_finish_at_once(home, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("HOME", str(home))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_remember_many, args=(str(home), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    index = json.loads((home / ".local" / "state" / "recorder" / "catalog.json").read_text(encoding="utf-8"))
    assert len(index) == 100
