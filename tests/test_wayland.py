"""Wayland: the portal source against a real headless sway, a real xdg-desktop-portal
and a real PipeWire (tests/wayland_desktop.py). Without the stack these tests
fail, saying what to install; they never skip."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from recorder.config.profile import auto_source
from recorder.host.manager import load_plugins

from conftest import child_signals, cli_env, recorder_command
from wayland_desktop import HEIGHT, WIDTH, WaylandDesktop


MAGENTA = np.array([255, 0, 200])  # the terminal's lines (RGB)
GREEN = np.array([0, 200, 0])  # the moving window
# Prints 40 lines with a magenta block, 4 a second (10 s), then stays still.
PRINTER = ("i=0; while [ $i -lt 40 ]; do i=$((i+1)); "
           "printf '\\033[48;2;255;0;200m  line %d  \\033[0m recorder on wayland\\n' $i; sleep 0.25; done; "
           "sleep 600")
CHOOSER = "echo asked >> {log}; [ -e {deny} ] && exit 1; echo HEADLESS-1"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """sway with a terminal tiled full screen and a floating window, the portal answering
    its question through a chooser command (which can be told to refuse)."""
    folder = tmp_path_factory.mktemp("chooser")
    asked, deny = folder / "asked", folder / "deny"
    desk = WaylandDesktop(chooser=CHOOSER.format(log=asked, deny=deny)).start()
    desk.asked, desk.deny = asked, deny
    try:
        yield desk
    finally:
        desk.stop()


def _sessions(home: Path) -> list[Path]:
    root = home / "Documents" / "SessionRecordings"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(float(f.pts * stream.time_base), f.to_ndarray(format="rgb24")) for f in container.decode(stream)]


def _near(frame: np.ndarray, colour: np.ndarray, tolerance: int = 40) -> np.ndarray:
    return np.abs(frame.astype(int) - colour).max(axis=2) <= tolerance


def _picture(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_auto_source_is_the_portal_on_wayland_and_mss_elsewhere():
    registry = load_plugins().registry  # the sources rank themselves (recorder.RanksForAuto)
    assert auto_source(registry, {"WAYLAND_DISPLAY": "wayland-0"}) == "portal"
    assert auto_source(registry, {"XDG_SESSION_TYPE": "wayland"}) == "portal"
    assert auto_source(registry, {"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"}) == "mss"
    assert auto_source(registry, {}) == "mss"


def test_masks_configured_for_mss_refuse_the_automatic_portal(run_cli, home, tmp_path):
    """The portal cannot mask yet: a profile with masks must not be recorded unmasked."""
    config = tmp_path / "masks.toml"
    config.write_text("[profiles.rep.mss]\nmask_rects = [[0, 0, 100, 100]]\n", encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--duration", "1",
                     env={"WAYLAND_DISPLAY": "wayland-0"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "cannot mask" in result.stderr, result.stderr
    assert _sessions(home) == []


def test_records_20_seconds_of_a_wayland_desktop_through_the_portal(desktop, home, tmp_path, run_cli):
    desktop.client("terminal", ["foot", "-a", "recorder-term", "--", "sh", "-c", PRINTER])
    desktop.client("mover", ["foot", "-a", "recorder-mover", "-o", "colors.background=00c800", "--",
                             "sleep", "600"])
    time.sleep(1.0)
    stop = threading.Event()

    def move():  # the window crosses the screen for 12 s, then stays
        for step in range(24):
            if stop.wait(0.5):
                return
            desktop.swaymsg(f"[app_id=recorder-mover] move position {200 + step * 30} {300 + step * 5}")

    mover = threading.Thread(target=move)
    try:
        # no --source: on a Wayland session the default is the portal
        env = cli_env(home, **desktop.env)
        start = time.monotonic()
        mover.start()
        result = subprocess.run([recorder_command(), "--profile", "rep", "--duration", "20"], env=env,
                                capture_output=True, text=True, encoding="utf-8", timeout=90)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - start < 45
        shot = _picture(desktop.screenshot(tmp_path / "screen.png"))
    finally:
        stop.set()
        mover.join()
        desktop.kill("terminal", signal.SIGTERM)
        desktop.kill("mover", signal.SIGTERM)

    [folder] = _sessions(home)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "complete" and manifest["end_reason"] == "duration"
    frames = _frames(folder / "part-001.mp4")
    first, last = frames[0][1], frames[-1][1]
    assert first.shape == (HEIGHT, WIDTH, 3)
    assert 19.0 <= frames[-1][0] <= 20.5, frames[-1][0]  # lasts 20 s, on the wall clock

    def at(t):
        return min(frames, key=lambda f: abs(f[0] - t))[1]

    # The terminal's text: magenta blocks down the left, more of them as lines are printed.
    lines = [int(_near(at(t), MAGENTA)[:, :100].any(axis=1).sum()) for t in (2, 6, 12)]
    assert 0 < lines[0] < lines[1] < lines[2], lines
    # The window moved: where its green is, changes.
    xs = []
    for t in (2, 5, 8, 11):
        cols = np.nonzero(_near(at(t), GREEN).any(axis=0))[0]
        assert cols.size, f"the moving window is not in the frame at {t} s"
        xs.append(int(cols.min()))
    assert xs == sorted(xs) and xs[-1] - xs[0] > 100, xs
    # What the part ends with is what the screen shows (grim, after the recording).
    assert np.abs(last.astype(int) - shot.astype(int)).mean() < 6

    # Change-aware: a grab with no new picture from the compositor costs nothing, and of a new
    # picture only the rows that changed are passed on (PipeWire's damage regions do not reach
    # us through pipewiresrc: see docs/wayland.md). A still screen is not encoded again and again.
    [stats] = [e["data"] for e in manifest["events"] if e["kind"] == "portal-capture"]
    print("portal capture:", stats)
    assert 0 < stats["new_pictures"] < stats["grabs"]
    assert 0 < stats["rows_sent"] < stats["new_pictures"] * HEIGHT / 2
    assert manifest["unchanged_frames"] > 15 * 5
    assert manifest["dropped_frames"] <= 15
    run_cli("verify", str(folder), check=0)


def test_refused_permission_exits_2_and_writes_nothing(desktop, run_cli, home):
    desktop.deny.touch()
    try:
        result = run_cli("--profile", "rep", "--source", "portal", "--duration", "3", env=desktop.env)
    finally:
        desktop.deny.unlink()
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0], result.stderr
    assert _sessions(home) == []
    assert not (home / "Documents").exists() or not any((home / "Documents").rglob("*.mp4*"))


def test_permission_is_asked_once_per_profile_then_restored_with_the_token(desktop, run_cli, home):
    def asked() -> int:
        return desktop.asked.read_text(encoding="utf-8").count("asked") if desktop.asked.exists() else 0

    before = asked()
    desktop.client("terminal", ["foot", "-a", "recorder-term", "--", "sh", "-c", PRINTER])
    try:
        for _ in range(2):
            run_cli("--profile", "rep", "--duration", "2", env=desktop.env, check=0)
        assert asked() == before + 1  # the second start was not asked
        run_cli("--profile", "customer", "--duration", "2", env=desktop.env, check=0)
        assert asked() == before + 2  # another profile: its own permission
    finally:
        desktop.kill("terminal", signal.SIGTERM)
    tokens = home / ".local" / "state" / "recorder" / "plugins" / "portal" / "restore-tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert stat.S_IMODE(tokens.parent.stat().st_mode) == 0o700
    assert json.loads(tokens.read_text(encoding="utf-8"))["rep/monitor/embedded"]
    assert len(_sessions(home)) == 3


def test_compositor_gone_mid_recording_is_an_interruption(home, run_cli):
    """Logout or a compositor crash: sealed and marked interrupted, like SIGTERM; the
    support session's next start resumes it in a new part."""
    record = ["--profile", "rep", "--session-id", "INC-wayland"]
    desk = WaylandDesktop().start()  # chooser none: the configuration the CI machine kind was checked with
    proc = None
    try:
        desk.client("terminal", ["foot", "-a", "recorder-term", "--", "sh", "-c", PRINTER])
        proc = subprocess.Popen([recorder_command(), *record, "--duration", "60"],
                                env=cli_env(home, **desk.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8", preexec_fn=child_signals)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list((home / "Documents").rglob("part-001.mp4.partial")):
            time.sleep(0.2)
        time.sleep(3)
        desk.kill("sway")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        desk.stop()
    assert proc.returncode == 0, err  # an interruption, like SIGTERM: not a failure
    [folder] = _sessions(home)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "interrupted" and manifest["end_reason"] == "interrupted", manifest
    [ended] = [e for e in manifest["events"] if e["kind"] == "end-requested"]
    assert ended["by"] == "portal" and "compositor" in ended["text"]
    assert manifest["parts"][0]["state"] == "sealed" and (folder / "part-001.mp4").exists()
    checked = run_cli("verify", str(folder))
    assert "ok       part-001.mp4" in checked.stdout and "not complete (state 'interrupted')" in checked.stdout

    desk = WaylandDesktop().start()  # the user logs in again
    try:
        desk.client("terminal", ["foot", "-a", "recorder-term", "--", "sh", "-c", PRINTER])
        result = run_cli(*record, "--duration", "3", env=desk.env, check=0)
    finally:
        desk.stop()
    assert "resuming the interrupted session" in result.stderr
    final = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert final["state"] == "complete" and [p["file"] for p in final["parts"]] == ["part-001.mp4", "part-002.mp4"]
    run_cli("verify", str(folder), check=0)
