"""Rough edges of a recording's end (issue 30): Ctrl-C pressed again while the session is
being finished (item 2), --save-to with a sink that never asks where to save (item 3), and
what the recorder says after a restart's SIGTERM about who continues the session (item 4)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from chat_server import ChatServer
from conftest import child_signals, cli_env, recorder_command

RECORD = ("--profile", "rep", "--source", "synthetic", "--fps", "15")
EXAMPLE = Path(__file__).parent.parent / "examples" / "recorder.toml"
PROMPT = r"Save the recording to which folder\? \(Ctrl-C to decide later\) \[(.*)\]: "


def start(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([recorder_command(), *RECORD, *args], env=cli_env(home, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            preexec_fn=child_signals)


def wait_for_partial(home: Path, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list((home / "Documents").glob("SessionRecordings/*/part-001.mp4.partial"))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("part-001.mp4.partial did not appear")


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def sessions(home: Path) -> list[Path]:
    root = home / "Documents" / "SessionRecordings"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


# -- item 2: Ctrl-C again while the session is being finished ----------------------------------

def slow_chat_config(tmp_path: Path, chat) -> str:
    """A chat bridge that takes its time: finishing waits for the last notifications to be
    delivered, a window in which the user may well press Ctrl-C again."""
    config = tmp_path / "chat.toml"
    config.write_text(f'[profiles.rep]\nnotifiers = ["+webhook"]\n[profiles.rep.webhook]\nurl = "{chat.url}"\n',
                      encoding="utf-8")
    return str(config)


@pytest.mark.parametrize("gap", [0.02, 0.1, 0.6])
def test_a_second_ctrl_c_while_finishing_still_ends_with_the_report(home, run_cli, tmp_path, gap):
    """Like OBS or ffmpeg: the second Ctrl-C says what is happening and does not throw away
    the report (folder, summary, receipt head); the session is sealed, exit 0."""
    with ChatServer(delay=1.0) as chat:
        proc = start(home, "--duration", "60", "--config", slow_chat_config(tmp_path, chat))
        partial = wait_for_partial(home)
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        assert proc.poll() is None, "finished before the second Ctrl-C: the test proves nothing"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    folder = partial.parent
    assert Path(out.strip()) == folder
    assert "recorded " in err and "ended: user" in err, err
    assert "receipt head " in err, err
    assert "finishing the recording" in err, err  # what the second press was told
    assert manifest_of(folder)["state"] == "complete"
    assert run_cli("verify", str(folder)).returncode == 0


def test_a_third_ctrl_c_quits_at_once_and_the_session_is_kept(home, run_cli, tmp_path):
    """The third press forces (exit 130), as a kill would end it: what was recorded is kept,
    and the next start (or recorder recover) completes whatever was not finished."""
    with ChatServer(delay=3.0) as chat:
        proc = start(home, "--duration", "60", "--config", slow_chat_config(tmp_path, chat))
        partial = wait_for_partial(home)
        time.sleep(2.5)
        for _ in range(3):
            assert proc.poll() is None, "finished before the third Ctrl-C: the test proves nothing"
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "quitting at once" in err, err
    assert out == ""
    run_cli("recover", check=0)
    folder = partial.parent
    assert manifest_of(folder)["state"] == "complete"
    assert run_cli("verify", str(folder)).returncode == 0


def test_ctrl_c_at_the_save_prompt_still_means_decide_later(spawn_cli, run_cli):
    """Ctrl-C is the prompt's own while it asks: the session stays in staging, and the
    report follows (exit 0)."""
    child = spawn_cli("--profile", "customer", "--config", str(EXAMPLE), "--source", "synthetic",
                      "--duration", "1")
    child.expect(PROMPT)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "not saved (no location was chosen)" in child.before, child.before
    assert "receipt head " in child.before, child.before
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert row["state"] == "unsaved"


# -- item 3: --save-to with a sink that never asks ---------------------------------------------

def test_save_to_with_the_documents_sink_is_refused_in_one_line(run_cli, home, tmp_path):
    """--save-to is the answer to the save prompt given in advance; the documents sink never
    asks, so the answer would be thrown away: refused before anything is written."""
    target = tmp_path / "chosen"
    target.mkdir()
    result = run_cli(*RECORD, "--duration", "1", "--save-to", str(target))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("recorder: error: --save-to") and "'documents'" in line, line
    assert "--output-dir" in line, line
    assert result.stdout == ""
    assert list(target.iterdir()) == []
    assert not (home / "Documents").exists()
    assert json.loads(run_cli("list", "--json", check=0).stdout) == []


def test_save_to_with_an_output_folder_is_refused_in_one_line(run_cli, home, tmp_path):
    """With an output folder (flag or config) the recording stays there and nobody is asked,
    whatever the sink: --save-to would be thrown away, so the two together are refused."""
    config = tmp_path / "prompt.toml"
    config.write_text('[profiles.rep]\nsink = "prompt"\n', encoding="utf-8")
    target, output = tmp_path / "chosen", tmp_path / "out"
    target.mkdir()
    output.mkdir()
    result = run_cli("--config", str(config), *RECORD, "--duration", "1", "--output-dir", str(output),
                     "--save-to", str(target))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("recorder: error: --save-to") and "--output-dir" in line, line
    assert list(target.iterdir()) == [] and list(output.iterdir()) == []


def test_save_to_creates_only_the_last_folder_of_its_path(run_cli, home, tmp_path):
    """--save-to follows save's and export's rule (issue 30, item 9): a typo higher up is told."""
    config = tmp_path / "prompt.toml"
    config.write_text('[profiles.rep]\nsink = "prompt"\n', encoding="utf-8")
    typo = tmp_path / "typo" / "cases" / "INC-1"
    result = run_cli("--config", str(config), *RECORD, "--duration", "1", "--save-to", str(typo))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("recorder: error: --save-to:") and "does not exist" in line, line
    assert not (tmp_path / "typo").exists()
    fine = tmp_path / "cases"
    result = run_cli("--config", str(config), *RECORD, "--duration", "1", "--save-to", str(fine))
    assert result.returncode == 0, result.stderr
    assert len(list(fine.iterdir())) == 1


def test_record_duration_takes_what_people_write(run_cli, home):
    """--duration 0m2s records two seconds (issue 30, item 5, for record too); a duration that
    is none is one line, exit 2, nothing recorded."""
    result = run_cli(*RECORD, "--duration", "0m2s")
    assert result.returncode == 0, result.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    assert 1.5 <= json.loads((folder / "session.json").read_text(encoding="utf-8"))["duration"] <= 3
    bad = run_cli(*RECORD, "--duration", "10q")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
    assert "'10q' is not a duration" in bad.stderr, bad.stderr
    assert len(list((home / "Documents" / "SessionRecordings").iterdir())) == 1


# -- item 4: who continues an interrupted session ----------------------------------------------

def interrupt(home: Path, *args: str, boot: str) -> tuple[Path, str]:
    proc = start(home, "--duration", "60", *args, RECORDER_TEST_BOOT_ID=boot)
    partial = wait_for_partial(home)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return partial.parent, err


def test_after_sigterm_without_an_id_the_message_states_the_real_rule(home, run_cli):
    folder, err = interrupt(home, boot="boot-1")
    [line] = [line for line in err.splitlines() if "the session is interrupted" in line]
    # not "the next 'recorder --profile rep' continues it": on this boot, that start is a new session
    assert "after the machine restarts" in line, line
    assert "recorder --profile rep --resume" in line, line
    same_boot = run_cli(*RECORD, "--duration", "1", env={"RECORDER_TEST_BOOT_ID": "boot-1"}, check=0)
    assert "is kept as it is" in same_boot.stderr, same_boot.stderr
    assert len(sessions(home)) == 2
    assert manifest_of(folder)["parts"][0]["file"] == "part-001.mp4"


def test_what_the_message_names_continues_the_session(home, run_cli):
    """Each way the message gives is the one that continues the session."""
    folder, err = interrupt(home, boot="boot-1")
    result = run_cli(*RECORD, "--resume", "--duration", "1", env={"RECORDER_TEST_BOOT_ID": "boot-1"}, check=0)
    assert "resuming the interrupted session" in result.stderr, result.stderr
    assert sessions(home) == [folder] and len(manifest_of(folder)["parts"]) == 2

    folder, err = interrupt(home, "--session-id", "support-7", boot="boot-1")
    [line] = [line for line in err.splitlines() if "the session is interrupted" in line]
    assert "recorder --profile rep --session-id support-7" in line, line
    result = run_cli(*RECORD, "--session-id", "support-7", "--duration", "1",
                     env={"RECORDER_TEST_BOOT_ID": "boot-1"}, check=0)
    assert "resuming the interrupted session" in result.stderr, result.stderr
    assert len(manifest_of(folder)["parts"]) == 2


def test_without_an_id_a_start_after_a_restart_continues_it(home, run_cli):
    folder, _ = interrupt(home, boot="boot-1")
    result = run_cli(*RECORD, "--duration", "1", env={"RECORDER_TEST_BOOT_ID": "boot-2"}, check=0)
    assert "resuming the interrupted session" in result.stderr, result.stderr
    assert sessions(home) == [folder] and len(manifest_of(folder)["parts"]) == 2
