"""Recording as a user does it: the installed command, a real X server, real files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import av

from recorder import sha256_file
from recorder.testing import decode

from conftest import ANIMATION


def only_session(root: Path) -> Path:
    sessions = [p for p in root.iterdir() if p.is_dir()]
    assert len(sessions) == 1, sessions
    return sessions[0]


def test_records_the_screen_into_documents(run_cli, home, xdisplay):
    result = run_cli("--profile", "rep", "--duration", "3", display=xdisplay.name, check=0)

    root = home / "Documents" / "SessionRecordings"
    folder = only_session(root)
    assert result.stdout.strip() == str(folder)
    assert folder.name.endswith("_rep_" + json.loads((folder / "session.json").read_text(encoding="utf-8"))["session_id"][:8])
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["profile"] == "rep" and manifest["role"] == "rep"
    assert manifest["end_reason"] == "duration" and manifest["state"] == "complete"
    [part] = manifest["parts"]
    assert part["state"] == "sealed"
    video = decode(folder / part["file"])
    assert (video.codec, video.width, video.height) == ("h264", xdisplay.width, xdisplay.height)
    assert abs(video.duration - 3.0) <= 0.5
    assert video.frames == part["frames"] == manifest["frames"]
    assert part["sha256"] == sha256_file(folder / part["file"])
    assert part["size"] == (folder / part["file"]).stat().st_size
    assert sorted(p.name for p in folder.iterdir()) == ["part-001.mp4", "session.json"]
    for path in (root, folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kinds = [event["kind"] for event in manifest["events"]]
    assert kinds[0] == "started" and kinds[-1] == "stopped"


def test_region_capture_sees_the_moving_window(run_cli, home, tmp_path, xdisplay):
    left, top, width, height = ANIMATION
    config = tmp_path / "region.toml"
    config.write_text(f"[profiles.rep.mss]\nregion = [{left}, {top}, {width - 1}, {height - 1}]\n", encoding="utf-8")
    run_cli("--profile", "rep", "--config", str(config), "--duration", "2", "--fps", "10",
            display=xdisplay.name, check=0)
    folder = only_session(home / "Documents" / "SessionRecordings")
    video = decode(folder / "part-001.mp4")
    # odd sizes are trimmed to even ones, which yuv420p needs
    assert (video.width, video.height) == (width - 2, height - 2)
    with av.open(str(folder / "part-001.mp4")) as container:
        frames = [bytes(frame.planes[0]) for frame in container.decode(video=0)]
    assert len(set(frames)) > len(frames) // 2, "the animated window should change between frames"


def test_output_dir_overrides_documents(run_cli, home, tmp_path, xdisplay):
    target = tmp_path / "elsewhere"
    run_cli("--profile", "customer", "--output-dir", str(target), "--duration", "1",
            display=xdisplay.name, check=0)
    folder = only_session(target)
    assert "_customer_" in folder.name
    assert not (home / "Documents").exists()


def test_without_a_display_says_how_to_proceed(run_cli, home):
    result = run_cli("--profile", "rep", "--duration", "1", check=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no screen to capture" in lines[0] and "--source synthetic" in lines[0] and "xvfb-run" in lines[0]
    assert not (home / "Documents").exists()


def test_synthetic_source_needs_no_display(run_cli, home):
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "2", "--fps", "10", check=0)
    folder = only_session(home / "Documents" / "SessionRecordings")
    video = decode(folder / "part-001.mp4")
    assert video.frames == 20
    assert abs(video.duration - 2.0) < 0.05


def test_a_recording_carries_its_support_session_id_and_labels(run_cli, home, tmp_path):
    import av

    config = tmp_path / "named.toml"
    config.write_text('[profiles.rep]\nfolder_template = "{label[ticket]}_{support_id}_{short_id}"\n', encoding="utf-8")
    args = ("--profile", "rep", "--source", "synthetic", "--duration", "1", "--config", str(config))
    folder = Path(run_cli(*args, "--session-id", "S-42", "--label", "ticket=INC-1", "--label", "customer=Müller",
                          check=0).stdout.strip())
    assert folder.name.startswith("INC-1_S-42_")
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["support_session_id"] == "S-42" and manifest["labels"] == {"ticket": "INC-1",
                                                                                 "customer": "Müller"}
    run_cli(*args, env={"RECORDER_SESSION_ID": "S-43"}, check=0)
    found = json.loads(run_cli("list", "--label", "ticket=INC-1", "--json", check=0).stdout)
    assert [row["support_session_id"] for row in found] == ["S-42"]
    assert [row["support_session_id"] for row in json.loads(
        run_cli("list", "--session-id", "S-43", "--json", check=0).stdout)] == ["S-43"]
    assert "ticket=INC-1" in run_cli("list", check=0).stdout
    assert "support   S-42  ticket=INC-1  customer=Müller" in run_cli("info", str(folder), check=0).stdout
    out = tmp_path / "s.mp4"
    run_cli("export", str(folder), "--format", "mp4", "-o", str(out), check=0)
    with av.open(str(out)) as container:
        assert container.metadata["title"] == "Support session S-42"
        assert json.loads(container.metadata["comment"])["labels"]["ticket"] == "INC-1"
    for bad in (("--session-id", "../x"), ("--label", "ticket"), ("--label", "Ticket=1"),
                ("--label", "ticket=a/b"), ("--session-id", "x" * 200)):
        result = run_cli(*args, *bad)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, (bad, result.stderr)
