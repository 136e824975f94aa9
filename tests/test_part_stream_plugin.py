"""A part stream from outside recorder (examples/recorder-checksum), installed as a user would:
record through it, verify, take a receipt, export and play, with no change in core."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

from recorder import sha256_file

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "recorder-checksum"
CONFIG = ('[profiles.rep]\nguards = ["+checksum"]\nmax_part_duration = 1.0\n'
          '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n')


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example package, built and installed by pip into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("build") / EXAMPLE.name  # pip builds in the tree: a copy of it
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    assert (target / "recorder_checksum.py").is_file()
    return target


def test_a_third_party_part_stream_records_verifies_exports_and_plays(run_cli, home, tmp_path, site):
    env = {"PYTHONPATH": str(site)}
    plugins = run_cli("plugins", env=env, check=0).stdout
    assert "part_stream" in plugins and "sha256-sidecar" in plugins, plugins
    config = tmp_path / "checksum.toml"
    config.write_text(CONFIG, encoding="utf-8")
    done = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "3",
                   env=env, check=0)
    folder = Path(done.stdout.strip().splitlines()[0])
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    parts = manifest["parts"]
    assert len(parts) >= 2
    for part in parts:
        assert part["stream"] == "sha256-sidecar" and part["stream_meta"] == {"algorithm": "sha256"}
        sidecar = folder / (part["file"] + ".sha256")
        assert sidecar.read_text(encoding="utf-8") == f"{sha256_file(folder / part['file'])}  {part['file']}\n"
        assert part["sidecars"] == {sidecar.name: sha256_file(sidecar)}
    # verify asks the stream, and core checks the sidecars' own hashes
    verified = run_cli("verify", str(folder), env=env, check=0).stdout
    assert verified.count("matches its SHA-256 sidecar") == len(parts), verified
    [head] = re.findall(r"receipt head ([0-9a-f]{64})", done.stderr)  # a receipt that lists the sidecars
    assert "matches the receipt" in run_cli("verify", str(folder), "--receipt", head, env=env, check=0).stdout
    # export and play read the parts as they are (the stream protects nothing)
    out = tmp_path / "out.mp4"
    assert run_cli("export", folder.name.rsplit("_", 1)[1], "--format", "mp4", "-o", str(out), env=env,
                   check=0).stdout.strip() == str(out)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 40
    page = Path(run_cli("play", str(folder), "--no-open", env=env, check=0).stdout.strip())
    assert page.name == "index.html" and (folder / parts[0]["file"]).as_uri() in page.read_text(encoding="utf-8")
    # a part that no longer matches its sidecar is found by the stream's check
    first = folder / parts[0]["file"]
    (folder / (parts[0]["file"] + ".sha256")).write_text(f"{'0' * 64}  {parts[0]['file']}\n", encoding="utf-8")
    tampered = run_cli("verify", str(first.parent), env=env)
    assert tampered.returncode == 1 and "SHA-256 does not match the manifest" in tampered.stdout



@pytest.mark.parametrize("point", ["seal:closed", "split:created", "split:opened"])
def test_a_crash_is_recovered_through_the_third_party_stream(run_cli, home, tmp_path, site, point):
    """Crash recovery asks the part's stream (not its encoder) what to keep, including for a part
    the manifest did not name yet; the next start resumes and the session verifies."""
    env = {"PYTHONPATH": str(site)}
    config = tmp_path / "checksum.toml"
    config.write_text(CONFIG.replace("[profiles.rep.synthetic]", "fps = 10.0\n[profiles.rep.synthetic]\nrealtime = false"),
                      encoding="utf-8")
    args = ("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "2",
            "--session-id", "crash-1")
    crashed = run_cli(*args, env=dict(env, RECORDER_TEST_CRASH_AT=point))
    assert crashed.returncode == -9, crashed.stderr
    recovered = run_cli("recover", env=env, check=0).stdout
    assert "checksummed; kept as written" in recovered, recovered
    run_cli(*args, env=env, check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert all(p["state"] == "sealed" and p["stream"] == "sha256-sidecar" and p["sidecars"] for p in manifest["parts"])
    verified = run_cli("verify", str(folder), env=env, check=0).stdout
    assert verified.count("matches its SHA-256 sidecar") == len(manifest["parts"]), verified
