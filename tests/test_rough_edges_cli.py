"""Rough edges of the session commands a new user finds (issue 30, items 1, 5, 9, 10, 20):
each refusal is one clear line with exit 2, and what the commands print is what a script can use."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import click
import pytest

from conftest import child_signals, cli_env, recorder_command

CONFIG = '[profiles.rep]\nmax_part_duration = 1.0\n[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n'


def record(run_cli, tmp_path: Path, *extra: str, duration: str = "2") -> Path:
    config = tmp_path / "rough.toml"
    config.write_text(CONFIG, encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", duration,
                     *extra, check=0)
    return Path(result.stdout.strip().splitlines()[-1])


def one_line(result: subprocess.CompletedProcess, *words: str) -> str:
    """A refusal: exit 2, one line on stderr naming ``words``, nothing on stdout."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


# Item 1 ---------------------------------------------------------------------------------------------

def test_verify_of_a_session_being_recorded_is_one_line_and_leaves_no_mark(run_cli, home, tmp_path):
    config = tmp_path / "rough.toml"
    config.write_text(CONFIG, encoding="utf-8")
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--source",
                             "synthetic"], env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", preexec_fn=child_signals)
    try:
        status = json.loads(run_cli("status", "--json", "--wait", "20", check=0).stdout)
        deadline = time.monotonic() + 20
        while status.get("parts", 0) < 1 and time.monotonic() < deadline:  # a part sealed: a manifest to read
            time.sleep(0.2)
            status = json.loads(run_cli("status", "--json", check=0).stdout)
        result = run_cli("verify", status["session_id"][:8])
        one_line(result, "being recorded", "recorder stop")
        assert result.stdout == ""
        [row] = json.loads(run_cli("list", "--json", check=0).stdout)
        assert row["state"] != "damaged"
    finally:
        run_cli("stop", "--profile", "rep")
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert row["state"] == "saved"  # nothing was remembered of the refused verify
    assert "damaged" not in run_cli("info", row["id"][:8], check=0).stdout


# Item 5 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, seconds", [("90", 90.0), ("1.5", 1.5), ("90s", 90.0), ("10m", 600.0),
                                            ("1h30m", 5400.0), ("1h 30m 10s", 5410.0), ("01:30:00", 5400.0),
                                            ("1:30", 90.0), ("2.5m", 150.0), ("1H30M", 5400.0), ("1e3", 1000.0)])
def test_durations_are_read_as_people_write_them(given, seconds):
    from recorder.cli.params import Duration

    assert Duration().convert(given, None, None) == seconds


@pytest.mark.parametrize("given", ["10x", "", "m", "1:70", "1h1h", "-5", "nan", "inf", "1e400", "1::2"])
def test_a_duration_that_is_none_is_one_clear_line(given):
    from recorder.cli.params import Duration

    with pytest.raises(click.BadParameter, match="is not a duration"):
        Duration().convert(given, None, None)


def test_export_reads_durations_and_says_when_the_range_is_past_the_end(run_cli, tmp_path):
    folder = record(run_cli, tmp_path)
    clip = tmp_path / "clip.webm"
    run_cli("export", str(folder), "--format", "webm", "-o", str(clip), "--to", "1m", check=0)
    assert clip.is_file()
    one_line(run_cli("export", str(folder), "--format", "webm", "-o", str(tmp_path / "b.webm"), "--from", "10m"),
             "--from 600 s", "past the end: the session is")
    one_line(run_cli("export", str(folder), "--format", "webm", "-o", str(tmp_path / "c.webm"), "--to", "10q"),
             "--to", "'10q' is not a duration")


def test_export_refuses_to_before_from_and_a_scale_of_nothing_in_one_line(run_cli, tmp_path):
    folder = record(run_cli, tmp_path)
    out = tmp_path / "x.mp4"
    one_line(run_cli("export", str(folder), "--format", "mp4", "-o", str(out), "--from", "4", "--to", "2"),
             "--to 2 s", "before --from 4 s")
    for scale in ("0", "0x0", "1x240", "0.001"):
        one_line(run_cli("export", str(folder), "--format", "mp4", "-o", str(out), "--scale", scale),
                 f"--scale {scale!r}", "at least 2 pixels")
    assert not out.exists()


def test_export_formats_ignore_case_and_a_mismatched_extension_is_refused(run_cli, tmp_path):
    folder = record(run_cli, tmp_path)
    upper = tmp_path / "upper.mp4"
    run_cli("export", str(folder), "--format", "MP4", "-o", str(upper), check=0)
    assert upper.is_file()
    wrong = tmp_path / "x.webm"
    one_line(run_cli("export", str(folder), "--format", "mp4", "-o", str(wrong)), "mp4 writes .mp4", "x.webm")
    assert not wrong.exists()
    run_cli("export", str(folder), "--format", "webm", "-o", str(tmp_path / "LOUD.WEBM"), check=0)


def test_export_fps_says_its_real_range(run_cli, tmp_path):
    shown = " ".join(run_cli("export", "--help", check=0).stdout.split())
    assert "0.01 to 240" in shown and "x>0" not in shown
    folder = record(run_cli, tmp_path)
    one_line(run_cli("export", str(folder), "--format", "mp4", "-o", str(tmp_path / "x.mp4"), "--fps", "0.001"),
             "--fps", "0.01")


# Item 9 ---------------------------------------------------------------------------------------------

def test_save_and_export_create_only_the_last_component_of_the_path(run_cli, tmp_path):
    folder = record(run_cli, tmp_path)
    deep = tmp_path / "typo" / "cases" / "INC-1"
    one_line(run_cli("save", str(folder), str(deep)), str(tmp_path / "typo" / "cases"), "does not exist")
    assert not (tmp_path / "typo").exists() and folder.is_dir()
    one_line(run_cli("export", str(folder), "--format", "mp4", "-o", str(deep / "x.mp4")),
             str(deep), "does not exist")
    new = tmp_path / "INC-1"
    saved = Path(run_cli("save", str(folder), str(new), check=0).stdout.strip())
    assert saved.parent == new and saved.is_dir()


# Item 10 --------------------------------------------------------------------------------------------

def test_export_and_play_print_nothing_on_stderr_when_it_is_not_a_terminal(run_cli, tmp_path):
    folder = record(run_cli, tmp_path)
    exported = run_cli("export", str(folder), "--format", "webm", "-o", str(tmp_path / "x.webm"), check=0)
    assert exported.stderr == ""
    played = run_cli("play", str(folder), "--no-open", check=0)
    assert played.stderr == "" and Path(played.stdout.strip()).is_file()


def test_status_json_with_nothing_running_says_idle(run_cli):
    result = run_cli("status", "--json", check=0)
    assert json.loads(result.stdout) == {"state": "idle"}
    assert json.loads(run_cli("status", "--json", "--profile", "rep", check=0).stdout) == {"state": "idle",
                                                                                            "profile": "rep"}
    assert run_cli("status", check=2).stderr.strip() == "recorder: error: no recorder is running"
    # the verbs' waits are durations too
    assert json.loads(run_cli("status", "--json", "--wait", "0.5s", check=0).stdout) == {"state": "idle"}
    one_line(run_cli("stop", "--timeout", "1m"), "no recorder is running")
    one_line(run_cli("status", "--wait", "2h"), "--wait", "at most 3600 s")


def test_info_takes_a_support_session_id_and_says_it_in_json(run_cli, tmp_path):
    folder = record(run_cli, tmp_path, "--session-id", "INC-7.a", "--label", "ticket=INC-7")
    assert f"folder    {folder}" in run_cli("info", "INC-7.a", check=0).stdout
    assert f"folder    {folder}" in run_cli("info", "--session-id", "INC-7.a", check=0).stdout
    data = json.loads(run_cli("info", "INC-7.a", "--json", check=0).stdout)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert data["id"] == manifest["session_id"] and data["folder"] == str(folder)
    assert data["support_session_id"] == "INC-7.a" and data["labels"] == {"ticket": "INC-7"}
    assert data["state"] == "saved" and data["parts"] == len(manifest["parts"])
    assert [part["file"] for part in data["files"]] == [part["file"] for part in manifest["parts"]]
    assert [event["kind"] for event in data["events"]] == [event["kind"] for event in manifest["events"]]
    one_line(run_cli("info", "--session-id", "INC-8"), "no session", "INC-8")
    one_line(run_cli("info", "INC-7.a", "--session-id", "INC-7.a"), "give SESSION or --session-id")


# Item 20 --------------------------------------------------------------------------------------------

def test_export_metadata_keeps_labels_holding_separators_apart(run_cli, tmp_path):
    labels = {"ticket": "INC-1; rep=eve", "note": "50% = half; not a key"}
    folder = record(run_cli, tmp_path, "--session-id", "S-1",
                    *(arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")))
    out = tmp_path / "tagged.mp4"
    run_cli("export", str(folder), "--format", "mp4", "-o", str(out), check=0)
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format", str(out)],
                                      capture_output=True, text=True, encoding="utf-8", check=True).stdout)
    comment = json.loads(probe["format"]["tags"]["comment"])
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert comment == {"session": manifest["session_id"], "support_session_id": "S-1", "labels": labels}
