"""Strict mode (issue 29, item 6): with ``require_recording = true`` a recording that fails and
cannot go on asks the support tool to end the support session, tells the rep and the customer,
and its receipt says why; without it the support session goes on as before.

End to end: the installed ``recorder``, a third-party source (or encoder) installed as a plugin
that fails once the test says so, and the support tool's subscriber on the control channel."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from conftest import child_signals, cli_env, recorder_command
from installed import install_plugin
from recorder.session.receipt import ENDING, head_of
from recorder.testing import decode

# Fails from the moment the file named by STRICT_TRIGGER exists: the test creates it once its
# subscriber is connected, so that the subscriber hears the end live, not only in the history.
PLUGIN = '''
import os
from pathlib import Path

from recorder import hookimpl
from recorder.plugins.h264 import H264Encoder, H264Options, H264PartWriter
from recorder.plugins.synthetic_source import SyntheticOptions, SyntheticSource


def failing_now():
    return Path(os.environ["STRICT_TRIGGER"]).exists()


class Flaky(SyntheticSource):
    def grab(self):
        if failing_now():
            raise OSError("capture card unplugged")
        return super().grab()


class BrittleWriter(H264PartWriter):
    def write(self, frame, pts, changed=None, rects=None):
        if failing_now():
            raise OSError("encoder card stopped")
        return super().write(frame, pts, changed, rects)


class Brittle(H264Encoder):
    def open_part(self, path, fmt, fps, stream=None):
        return BrittleWriter(path, fmt, fps, self.options, stream)


@hookimpl
def recorder_register_sources(register):
    register("flaky", Flaky, options=SyntheticOptions)


@hookimpl
def recorder_register_encoders(register):
    register("brittle", Brittle, options=H264Options)
'''


def wait_for_video(env: dict, seconds: float = 2.0, timeout: float = 30) -> None:
    """Until the recorder has written ``seconds`` of video to its part (a loaded machine starts slower)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = subprocess.run([recorder_command(), "status", "--json", "--profile", "rep"], env=env,
                                capture_output=True, text=True, encoding="utf-8", timeout=30)
        state = json.loads(answer.stdout or "{}")
        if state.get("elapsed", 0) >= seconds and state.get("bytes_written", 0) > 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {seconds} s of video within {timeout} s")


def record_until_failure(tmp_path: Path, strict: bool, source: str = "flaky", encoder: str = "h264"):
    """Record with the failing plugin, a subscriber following the control channel; make it
    fail once the subscriber is connected. Returns (exit status, stderr, streamed lines, folder)."""
    site = install_plugin(tmp_path / "site", "strict-failures", PLUGIN)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    trigger = tmp_path / "fail-now"
    env = cli_env(home, PYTHONPATH=str(site), STRICT_TRIGGER=str(trigger))
    config = tmp_path / "strict.toml"
    config.write_text(f'[profiles.rep]\nrequire_recording = {"true" if strict else "false"}\n'
                      f'encoder = "{encoder}"\nnotifiers = ["console"]\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    follower = subprocess.Popen([recorder_command(), "events", "--follow", "--json", "--wait", "60",
                                 "--profile", "rep"], env=env, stdout=subprocess.PIPE, text=True,
                                encoding="utf-8", preexec_fn=child_signals)
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--source", source,
                             "--session-id", "SUP-29", "--duration", "60"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    try:
        first = follower.stdout.readline()  # the history's first event: the subscriber is connected
        assert first, "the subscriber never connected"
        wait_for_video(env)  # what is recorded before the failure is a whole fragment: it verifies
        trigger.touch()
        out, err = proc.communicate(timeout=60)
        streamed = [json.loads(first)] + [json.loads(line) for line in follower.communicate(timeout=30)[0].splitlines()]
    finally:
        for child in (proc, follower):
            if child.poll() is None:
                child.kill()
                child.wait()
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    return proc.returncode, err, streamed, folder, env


def verify_receipt(receipt: dict, folder: Path, env: dict, tmp_path: Path, name: str) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(json.dumps(receipt), encoding="utf-8")
    return subprocess.run([recorder_command(), "verify", str(folder), "--receipt", str(path)], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def test_strict_a_failing_source_asks_to_end_the_support_session_and_the_receipt_says_why(tmp_path):
    status, err, streamed, folder, env = record_until_failure(tmp_path, strict=True)
    assert status == 1, err  # as without strict mode: the recording ended in error
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "error" and manifest["state"] == "complete"
    [part] = manifest["parts"]
    assert part["state"] == "sealed" and decode(folder / part["file"]).frames == part["frames"] > 0

    # The support tool is asked to end the support session, with the reason.
    [end] = [m for m in streamed if m["type"] == "end-session-requested"]
    assert end["reason"] == "error" and end["support_session_id"] == "SUP-29"
    assert end["session_id"] == manifest["session_id"]
    assert "source 'flaky' failed" in end["text"] and "must be recorded" in end["text"]
    assert "capture card unplugged" not in end["text"], "the customer is told nothing of this machine"
    # The rep and the customer are told, in the same words.
    [told] = [m["notification"] for m in streamed if m["type"] == "notification"
              and m["notification"]["kind"] == "end-session-requested"]
    assert sorted(told["audience"]) == ["customer", "rep"] and told["text"] == end["text"]
    assert told["level"] == "error"
    assert "The support session needs to end" in err  # the console notifier, at this machine

    # The receipt carries the reason, and its head covers it.
    [receipt] = [m["receipt"] for m in streamed if m["type"] == "receipt"]
    assert receipt["end_reason"] == "error" and receipt["end_session_requested"] is True
    assert receipt["why"] == end["text"]
    assert streamed[-1]["type"] == "ended" and streamed[-1]["end_reason"] == "error"
    verified = verify_receipt(receipt, folder, env, tmp_path, "receipt.json")
    assert verified.returncode == 0, verified.stdout
    tampered = verify_receipt({**receipt, "end_reason": "user", "end_session_requested": False}, folder, env,
                              tmp_path, "tampered.json")
    assert tampered.returncode == 1 and "the receipt itself was changed" in tampered.stdout
    assert "end reason (error) is not the receipt's (user)" in tampered.stdout
    # A receipt issued before receipts said how the session ended is still checked as it was.
    older = {key: value for key, value in receipt.items() if key not in (*ENDING, "head")}
    older["head"] = head_of(older)
    assert verify_receipt(older, folder, env, tmp_path, "older.json").returncode == 0


def test_without_strict_mode_the_support_session_goes_on(tmp_path):
    status, err, streamed, folder, env = record_until_failure(tmp_path, strict=False)
    assert status == 1, err
    assert not [m for m in streamed if m["type"] == "end-session-requested"]
    assert not [m for m in streamed if m["type"] == "notification"
                and m["notification"]["kind"] == "end-session-requested"]
    [receipt] = [m["receipt"] for m in streamed if m["type"] == "receipt"]
    assert receipt["end_reason"] == "error" and receipt["end_session_requested"] is False
    assert receipt["why"] == "source 'flaky' failed"
    checked = verify_receipt(receipt, folder, env, tmp_path, "receipt.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_strict_a_failing_encoder_asks_to_end_the_support_session(tmp_path):
    status, err, streamed, folder, env = record_until_failure(tmp_path, strict=True, source="synthetic",
                                                              encoder="brittle")
    assert status == 1, err
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "error"
    assert any("encoder card stopped" in e["text"] for e in manifest["events"] if e["kind"] == "error")
    [end] = [m for m in streamed if m["type"] == "end-session-requested"]
    assert end["reason"] == "error" and "encoder 'brittle' failed" in end["text"]
    [receipt] = [m["receipt"] for m in streamed if m["type"] == "receipt"]
    assert receipt["end_reason"] == "error" and receipt["end_session_requested"] is True
    checked = verify_receipt(receipt, folder, env, tmp_path, "receipt.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_strict_the_folder_lost_asks_to_end_the_support_session(tmp_path):
    home, output = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    output.mkdir(mode=0o700)
    config = tmp_path / "strict.toml"
    config.write_text('[profiles.rep]\nrequire_recording = true\nnotifiers = ["console"]\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--source", "synthetic",
                             "--duration", "30", "--output-dir", str(output)], env=cli_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            preexec_fn=child_signals)
    try:
        deadline = time.monotonic() + 20
        while not (found := list(output.glob("*/part-001.mp4.partial"))):
            assert time.monotonic() < deadline, "the recording did not start"
            time.sleep(0.05)
        time.sleep(1)
        shutil.rmtree(found[0].parent)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    kept = Path(out.strip().splitlines()[-1])
    manifest = json.loads((kept / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "folder-lost"
    [asked] = [e for e in manifest["events"] if e["data"].get("notice") == "end-session-requested"]
    assert "the folder it is written to was lost" in asked["text"] and str(output) not in asked["text"]
    assert "The support session needs to end" in err
