"""The data path: timestamps, dropped frames, crash safety, ending by signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import av
import pytest

from recorder import hookimpl
from recorder import UsageError
from recorder.plugins.synthetic_source import SyntheticOptions, SyntheticSource, frame_number_of
from recorder.testing import TmpSinkPlugin, decode, make_host, record

from conftest import child_signals, recorder_command


def frame_numbers(path: Path) -> list[int]:
    numbers = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            gray = frame.reformat(format="gray")
            plane = gray.planes[0]
            data, stride = bytes(plane), plane.line_size
            numbers.append(frame_number_of(lambda x, y: data[y * stride + x]))
    return numbers


def test_every_captured_frame_is_encoded_once_in_order_at_its_capture_time(host, tmp_settings):
    session = record(host, dict(tmp_settings, fps=20.0), duration=2.0)
    path = session.folder / "part-001.mp4"
    video = decode(path)
    assert frame_numbers(path) == list(range(video.frames))  # each grabbed frame once, in order
    assert video.frames + session.dropped == 40  # every slot is either a frame or counted
    assert session.dropped <= 2, "an idle machine keeps up with 20 fps of 320x240"
    steps = [b - a for a, b in zip(video.times, video.times[1:])]
    assert all(0.03 <= step for step in steps), steps
    assert sum(step > 0.07 for step in steps) <= session.dropped, steps  # a gap only where a slot was dropped
    assert abs(video.duration - 2.0) < 0.1


class SlowSource(SyntheticSource):
    def grab(self):
        time.sleep(0.25)  # a source that cannot keep up with 10 fps
        return super().grab()


class SlowPlugin:
    name = "slow"

    @hookimpl
    def recorder_register_sources(self, register):
        register("slow", SlowSource, options=SyntheticOptions)


def test_frames_that_cannot_be_kept_up_with_are_counted_not_stretched(tmp_settings):
    host = make_host(TmpSinkPlugin(), SlowPlugin())
    settings = dict(tmp_settings, source="slow", fps=10.0, slow={"width": 320, "height": 240})
    session = record(host, settings, duration=3.0)
    video = decode(session.folder / "part-001.mp4")
    assert session.dropped >= 15
    assert video.frames + session.dropped >= 29
    # the timeline is wall-clock time: frames sit where they were captured
    assert 2.5 <= video.times[-1] <= 3.2
    manifest = json.loads((session.folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["dropped_frames"] == session.dropped


def _start(home: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "RECORDER_", "DISPLAY"))}
    env["HOME"] = str(home)
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic",
                             "--fps", "15", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def _wait_for_part(home: Path) -> Path:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        parts = list((home / "Documents").glob("SessionRecordings/*/part-001.mp4.partial"))
        if parts:
            return parts[0]
        time.sleep(0.05)
    raise AssertionError("no part appeared")


def test_kill_9_leaves_a_playable_part_up_to_about_the_last_second(home):
    proc = _start(home)
    partial = _wait_for_part(home)
    started = time.monotonic()
    time.sleep(4.0)
    proc.kill()
    killed_after = time.monotonic() - started
    proc.wait()
    video = decode(partial)
    assert video.codec == "h264"
    assert video.duration >= killed_after - 1.5, (video.duration, killed_after)
    assert frame_numbers(partial) == list(range(video.frames))
    manifest = json.loads((partial.parent / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "recording" and manifest["parts"][0]["state"] == "writing"


@pytest.mark.parametrize("signum, reason", [(signal.SIGTERM, "interrupted"), (signal.SIGINT, "user"),
                                            (signal.SIGHUP, "interrupted")])
def test_signals_end_the_session_with_the_recording_sealed(home, signum, reason):
    proc = _start(home)
    partial = _wait_for_part(home)
    time.sleep(2.0)
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 0, err
    folder = partial.parent
    assert Path(out.strip()) == folder
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == reason and manifest["parts"][0]["state"] == "sealed"
    assert not partial.exists()
    assert decode(folder / "part-001.mp4").duration >= 1.9


def test_target_that_cannot_be_created_is_a_usage_error(run_cli, home, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1",
                     "--output-dir", str(blocker / "sub"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"recorder: error: cannot create the session folder in {blocker}: it exists and is not a folder"]
    assert not (home / "Documents").exists()


def test_never_overwrites_an_existing_session_folder(host, tmp_settings):
    settings = dict(tmp_settings, folder_template="fixed-name")
    record(host, settings, duration=0.5)
    with pytest.raises(UsageError, match="fixed-name"):
        record(host, settings, duration=0.5)


def test_live_status_line_on_a_terminal(home):
    """Run in a real pseudo-terminal, as a user at a shell would."""
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "RECORDER_", "DISPLAY"))}
    env.update(HOME=str(home), COLUMNS="160", TERM="xterm")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic",
                             "--duration", "3"], env=env, stdin=terminal, stdout=terminal, stderr=terminal, preexec_fn=child_signals)
    os.close(terminal)
    screen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    proc.wait(10)
    import re
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert proc.returncode == 0
    assert "REC 00:00:0" in text
    assert "fps" in text and "dropped 0" in text and "written" in text and "free" in text
    assert "recorded 00:00:03 in 1 part(s)" in text


def test_a_still_screen_is_barely_encoded_yet_lasts_the_whole_time(host, tmp_settings):
    settings = dict(tmp_settings, synthetic={"width": 320, "height": 240, "hold": 0},
                    h264={"keyframe_interval": 1.0})
    session = record(host, settings, duration=3.0)
    video = decode(session.folder / "part-001.mp4")
    assert video.frames <= 3.0 / 0.5 + 2  # a heartbeat frame every 0.5 s, and the last one
    assert session.captured == video.frames + session.unchanged
    assert session.captured + session.dropped == 45
    assert abs(video.duration - 3.0) < 0.1  # the timeline is not shortened
    assert max(b - a for a, b in zip(video.times, video.times[1:])) <= 0.5 + 1 / 15 + 0.02
    with av.open(str(session.folder / "part-001.mp4")) as container:
        keys = [float(f.time) for f in container.decode(video=0) if f.key_frame]
    # keyframes by time (about every second here), not every 15 encoded frames
    assert keys[0] == 0.0 and len(keys) >= 3 and all(0.9 < b - a < 1.6 for a, b in zip(keys, keys[1:]))


def test_each_change_is_encoded_when_it_happens(host, tmp_settings):
    settings = dict(tmp_settings, synthetic={"width": 320, "height": 240, "hold": 5})
    session = record(host, settings, duration=4.0)
    path = session.folder / "part-001.mp4"
    numbers, times = frame_numbers(path), decode(path).times
    changes = [(n, t) for i, (n, t) in enumerate(zip(numbers, times)) if i == 0 or numbers[i - 1] != n]
    assert [n for n, _ in changes] == list(range(12))  # every picture, once, in order
    for n, t in changes:  # shown when it first appeared: frame n*5 of a 15 fps capture
        assert abs(t - n * 5 / 15) < 1.5 / 15, (n, t)


def test_skipping_can_be_turned_off(host, tmp_settings):
    settings = dict(tmp_settings, skip_unchanged=False, synthetic={"width": 320, "height": 240, "hold": 0})
    session = record(host, settings, duration=2.0)
    assert decode(session.folder / "part-001.mp4").frames + session.dropped == 30
    assert session.unchanged == 0
