"""The session folder deleted or made read-only while recording: noticed within a
second, the user is told, and what was recorded is kept and sealed in recorder's
own folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import child_signals, cli_env, recorder_command
from recorder.testing import decode


def start(home: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "30",
                             "--output-dir", str(output)], env=cli_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def wait_for_partial(output: Path) -> Path:
    deadline = time.monotonic() + 20
    while not (found := list(output.glob("*/part-001.mp4.partial"))):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return found[0].parent


def rescued(home: Path) -> Path:
    [folder] = (home / ".local" / "share" / "recorder" / "rescued").iterdir()
    return folder


@pytest.mark.parametrize("how", ["deleted", "read-only"])
def test_a_folder_taken_away_while_recording_costs_nothing_recorded(home, tmp_path, how):
    output = tmp_path / "out"
    output.mkdir(mode=0o700)
    proc = start(home, output)
    folder = None
    try:
        folder = wait_for_partial(output)
        time.sleep(2)
        taken = time.monotonic()
        if how == "deleted":
            shutil.rmtree(folder)
        else:  # immutable: nobody, root included, may add, rename or remove anything in it
            subprocess.run(["chattr", "+i", str(folder)], check=True)
        out, err = proc.communicate(timeout=20)
        assert time.monotonic() - taken < 3, "noticed and sealed within a couple of seconds"
    finally:
        if how == "read-only" and folder is not None:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        proc.kill()
    assert proc.returncode == 1, err
    said = [line for line in err.splitlines() if "The folder the recording is written to" in line]
    assert said and ("was deleted" in said[0] or "can no longer be written to" in said[0]), err
    kept = rescued(home)
    assert Path(out.strip()) == kept
    manifest = json.loads((kept / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "folder-lost" and manifest["state"] == "complete"
    [part] = manifest["parts"]
    assert part["state"] == "sealed" and decode(kept / part["file"]).frames == part["frames"] >= 25
    verify = subprocess.run([recorder_command(), "verify", str(kept)], env=cli_env(home), capture_output=True,
                            text=True, encoding="utf-8")
    assert verify.returncode == 0, verify.stdout
