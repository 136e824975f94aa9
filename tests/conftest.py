from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import mss
import pytest

# tests/windows runs under Wine with the Windows bundle's CPython (tests/windows/leg.py).
collect_ignore = ["windows"]

pytest_plugins = ["recorder.testing"]

SCREEN = (1280, 720)
ANIMATION = (100, 80, 640, 360)  # left, top, width, height of the animated window


@attrs.frozen
class XDisplay:
    name: str
    width: int
    height: int


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed: the display tests need it (apt-get install xvfb); "
                    "they fail rather than skip so that CI cannot pass without them")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",
                             f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            pass_fds=[write], stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read, encoding="ascii") as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    return proc, f":{number}"


@pytest.fixture(scope="session")
def xdisplay():
    """A real X server with a window whose content changes every frame (ffplay's testsrc2)."""
    xvfb, name = _start_xvfb()
    env = dict(os.environ, DISPLAY=name, SDL_AUDIODRIVER="dummy")
    left, top, width, height = ANIMATION
    if shutil.which("ffplay") is None:
        xvfb.kill()
        pytest.fail("ffplay is not installed (apt-get install ffmpeg): it animates the test screen")
    player = subprocess.Popen(["ffplay", "-loglevel", "quiet", "-f", "lavfi", "-i",
                               f"testsrc2=size={width}x{height}:rate=30", "-an", "-noborder",
                               "-left", str(left), "-top", str(top)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_animation(name)
        yield XDisplay(name, *SCREEN)
    finally:
        for proc in (player, xvfb):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def still_display():
    """A fresh X server whose screen changes only when a test changes it, with
    a visible cursor (Xvfb's root window has none until one is set)."""
    xvfb, name = _start_xvfb()
    try:
        if shutil.which("xsetroot") is None:
            pytest.fail("xsetroot is not installed (apt-get install x11-xserver-utils)")
        subprocess.run(["xsetroot", "-cursor_name", "left_ptr"], env=dict(os.environ, DISPLAY=name), check=True)
        yield XDisplay(name, *SCREEN)
    finally:
        xvfb.send_signal(signal.SIGTERM)
        xvfb.wait(5)


def _wait_for_animation(display: str) -> None:
    left, top, width, height = ANIMATION
    area = {"left": left, "top": top, "width": width, "height": height}
    deadline = time.monotonic() + 15
    with mss.MSS(display=display) as sct:
        first = sct.grab(area).raw
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if sct.grab(area).raw != first:
                return
    pytest.fail("the animated test window did not appear on the X display")


@pytest.fixture
def home(tmp_path) -> Path:
    """A fresh home for the CLI: its own Documents, config and data dirs."""
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    """In-process recordings too get a home of their own: a session left
    unfinished by another test (or by the user) must not be resumed here."""
    for name in [k for k in os.environ if k.startswith(("XDG_", "RECORDER_"))]:
        monkeypatch.delenv(name)
    (tmp_path / "in-process-home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "in-process-home"))


@pytest.fixture
def run_cli(home):
    """Run the installed ``recorder`` command as a user would, with a fresh home."""

    def run(*args: str, display: str | None = None, env: dict | None = None, timeout: float = 60,
            check: int | None = None) -> subprocess.CompletedProcess:
        full_env = cli_env(home, display, **(env or {}))
        result = subprocess.run([recorder_command(), *args], env=full_env, capture_output=True,
                                text=True, encoding="utf-8", timeout=timeout)
        if check is not None:
            assert result.returncode == check, result.stderr
        return result

    return run


def cli_env(home: Path, display: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "RECORDER_"))}
    env.pop("DISPLAY", None)
    env.update(HOME=str(home), XDG_CONFIG_DIRS=str(home / "site-config"), COLUMNS="200", **extra)
    if display:
        env["DISPLAY"] = display
    return env


@pytest.fixture
def spawn_cli(home):
    """Run ``recorder`` in a real pseudo-terminal (pexpect), as a user at a shell."""
    import pexpect

    children = []

    def spawn(*args: str, **env: str):
        child = pexpect.spawn(recorder_command(), list(args), env=cli_env(home, **env),
                              encoding="utf-8", timeout=60, dimensions=(40, 200), preexec_fn=child_signals)
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


@pytest.fixture(scope="session")
def tmpfs_factory(tmp_path_factory):
    """Mount real small tmpfs filesystems (needs root, as in CI; fails rather than skips)."""
    mounts = []

    def mount(size: str) -> Path:
        point = tmp_path_factory.mktemp("tmpfs")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                                 str(point)], capture_output=True, text=True, encoding="utf-8")
        if result.returncode != 0:
            pytest.fail(f"cannot mount a tmpfs (run the tests as root, as CI does): {result.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


# The signals tests send to a recorder child. A test run started as a background job of a
# non-interactive shell (or by a supervisor, or under nohup) has SIGINT, SIGQUIT or SIGHUP
# ignored, and an ignored disposition survives exec: the child would never see the ^C.
SENT_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM)


def child_signals() -> None:
    """preexec_fn for a child the test will signal: the defaults a user's shell gives it."""
    for signum in SENT_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def recorder_command() -> str:
    command = Path(sys.executable).with_name("recorder")
    assert command.exists(), "the recorder command is not installed in this environment (pip install -e .)"
    return str(command)


# Debian's Chromium (CI installs it), driven by Playwright, for the replay, live and search
# pages: headless, nothing of its own on the network; file:// pages may load their parts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files"]


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()
