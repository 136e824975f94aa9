"""Damaged or hostile state never stops the next recording: it is named in one
line, set aside, and the recording goes on."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    config.write_text('[profiles.rep]\nsink = "prompt"\n', encoding="utf-8")
    return config


def test_a_damaged_manifest_of_the_interrupted_session_does_not_block_the_profile(run_cli, home):
    folder = home / "Documents" / "SessionRecordings" / "earlier"
    folder.mkdir(parents=True)
    (folder / "session.json").write_text('{"format_version": 2, "session_id": "abc"', encoding="utf-8")  # cut short
    journal = state(home) / "journal" / "rep.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"session_id": "abc", "profile": "rep", "folder": str(folder),
                                   "state": "interrupted"}), encoding="utf-8")
    result = run_cli(*RECORD)
    assert result.returncode == 0, result.stderr
    assert f"{folder / 'session.json'}: damaged" in result.stderr
    sessions = [p for p in (home / "Documents" / "SessionRecordings").iterdir() if p != folder]
    assert len(sessions) == 1 and decode(sessions[0] / "part-001.mp4").frames == 15
    assert (folder / "session.json").exists(), "the damaged session is left for the user to look at"
    again = run_cli(*RECORD)
    assert again.returncode == 0 and "damaged" not in again.stderr, "said once: the journal moved on"


def test_a_manifest_nested_deeper_than_json_goes_is_damage_not_a_crash(run_cli, home):
    """A session.json planted (or fetched) nested 100,000 deep: list and verify say it is damaged."""
    folder = home / "Documents" / "SessionRecordings" / "deep"
    folder.mkdir(parents=True)
    (folder / "session.json").write_text('{"format_version": 6, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                         encoding="utf-8")
    result = run_cli("verify", str(folder))
    assert result.returncode in (1, 2) and "damaged" in result.stderr + result.stdout, result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    listed = run_cli("list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr


def test_a_journal_naming_a_folder_that_is_not_its_session_is_ignored(run_cli, home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "part-001.mp4.partial").write_bytes(b"someone else's file")
    journal = state(home) / "journal" / "rep.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({"session_id": "abc", "profile": "rep", "folder": str(victim),
                                   "state": "recording"}), encoding="utf-8")
    assert run_cli(*RECORD).returncode == 0
    assert (victim / "part-001.mp4.partial").read_bytes() == b"someone else's file"


def test_a_session_being_recorded_cannot_be_saved_elsewhere(run_cli, home, tmp_path):
    import subprocess
    import time

    from conftest import child_signals, cli_env, recorder_command

    proc = subprocess.Popen([recorder_command(), *RECORD[:-1], "60"], env=cli_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=child_signals)
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

    from conftest import child_signals, cli_env, recorder_command

    proc = subprocess.Popen([recorder_command(), *RECORD[:-1], "60"], env=cli_env(home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    deadline = time.monotonic() + 20
    while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(2)
    proc.kill()
    proc.wait()
    assert "part-001.mp4: kept" in run_cli("recover", check=0).stdout
    journal = json.loads((state(home) / "journal" / "rep.json").read_text(encoding="utf-8"))
    assert journal["state"] == "interrupted"
    resumed = run_cli(*RECORD, "--resume", check=0)
    assert "ended in a crash" not in resumed.stderr and "resuming the interrupted session" in resumed.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert [p["file"] for p in manifest["parts"]] == ["part-001.mp4", "part-002.mp4"]
    assert all(p["state"] == "sealed" for p in manifest["parts"])


@pytest.mark.parametrize("variable", ["XDG_STATE_HOME", "XDG_DATA_HOME"])
def test_an_xdg_folder_that_is_a_file_is_one_line(run_cli, home, tmp_path, variable):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    config = tmp_path / "prompt.toml"  # the prompt sink stages under XDG_DATA_HOME
    config.write_text('[profiles.rep]\nsink = "prompt"\n', encoding="utf-8")
    result = run_cli(*RECORD, "--config", str(config), env={variable: str(blocker)})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("recorder: error: ") and str(blocker) in line, line


def test_folders_are_private_whatever_the_umask(home):
    import os
    import stat
    import subprocess

    from conftest import cli_env, recorder_command

    subprocess.run([recorder_command(), *RECORD], env=cli_env(home), check=True, capture_output=True,
                   preexec_fn=lambda: os.umask(0))
    created = [home / "Documents", home / "Documents" / "SessionRecordings", state(home),
               *(home / "Documents" / "SessionRecordings").iterdir()]
    for folder in created:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in home.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


@contextlib.contextmanager
def umask_kept():
    """main() sets the process umask (077) as the command does: not for the other tests."""
    import os

    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def small_session(tmp_path_factory):
    from recorder.testing import TmpSinkPlugin, make_host, record

    root = tmp_path_factory.mktemp("flags")
    settings = {"source": "synthetic", "sink": "tmp", "fps": 10.0, "synthetic": {"width": 160, "height": 120},
                "tmp": {"directory": str(root / "sessions")}}
    return record(make_host(TmpSinkPlugin()), settings, duration=1.0).folder


number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
                   st.sampled_from(["", "x", "1e999", "-0", "0x10", "nan", "inf", "1" * 400]))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(start=number, stop=number, fps=number, scale=st.one_of(number, st.text(max_size=20),
                                                                 st.sampled_from(["99999999x2", "0.0", "4.5"])))
def test_any_value_of_any_export_flag_is_exit_0_or_2(small_session, tmp_path_factory, start, stop, fps, scale):
    from recorder.cli.main import main

    out = tmp_path_factory.mktemp("export") / "out.gif"
    argv = ["export", str(small_session), "--format", "gif", "-o", str(out), "--from", str(start), "--to", str(stop),
            "--fps", str(fps), "--scale", str(scale)]
    with pytest.raises(SystemExit) as ended, umask_kept():
        main(argv)
    assert ended.value.code in (0, 2), argv
    if ended.value.code == 2:
        assert not out.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(command=st.sampled_from(["list", "stop", "recover"]),
       profile=st.one_of(st.text(max_size=70), st.sampled_from(["../x", "Rep", "rep\n", "a" * 65])))
def test_any_profile_name_given_to_a_command_is_exit_0_or_2(command, profile):
    from recorder.cli.main import main

    with pytest.raises(SystemExit) as ended, umask_kept():
        main([command, "--profile", profile])
    assert ended.value.code in (0, 2)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
# durations: short ones, or ones that must be refused (a valid long one would record for that long)
@given(duration=st.one_of(st.floats(0.05, 0.3), st.floats(max_value=0), st.floats(min_value=7 * 86400 + 1),
                          st.sampled_from(["nan", "inf", "-inf", "", "x", "1e999", "0x10"])),
       fps=st.one_of(st.floats(0.5, 240), number),
       folder=st.text(min_size=1, max_size=30), save_to=st.one_of(st.none(), st.text(min_size=1, max_size=30)))
def test_any_value_of_any_recording_flag_is_exit_0_or_2(tmp_path_factory, duration, fps, folder, save_to):
    from recorder.cli.main import main

    root = tmp_path_factory.mktemp("flags")
    config = root / "fast.toml"
    config.write_text("[profiles.rep]\nguards = []\nnotifiers = []\n"
                      "[profiles.rep.synthetic]\nwidth = 160\nheight = 120\nrealtime = false\n", encoding="utf-8")
    argv = ["--profile", "rep", "--source", "synthetic", "--config", str(config), "--duration", str(duration),
            "--fps", str(fps), "--output-dir", str(root / folder)]
    if save_to is not None:
        argv += ["--save-to", str(root / save_to)]
    with pytest.raises(SystemExit) as ended, umask_kept():
        main(argv)
    assert ended.value.code in (0, 2), argv
