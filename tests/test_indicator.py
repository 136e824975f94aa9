"""The recording indicator (issue 15): on the recorded screen while frames are
grabbed, gone during a pause and after the end, back on resume and after
someone kills it; a required indicator that cannot be shown stops the start."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import av
import pytest

from conftest import child_signals, cli_env, recorder_command


def shown(display: str) -> list[str]:
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--classname", "recorder-indicator"],
                           env=dict(os.environ, DISPLAY=display), capture_output=True, text=True, timeout=20, encoding="utf-8")
    return found.stdout.split()


def red_dot(frame: av.VideoFrame) -> bool:
    """The indicator's red dot in the top right corner of a decoded frame."""
    corner = frame.to_ndarray(format="rgb24")[8:30, -80:]
    return sum(1 for row in corner for r, g, b in row if r > 160 and g < 90 and b < 90) > 40


def wait_until(check, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"not within {timeout} s: {what}")


def start(home: Path, display: str | None, config: str, *args: str) -> subprocess.Popen:
    path = home / "indicator.toml"
    path.write_text('[profiles.rep]\nfps = 10\nguards = ["+indicator"]\nnotifiers = []\n' + config, encoding="utf-8")
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(path), "--new-session",
                             *args], env=cli_env(home, display), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def ended(recording: subprocess.Popen) -> tuple[Path, dict]:
    out, err = recording.communicate(timeout=60)
    assert recording.returncode == 0, err
    folder = Path(out.strip())
    return folder, json.loads((folder / "session.json").read_text(encoding="utf-8"))


@pytest.mark.display
def test_the_indicator_is_on_screen_while_recording_only(still_display, run_cli, home):
    display = still_display.name
    recording = start(home, display, "")
    try:
        wait_until(lambda: shown(display), "the indicator appears once recording starts")
        time.sleep(1.5)
        run_cli("pause", "--by", "customer", "--wait", "20", check=0)
        wait_until(lambda: not shown(display), "the indicator goes during a pause")
        time.sleep(1)
        assert not shown(display)
        run_cli("resume", "--by", "customer", "--wait", "20", check=0)
        wait_until(lambda: shown(display), "the indicator is back on resume")
        time.sleep(1)
        run_cli("stop", "--profile", "rep", check=0)
        folder, manifest = ended(recording)
    finally:
        recording.kill()
    assert not shown(display), "the indicator is gone once the recording ended"
    # it is in the recording: the red dot in the top right corner
    for part in manifest["parts"]:
        with av.open(str(folder / part["file"])) as container:
            frames = list(container.decode(video=0))
        # the frame taken as the pause began and the first after resuming may miss it (it runs beside
        # capture, never in its way); all others have it
        assert sum(red_dot(frame) for frame in frames[1:-1]) == len(frames) - 2 >= 1, part["file"]
    assert not [e for e in manifest["events"] if e["kind"].startswith("indicator")]


@pytest.mark.display
def test_a_killed_indicator_is_an_event_and_comes_back(still_display, home):
    display = still_display.name
    recording = start(home, display, "", "--duration", "8")
    try:
        wait_until(lambda: shown(display), "the indicator appears")
        [window] = shown(display)
        subprocess.run(["xkill", "-id", window], env=dict(os.environ, DISPLAY=display), capture_output=True,
                       check=True, timeout=20)
        time.sleep(3)  # the X server may give the new window the same id: look again after a while
        wait_until(lambda: shown(display), "a new indicator appears")
        folder, manifest = ended(recording)
    finally:
        recording.kill()
    kinds = [e["kind"] for e in manifest["events"]]
    assert kinds.index("indicator-lost") < kinds.index("indicator-restored")
    assert manifest["end_reason"] == "duration"


def test_a_required_indicator_that_cannot_be_shown_stops_the_start(run_cli, home):
    config = home / "required.toml"
    config.write_text('[profiles.rep]\nguards = ["+indicator"]\n[profiles.rep.indicator]\nrequired = true\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "2")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "indicator" in line and "required = true" in line, line
    assert not list((home / "Documents" / "SessionRecordings").glob("*/session.json"))


def test_an_optional_indicator_that_cannot_be_shown_is_a_warning_event(run_cli, home):
    config = home / "optional.toml"
    config.write_text('[profiles.rep]\nguards = ["+indicator"]\nnotifiers = []\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "2",
                     check=0)
    manifest = json.loads((Path(result.stdout.strip()) / "session.json").read_text(encoding="utf-8"))
    [event] = [e for e in manifest["events"] if e["kind"] == "indicator-unavailable"]
    assert event["level"] == "warning" and "DISPLAY" in event["text"]


@pytest.mark.parametrize("line, key", [('corner = "middle"', "corner"), ('label = ""', "label"),
                                       ('label = "Aufnahme läuft"', "label"), ('required = "yes"', "required")])
def test_bad_indicator_options_are_one_line_naming_the_key(run_cli, home, line, key):
    config = home / "bad.toml"
    config.write_text(f'[profiles.rep]\nguards = ["+indicator"]\n[profiles.rep.indicator]\n{line}\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "2")
    assert result.returncode == 2
    [message] = result.stderr.strip().splitlines()
    assert f"'{key}'" in message, message
    assert not (home / "Documents").exists()


def test_the_guard_follows_pauses_of_its_session_only_while_it_runs():
    """Pauses reach the guard as its own ``session_event`` (no module state keyed by
    session id); before start() and after stop() (its wake-up pipe closed) they are ignored."""
    from types import SimpleNamespace

    import recorder.plugins.indicator as indicator

    assert not hasattr(indicator, "ACTIVE") and not hasattr(indicator, "recorder_session_event")
    guard = indicator.IndicatorGuard(indicator.IndicatorOptions())
    guard.session_event(None, SimpleNamespace(kind="paused"))
    assert guard.commands.empty()
    guard.listening = True  # what start() sets, without its thread
    for kind in ("paused", "mark", "unpaused"):
        guard.session_event(None, SimpleNamespace(kind=kind))
    assert [guard.commands.get_nowait() for _ in range(2)] == ["hide", "show"] and guard.commands.empty()
    guard.stop()
    guard.session_event(None, SimpleNamespace(kind="paused"))
    assert guard.commands.empty()
