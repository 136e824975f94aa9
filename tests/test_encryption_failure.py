"""An encryption stream that fails while recording (found under Wine with a pyrage too old
for recorder: its encrypt_io missing) ended the recorder with a segmentation fault: the
encoder muxed again into FFmpeg's output after a write had failed. Now the session ends
as an error, sealed, with what was wrong on stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import cli_env, recorder_command

BREAK_ENCRYPTION = "import pyrage\ndel pyrage.encrypt_io  # every part's encryption thread fails at once\n"


def test_a_failing_encryption_stream_ends_the_session_sealed_not_in_a_crash(home, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BREAK_ENCRYPTION, encoding="utf-8")
    config = tmp_path / "encrypt.toml"
    config.write_text('[profiles.rep]\nguards = ["+encrypt"]\n[profiles.rep.encrypt]\n'
                      'recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]\n',
                      encoding="utf-8")
    result = subprocess.run([recorder_command(), "--profile", "rep", "--config", str(config), "--source", "synthetic",
                             "--duration", "3"], env=cli_env(home, PYTHONPATH=str(tmp_path)), capture_output=True,
                            text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 1, (result.returncode, result.stderr)  # was -11: SIGSEGV
    assert "ended: error" in result.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((Path(folder) / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "error" and manifest["state"] != "writing"
