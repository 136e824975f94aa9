"""Restart, crash and power loss: seal, resume in a new part, recover what a crash left."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pexpect
import pytest

from recorder.testing import decode

from conftest import child_signals, cli_env, recorder_command

# The support tool names its session: a start with the same id continues an interrupted recording.
RECORD = ("--profile", "rep", "--source", "synthetic", "--fps", "15", "--session-id", "support-1")


def start(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([recorder_command(), *RECORD, *args], env=cli_env(home, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def sessions(home: Path) -> list[Path]:
    root = home / "Documents" / "SessionRecordings"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def wait_for_partial(home: Path, name: str = "part-001.mp4.partial", timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list((home / "Documents").glob(f"SessionRecordings/*/{name}"))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"{name} did not appear")


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def test_sigterm_seals_then_the_next_start_resumes_in_a_new_part(home, run_cli):
    proc = start(home, "--duration", "60")
    partial = wait_for_partial(home)
    time.sleep(2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 0, err
    assert "continues it in a new part" in err
    folder = partial.parent
    first = manifest_of(folder)
    assert first["state"] == "interrupted" and first["end_reason"] == "interrupted"
    assert decode(folder / "part-001.mp4").frames == first["parts"][0]["frames"]
    [listed] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert listed["state"] == "interrupted" and listed["id"] == first["session_id"]

    time.sleep(1)
    result = run_cli(*RECORD, "--duration", "3", check=0)
    assert "resuming the interrupted session" in result.stderr
    assert sessions(home) == [folder]
    final = manifest_of(folder)
    assert final["session_id"] == first["session_id"] and final["state"] == "complete"
    assert [p["file"] for p in final["parts"]] == ["part-001.mp4", "part-002.mp4"]
    assert final["parts"][1]["previous_sha256"] == final["parts"][0]["sha256"]
    [gap] = [e for e in final["events"] if e["kind"] == "gap"]
    assert gap["data"]["start"] == pytest.approx(first["parts"][0]["duration"], abs=0.3)
    assert gap["data"]["end"] - gap["data"]["start"] >= 0.9
    assert final["parts"][1]["start"] >= gap["data"]["end"] - 0.2
    for part in final["parts"]:
        assert decode(folder / part["file"]).frames == part["frames"]
    assert abs(final["parts"][1]["duration"] - 3.0) < 0.2
    assert run_cli("verify", str(folder)).returncode == 0


def test_kill_9_at_random_moments_loses_about_a_second_at_most(home, run_cli):
    rng = random.Random(20261125)
    kills = []
    for round_ in range(3):
        proc = start(home, "--duration", "60")
        wait_for_partial(home, f"part-{round_ + 1:03d}.mp4.partial")
        time.sleep(rng.uniform(2.0, 4.0))  # at least one 1-second fragment is complete
        proc.kill()
        killed_at = datetime.now().astimezone()
        proc.wait()
        kills.append(killed_at)
    result = run_cli(*RECORD, "--duration", "1", check=0)
    assert "ended in a crash; recovered it" in result.stderr
    [folder] = sessions(home)
    manifest = manifest_of(folder)
    assert manifest["state"] == "complete" and len(manifest["parts"]) == 4
    started = datetime.fromisoformat(manifest["started_at"])
    crashes = [e for e in manifest["events"] if e["kind"] == "crashed"]
    assert len(crashes) == 3
    for part, killed_at in zip(manifest["parts"], kills):
        assert decode(folder / part["file"]).frames == part["frames"] > 0
        lost = (killed_at - started).total_seconds() - (part["start"] + part["duration"])
        assert lost < 1.3, f"{part['file']}: {lost:.2f} s lost"
    assert run_cli("verify", str(folder)).returncode == 0


def test_logind_prepare_for_shutdown_takes_the_sigterm_path(home, run_cli, tmp_path):
    for tool in ("dbus-daemon", "dbus-send"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install dbus)")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, text=True, encoding="utf-8")
    address = bus.stdout.readline().strip()
    try:
        config = tmp_path / "logind.toml"
        config.write_text('[profiles.rep.logind]\nbus = "session"\n', encoding="utf-8")
        proc = start(home, "--config", str(config), "--duration", "60", DBUS_SESSION_BUS_ADDRESS=address)
        partial = wait_for_partial(home)
        time.sleep(1.5)
        subprocess.run(["dbus-send", "--session", "--type=signal", "/org/freedesktop/login1",
                        "org.freedesktop.login1.Manager.PrepareForShutdown", "boolean:true"],
                       env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address), check=True)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
    finally:
        bus.terminate()
        bus.wait(5)
    manifest = manifest_of(partial.parent)
    assert manifest["end_reason"] == "interrupted" and manifest["state"] == "interrupted"
    requested = next(e for e in manifest["events"] if e["kind"] == "end-requested")
    assert requested["by"] == "logind" and requested["text"] == "PrepareForShutdown"
    assert any("paused" in e["text"] for e in manifest["events"] if e["kind"] == "notification")


def test_new_session_leaves_the_interrupted_one_as_it_is(home, run_cli):
    proc = start(home, "--duration", "60")
    partial = wait_for_partial(home)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    result = run_cli(*RECORD, "--duration", "1", "--new-session", check=0)
    assert "is kept as it is (--new-session)" in result.stderr
    old, new = sessions(home)
    assert old == partial.parent
    assert manifest_of(old)["state"] == "complete" and manifest_of(old)["end_reason"] == "interrupted"
    assert len(manifest_of(old)["parts"]) == 1 and manifest_of(new)["session_id"] != manifest_of(old)["session_id"]


def test_an_old_interrupted_session_is_closed_not_resumed(home, run_cli, tmp_path):
    proc = start(home, "--duration", "60")
    wait_for_partial(home)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    config = tmp_path / "limit.toml"
    config.write_text("[profiles.rep]\nresume_within = 0.0001\n", encoding="utf-8")  # 0.36 s
    time.sleep(1)
    result = run_cli(*RECORD, "--config", str(config), "--duration", "1", check=0)
    assert "interrupted more than" in result.stderr
    assert len(sessions(home)) == 2


def test_one_recorder_per_profile_and_recorder_stop_ends_it_normally(home, run_cli):
    proc = start(home, "--duration", "60")
    partial = wait_for_partial(home)
    second = run_cli(*RECORD, "--duration", "1")
    assert second.returncode == 2
    assert f"already running for profile 'rep' (pid {proc.pid})" in second.stderr
    stopped = run_cli("stop", "--profile", "rep", check=0)
    assert f"pid {proc.pid}" in stopped.stdout
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    manifest = manifest_of(partial.parent)
    assert manifest["end_reason"] == "user" and manifest["state"] == "complete"
    assert run_cli("stop").returncode == 2  # nothing running


def test_recover_on_demand_reports_each_part(home, run_cli):
    proc = start(home, "--duration", "60")
    partial = wait_for_partial(home)
    time.sleep(2.5)
    proc.kill()
    proc.wait()
    assert json.loads(run_cli("list", "--json", check=0).stdout)[0]["state"] == "incomplete"
    out = run_cli("recover", check=0).stdout
    assert "part-001.mp4: kept" in out and "frames" in out
    assert json.loads(run_cli("list", "--json", check=0).stdout)[0]["state"] == "interrupted"
    assert decode(partial.parent / "part-001.mp4").frames > 15
    assert run_cli("recover", check=0).stdout.strip() == "nothing to recover"


def test_before_a_restart_the_user_saves_then_the_resumed_session_ends_there(home, spawn_cli, run_cli):
    record = ("--profile", "customer", "--source", "synthetic", "--config", str(
        Path(__file__).parent.parent / "examples" / "recorder.toml"), "--session-id", "support-2")
    child = spawn_cli(*record, "--duration", "60")
    staging = home / ".local" / "share" / "recorder" / "staging"
    deadline = time.monotonic() + 20
    while not list(staging.glob("*/part-001.mp4.partial")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.5)
    os.kill(child.pid, signal.SIGTERM)
    child.expect(r"The machine is restarting\. Save the recording so far to which folder\?.*\[(.*)\]: ")
    target = home / "Saved before restart"
    child.sendline(str(target))
    child.expect(pexpect.EOF)
    child.close()
    [folder] = target.iterdir()
    assert manifest_of(folder)["state"] == "interrupted"
    assert not list(staging.iterdir())

    child = spawn_cli(*record, "--duration", "2")
    child.expect(r"Save the recording to which folder\? \(Ctrl-C to decide later\) \[(.*)\]: ")
    assert child.match.group(1) == str(target)
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert list(target.iterdir()) == [folder]
    manifest = manifest_of(folder)
    assert [p["file"] for p in manifest["parts"]] == ["part-001.mp4", "part-002.mp4"]
    assert manifest["state"] == "complete"
    assert run_cli("verify", str(folder)).returncode == 0


def test_windows_shutdown_event_interrupts_the_session(host, tmp_settings):
    """The console control handler, called as Windows would call it: the one mock in this suite,
    because a Windows shutdown event cannot happen on this machine."""
    import threading

    from recorder.plugins.windows_shutdown_guard import CTRL_SHUTDOWN_EVENT, WindowsShutdownGuard
    from recorder.testing import make_profile
    from recorder.pipeline.recording import Recording

    recording = Recording(host, make_profile(host, dict(tmp_settings, guards=[])), duration=30)
    guard = WindowsShutdownGuard()
    recording.prepare()
    guard.start(recording.session)
    answered = []
    threading.Timer(1.0, lambda: answered.append(guard.console_handler(CTRL_SHUTDOWN_EVENT))).start()
    session = recording.run()
    assert answered == [True]
    assert session.end_reason == "interrupted"
    assert manifest_of(session.folder)["state"] == "interrupted"


def test_only_the_same_support_session_is_continued(home, run_cli):
    """The privacy rule: an interrupted recording is continued by a start with the same
    --session-id, or, with no ids, only after the machine restarted. The next customer's
    session on the same boot is a new session, never a part of the last."""
    plain = ("--profile", "rep", "--source", "synthetic", "--duration", "1")

    def interrupted(*extra: str, boot: str = "boot-1") -> Path:
        proc = subprocess.Popen([recorder_command(), *plain[:-1], "60", *extra],
                                env=cli_env(home, RECORDER_TEST_BOOT_ID=boot), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
        wait_for_partial(home, "*.partial")
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        return max(sessions(home), key=lambda f: f.stat().st_mtime)

    first = interrupted("--session-id", "ticket-1")
    result = run_cli(*plain, "--session-id", "ticket-2", env={"RECORDER_TEST_BOOT_ID": "boot-1"}, check=0)
    assert "another support session (ticket-2, not ticket-1)" in result.stderr
    assert manifest_of(first)["state"] == "complete" and len(manifest_of(first)["parts"]) == 1

    second = interrupted()  # no id
    result = run_cli(*plain, env={"RECORDER_TEST_BOOT_ID": "boot-1"}, check=0)
    assert "the machine has not restarted since" in result.stderr
    assert len(manifest_of(second)["parts"]) == 1

    third = interrupted()
    result = run_cli(*plain, env={"RECORDER_TEST_BOOT_ID": "boot-2"}, check=0)  # after a restart
    assert "resuming the interrupted session" in result.stderr
    assert [p["file"] for p in manifest_of(third)["parts"]] == ["part-001.mp4", "part-002.mp4"]

    fourth = interrupted("--session-id", "ticket-4")
    result = run_cli(*plain, "--resume", env={"RECORDER_TEST_BOOT_ID": "boot-1"}, check=0)
    assert "resuming the interrupted session" in result.stderr
    assert len(manifest_of(fourth)["parts"]) == 2
