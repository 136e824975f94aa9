"""The receipt: kept by the support tool, outside the session folder, it proves
later that nothing was taken out of the recording, even with the manifest edited
to hide it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def record(run_cli, tmp_path: Path, events: Path) -> Path:
    config = tmp_path / "receipt.toml"
    config.write_text(f'[profiles.rep]\nnotifiers = ["+events-file"]\nmax_part_duration = 1.0\n'
                      f'[profiles.rep.events-file]\npath = "{events}"\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "3",
                     "--session-id", "S-9", check=0)
    assert "receipt head " in result.stderr
    return Path(result.stdout.strip())


def test_a_session_verifies_against_its_receipt(run_cli, home, tmp_path):
    events = tmp_path / "events.jsonl"
    folder = record(run_cli, tmp_path, events)
    [receipt] = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()
                 if json.loads(line)["kind"] == "receipt"]
    assert receipt["support_session_id"] == "S-9" and len(receipt["parts"]) == 3
    assert run_cli("verify", str(folder), "--receipt", str(events), check=0).stdout.strip().endswith("verified")
    assert run_cli("verify", str(folder), "--receipt", receipt["head"], check=0)
    assert receipt["audience"] == ["rep"], "kept by the support tool, not shown to the customer"


def _hide(folder: Path, index: int) -> None:
    """Delete a part and edit the manifest so that nothing inside the folder shows it."""
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    part = manifest["parts"].pop(index)
    (folder / part["file"]).unlink()
    previous = ""
    for n, other in enumerate(manifest["parts"], 1):
        other["index"], other["previous_sha256"], previous = n, previous, other["sha256"]
    manifest["frames"] -= part["frames"]
    manifest["duration"] = round(manifest["duration"] - part["duration"], 3)
    (folder / "session.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("tamper, named", [
    ("last", "part-003.mp4 (part last of 3) is missing"),
    ("middle", "part-002.mp4 (part number 2 of 3) is missing"),
    ("total", "the manifest's duration (3600.0) is not the receipt's"),
])
def test_tampering_is_caught_and_named(run_cli, home, tmp_path, tamper, named):
    events = tmp_path / "events.jsonl"
    folder = record(run_cli, tmp_path, events)
    if tamper == "last":
        _hide(folder, 2)
        assert run_cli("verify", str(folder)).returncode == 0, "without the receipt nothing shows it"
    elif tamper == "middle":
        _hide(folder, 1)
    else:
        manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        manifest["duration"] = 3600.0
        (folder / "session.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run_cli("verify", str(folder), "--receipt", str(events))
    assert result.returncode == 1
    assert f"PROBLEM  receipt: {named}" in result.stdout, result.stdout
