"""A third-party encoder's part survives kill -9: crash recovery loads the
plugins and asks the encoder named in the manifest to repair its own part."""

from __future__ import annotations

import json
import subprocess
import time

from conftest import child_signals, cli_env, recorder_command
from installed import install_plugin
from recorder import sha256_file
from recorder.testing import decode

from matroska_plugin import SOURCE as MATROSKA



def test_a_matroska_part_killed_mid_recording_is_recovered_by_its_encoder(tmp_path):
    site = install_plugin(tmp_path / "site", "mpeg4-mkv", MATROSKA)
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(home, PYTHONPATH=str(site))
    config = tmp_path / "c.toml"
    config.write_text('[profiles.rep]\nencoder = "mpeg4-mkv"\nfps = 10.0\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--source",
                             "synthetic", "--duration", "60"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    deadline = time.monotonic() + 20
    partial = None
    while partial is None and time.monotonic() < deadline:
        partial = next((home / "Documents").rglob("part-001.mkv.partial"), None)
        time.sleep(0.1)
    assert partial is not None, "the recording did not start"
    time.sleep(4)
    proc.kill()
    proc.wait()
    folder = partial.parent
    assert json.loads((folder / "session.json").read_text(encoding="utf-8"))["parts"][0]["encoder"] == "mpeg4-mkv"

    result = subprocess.run([recorder_command(), "recover"], env=env, capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 0, result.stderr
    assert "part-001.mkv: kept" in result.stdout, result.stdout
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    [part] = manifest["parts"]
    assert part["state"] == "sealed" and part["file"] == "part-001.mkv"
    assert part["sha256"] == sha256_file(folder / "part-001.mkv")
    video = decode(folder / "part-001.mkv")
    assert video.frames == part["frames"] >= 25, "about a second lost at most of 4 s at 10 fps"
    assert manifest["state"] == "interrupted" and manifest["end_reason"] == "crashed"
    assert not (folder / "part-001.mkv.partial").exists()
