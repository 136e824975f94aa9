"""recorder verify cross-checks what the manifest says of itself, remembers what it
found (list and info show a failed session as damaged), and checks every session at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFIG = '[profiles.rep]\nmax_part_duration = 1.0\n[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n'


def record(run_cli, tmp_path: Path, *extra: str) -> Path:
    config = tmp_path / "verify.toml"
    config.write_text(CONFIG, encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "3",
                     *extra, check=0)
    return Path(result.stdout.strip())


def edit(folder: Path, change) -> None:
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    change(manifest)
    (folder / "session.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("change, named", [
    ("last part", "the manifest's duration ("),  # about 3 s: a loaded machine's session may be 2.998 s
    ("frames", "the manifest's frame count (1) disagrees with its parts"),
    ("numbering", "the parts are numbered [1, 3, 3]"),
    ("resumed", "the resumed event at 1.0 s names part 9, but the manifest lists 3"),
])
def test_verify_names_each_disagreement_between_the_manifest_and_its_parts(run_cli, tmp_path, change, named):
    folder = record(run_cli, tmp_path)
    assert run_cli("verify", str(folder), check=0).stdout.strip().endswith("verified")

    def tamper(manifest):
        if change == "last part":
            part = manifest["parts"].pop()
            (folder / part["file"]).unlink()
        elif change == "frames":
            manifest["frames"] = 1
        elif change == "numbering":
            manifest["parts"][1]["index"] = 3
        elif change == "resumed":
            manifest["events"].append({"t": 1.0, "time": manifest["started_at"], "kind": "resumed",
                                       "text": "session resumed in part 9", "level": "info", "by": "recorder",
                                       "data": {"part": 9}})

    edit(folder, tamper)
    result = run_cli("verify", str(folder))
    assert result.returncode == 1 and named in result.stdout, result.stdout
    # Until it verifies again, list and info say so.
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert row["state"] == "damaged"
    assert "damaged (recorder verify at" in run_cli("info", str(folder), check=0).stdout


def test_verify_all_checks_every_session_and_a_repaired_one_is_saved_again(run_cli, tmp_path):
    good = record(run_cli, tmp_path, "--session-id", "A-1")
    bad = record(run_cli, tmp_path, "--session-id", "B-2")
    original = (bad / "session.json").read_text(encoding="utf-8")
    edit(bad, lambda manifest: manifest.update(frames=manifest["frames"] + 5))
    result = run_cli("verify", "--all")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith("ok") and str(good) in line for line in lines)
    assert any(line.startswith("DAMAGED") and str(bad) in line and "frame count" in line for line in lines)
    assert "1 of 2 session(s) damaged" in result.stderr
    (bad / "session.json").write_text(original, encoding="utf-8")
    assert run_cli("verify", "--all", check=0).stdout.strip().endswith("2 session(s) checked")
    assert {row["state"] for row in json.loads(run_cli("list", "--json", check=0).stdout)} == {"saved"}


def test_verify_needs_a_session_or_all(run_cli):
    assert "give a SESSION" in run_cli("verify", check=2).stderr
    assert "--all verifies every session" in run_cli("verify", "--all", "x", check=2).stderr
