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
