"""Damaged or hostile state never stops the next recording: it is named in one
line, set aside, and the recording goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recorder.testing import decode

RECORD = ("--profile", "rep", "--source", "synthetic", "--duration", "1")


def state(home: Path) -> Path:
    return home / ".local" / "state" / "recorder"


@pytest.mark.parametrize("name", ["journal/rep.json", "catalog.json", "plugins/prompt/locations.json"])
@pytest.mark.parametrize("damage", [b"", b'{"session', b"\x00\xff\xfe", b"[1, 2]", b'"text"'])
def test_a_damaged_state_file_is_set_aside_and_the_recording_goes_on(run_cli, home, name, damage):
    path = state(home) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(damage)
    result = run_cli(*RECORD, "--config", str(prompt_config(home)))
    assert result.returncode == 0, result.stderr
    if damage:  # an empty file is no entry at all
        warnings = [line for line in result.stderr.splitlines() if str(path) in line]
        assert len(warnings) == 1 and "is damaged" in warnings[0], result.stderr
        assert [p.name.split(".damaged-")[0] for p in path.parent.glob(f"{path.name}.damaged-*")] == [path.name]
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    assert decode(folder / "part-001.mp4").frames == 15
    assert "internal error" not in result.stderr


def prompt_config(home: Path) -> Path:
    """The prompt sink reads its remembered locations; no one can answer, so it saves to Documents."""
    config = home / "prompt.toml"
    config.write_text('[profiles.rep]\nsink = "prompt"\n')
    return config


def test_a_damaged_manifest_of_the_interrupted_session_does_not_block_the_profile(run_cli, home):
    folder = home / "Documents" / "SessionRecordings" / "earlier"
    folder.mkdir(parents=True)
    (folder / "session.json").write_text('{"format_version": 2, "session_id": "abc"')  # cut short
    journal = state(home) / "journal" / "rep.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"session_id": "abc", "profile": "rep", "folder": str(folder),
                                   "state": "interrupted"}))
    result = run_cli(*RECORD)
    assert result.returncode == 0, result.stderr
    assert f"{folder / 'session.json'}: damaged" in result.stderr
    sessions = [p for p in (home / "Documents" / "SessionRecordings").iterdir() if p != folder]
    assert len(sessions) == 1 and decode(sessions[0] / "part-001.mp4").frames == 15
    assert (folder / "session.json").exists(), "the damaged session is left for the user to look at"
    again = run_cli(*RECORD)
    assert again.returncode == 0 and "damaged" not in again.stderr, "said once: the journal moved on"


def test_a_journal_naming_a_folder_that_is_not_its_session_is_ignored(run_cli, home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "part-001.mp4.partial").write_bytes(b"someone else's file")
    journal = state(home) / "journal" / "rep.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"session_id": "abc", "profile": "rep", "folder": str(victim),
                                   "state": "recording"}))
    assert run_cli(*RECORD).returncode == 0
    assert (victim / "part-001.mp4.partial").read_bytes() == b"someone else's file"


def test_a_session_being_recorded_cannot_be_saved_elsewhere(run_cli, home, tmp_path):
    import subprocess
    import time

    from conftest import cli_env, recorder_command

    proc = subprocess.Popen([recorder_command(), *RECORD[:-1], "60"], env=cli_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        [row] = json.loads(run_cli("list", "--json", check=0).stdout)
        assert row["state"] == "in progress"
        refused = run_cli("save", row["id"][:8], str(tmp_path / "elsewhere"))
        assert refused.returncode == 2
        assert refused.stderr.strip() == (f"recorder: error: session {row['id'][:8]} is being recorded "
                                          f"(pid {proc.pid}) and cannot be saved; end it first: "
                                          "recorder stop --profile rep")
        assert Path(row["folder"]).is_dir() and not (tmp_path / "elsewhere").exists()
    finally:
        proc.terminate()
        proc.wait(10)


def test_recover_on_demand_leaves_the_journal_ready_to_resume(run_cli, home):
    import subprocess
    import time

    from conftest import cli_env, recorder_command

    proc = subprocess.Popen([recorder_command(), *RECORD[:-1], "60"], env=cli_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(2)
    proc.kill()
    proc.wait()
    assert "part-001.mp4: kept" in run_cli("recover", check=0).stdout
    journal = json.loads((state(home) / "journal" / "rep.json").read_text())
    assert journal["state"] == "interrupted"
    resumed = run_cli(*RECORD, check=0)
    assert "ended in a crash" not in resumed.stderr and "resuming the interrupted session" in resumed.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text())
    assert [p["file"] for p in manifest["parts"]] == ["part-001.mp4", "part-002.mp4"]
    assert all(p["state"] == "sealed" for p in manifest["parts"])
