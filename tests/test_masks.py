"""Masks (issue 15): windows and rectangles the administrator listed never
reach the recording, wherever the windows go, and the rest of the screen does.

Real windows on Xvfb: xterms with a background colour found nowhere else on
the screen, moved, resized, raised, lowered and renamed with xdotool while
recorder records. Every frame of the part is decoded and searched for those
colours: a masked window's colour in any frame is a leak.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import av
import numpy
import pytest

from conftest import child_signals, cli_env, recorder_command

SECRET = (255, 0, 255)  # magenta: the masked window's background
PUBLIC = (0, 255, 0)  # green: an unmasked window
LATER = (0, 255, 255)  # cyan: a window that matches only once renamed
GREY = (128, 128, 128)  # the mask's fill


def xterm(display: str, title: str, colour: tuple[int, int, int], geometry: str) -> subprocess.Popen:
    if shutil.which("xterm") is None or shutil.which("xdotool") is None:
        pytest.fail("xterm and xdotool are needed (apt-get install xterm xdotool)")
    background = "#%02x%02x%02x" % colour
    # The mouse pointer over it black and white: xterm draws it in its own colours, and mss draws the
    # pointer into the frames, sticking out of the window by a pixel or two (the pointer is not the window)
    proc = subprocess.Popen(["xterm", "-T", title, "-bg", background, "-fg", background, "-ms", "#ffffff",
                             "-xrm", "*pointerColorBackground: #000000", "-geometry", geometry, "-e", "sleep 600"], env=dict(os.environ, DISPLAY=display),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc


def window_of(display: str, title: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = xdotool(display, "search", "--onlyvisible", "--name", f"^{title}$", check=False)
        if found.returncode == 0 and found.stdout.split():
            return found.stdout.split()[0]
        time.sleep(0.1)
    pytest.fail(f"the window {title!r} did not appear")


def xdotool(display: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display), capture_output=True,
                          text=True, check=check, timeout=20, encoding="utf-8")


def frames_of(path: Path) -> list[tuple[float, numpy.ndarray]]:
    with av.open(str(path)) as container:
        return [(float(frame.time), frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def pixels_like(picture: numpy.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> int:
    """Pixels within ``tolerance`` of ``colour`` on every channel (H.264 is lossy)."""
    diff = numpy.abs(picture.astype(numpy.int16) - numpy.array(colour, dtype=numpy.int16))
    return int(numpy.count_nonzero((diff <= tolerance).all(axis=2)))


def record(home: Path, display: str, config: str, duration: float) -> subprocess.Popen:
    path = home / "masks.toml"
    path.write_text('[profiles.rep]\nfps = 10\nguards = []\nnotifiers = []\n[profiles.rep.h264]\n'
                    'preset = "ultrafast"\n' + config, encoding="utf-8")
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(path), "--duration",
                             str(duration), "--new-session"], env=cli_env(home, display),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def finished(recording: subprocess.Popen) -> tuple[Path, dict]:
    out, err = recording.communicate(timeout=60)
    assert recording.returncode == 0, err
    folder = Path(out.strip())
    return folder, json.loads((folder / "session.json").read_text(encoding="utf-8"))


@pytest.mark.display
def test_a_masked_window_never_reaches_the_recording_wherever_it_goes(still_display, home):
    """Moved, resized, raised over and lowered under another window: not one
    pixel of the masked window in any frame, the unmasked window in every
    one, and the masked window's place painted grey."""
    display = still_display.name
    windows = [xterm(display, "Online Bank - Secret", SECRET, "60x20+100+100"),
               xterm(display, "Shell", PUBLIC, "50x15+700+400")]
    try:
        secret, public = window_of(display, "Online Bank - Secret"), window_of(display, "Shell")
        recording = record(home, display, '[profiles.rep.mss]\nmask_titles = ["*secret*"]\n', 9)
        time.sleep(2)
        for x, y in ((400, 300), (600, 350), (150, 50)):  # moved: followed at once
            xdotool(display, "windowmove", secret, str(x), str(y))
            time.sleep(0.3)
        xdotool(display, "windowsize", secret, "900", "600")  # resized: grows over the public window
        time.sleep(0.5)
        xdotool(display, "windowraise", public)  # the public window on top of it...
        time.sleep(0.5)
        xdotool(display, "windowraise", secret)  # ...and under it again
        time.sleep(0.5)
        xdotool(display, "windowsize", secret, "300", "200")
        xdotool(display, "windowmove", secret, "20", "20")
        folder, manifest = finished(recording)
    finally:
        for proc in windows:
            proc.kill()
    frames = frames_of(folder / "part-001.mp4")
    assert len(frames) >= 20, "recorded too few frames to tell anything"
    leaks = [(t, pixels_like(picture, SECRET)) for t, picture in frames if pixels_like(picture, SECRET)]
    assert leaks == [], "the masked window's pixels reached the recording"
    # the rest of the screen is recorded: the public window shows in the frames before it is covered
    assert pixels_like(frames[0][1], PUBLIC) > 50 * 50
    # and the mask is there, where the window was when the recording started
    assert pixels_like(frames[0][1][110:200, 110:300], GREY, tolerance=20) > 0.9 * 90 * 190
    # at the end: 300x200 at (20, 20) grey, and the public window visible again outside it
    last = frames[-1][1]
    assert pixels_like(last[30:200, 30:300], GREY, tolerance=20) > 0.9 * 170 * 270
    assert pixels_like(last, PUBLIC) > 50 * 50
    assert manifest["dropped_frames"] <= 5


@pytest.mark.display
def test_a_window_renamed_to_match_is_masked_from_then_on_and_rectangles_always(still_display, home):
    """A window whose title changes to one that matches is recorded before and
    never after; a fixed rectangle is grey in every frame; a class pattern
    (a regular expression) masks a window whatever its title."""
    display = still_display.name
    windows = [xterm(display, "Notes", LATER, "40x10+100+100"),
               xterm(display, "Anything", SECRET, "40x10+700+100")]
    try:
        notes = window_of(display, "Notes")
        window_of(display, "Anything")
        xdotool(display, "set_window", "--class", "KeePassXC", window_of(display, "Anything"))
        recording = record(home, display, '[profiles.rep.mss]\nmask_titles = ["re:passw(or)?d|secret"]\n'
                                          'mask_classes = ["keepass*"]\nmask_rects = [[0, 600, 1280, 120]]\n'
                                          "cursor = false\n", 7)
        time.sleep(3)
        renamed_at = time.time()
        xdotool(display, "set_window", "--name", "My SECRET notes", notes)
        folder, manifest = finished(recording)
    finally:
        for proc in windows:
            proc.kill()
    from datetime import datetime
    started = datetime.fromisoformat(manifest["started_at"]).timestamp()
    frames = frames_of(folder / "part-001.mp4")
    before = [picture for t, picture in frames if started + t < renamed_at - 0.5]
    after = [picture for t, picture in frames if started + t > renamed_at + 0.5]
    assert before and after
    assert all(pixels_like(picture, LATER) > 100 * 50 for picture in before), "recorded before it matched"
    assert [pixels_like(picture, LATER) for picture in after] == [0] * len(after), "recorded once it matched"
    assert all(pixels_like(picture, SECRET) == 0 for _, picture in frames), "masked by its class"
    assert all(pixels_like(picture[605:715], GREY, tolerance=20) > 0.95 * 110 * 1280 for _, picture in frames)


@pytest.mark.display
def test_the_mask_follows_a_moving_window_in_the_next_frame(still_display, monkeypatch):
    """The source itself: after a window moved, the very next grab masks its new
    place (and the old one, whichever the grab saw), and the one after only the new."""
    from recorder.plugins.mss import MssOptions, MssSource

    display = still_display.name
    monkeypatch.setenv("DISPLAY", display)
    window = xterm(display, "secret", SECRET, "20x5+100+100")
    try:
        wid = window_of(display, "secret")
        source = MssSource(MssOptions(mask_titles=["secret"]))
        source.open()
        try:
            source.grab()
            [(x, y, w, h)] = source.masked
            assert (x, y) == (100, 100)
            for step in range(1, 6):
                xdotool(display, "windowmove", "--sync", wid, str(100 + 50 * step), "100")
                source.grab()
                assert (100 + 50 * step, 100, w, h) in source.masked
                source.grab()
                assert source.masked == {(100 + 50 * step, 100, w, h)}
        finally:
            source.close()
    finally:
        window.kill()


BAD = [
    ('mask_titles = ["re:(unclosed"]', "mask_titles", "not a valid regular expression"),
    ('mask_titles = [""]', "mask_titles", "empty"),
    ('mask_classes = ["re:"]', "mask_classes", "empty"),
    ('mask_classes = "keepass"', "mask_classes", "expected a list"),
    ("mask_rects = [[0, 0, 100]]", "mask_rects", "[left, top, width, height]"),
    ("mask_rects = [[0, 0, -5, 10]]", "mask_rects", "positive"),
    ('mask_rects = [[0, 0, "a", 10]]', "mask_rects", "expected int"),
    ("mask_rects = [[5000, 0, 10, 10]]", "mask_rects[0]", "outside the screen"),
]


@pytest.mark.display
@pytest.mark.parametrize("line, key, why", BAD)
def test_a_bad_mask_is_one_line_naming_the_key_and_nothing_is_written(still_display, run_cli, home, line,
                                                                      key, why):
    config = home / "bad.toml"
    config.write_text(f"[profiles.rep.mss]\n{line}\n", encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--duration", "2",
                     display=still_display.name)
    assert result.returncode == 2, result.stderr
    [message] = result.stderr.strip().splitlines()
    assert key in message and why in message, message
    assert not (home / "Documents").exists()


@pytest.mark.display
@pytest.mark.parametrize("damage", [True, False])
def test_a_window_moved_without_pause_during_grabs_never_leaks(still_display, home, damage):
    """Hundreds of moves and resizes a second, so that many happen while a frame
    is being grabbed: the mask is the union of every place the window had
    around the grab, so not one frame shows any of it."""
    display = still_display.name
    window = xterm(display, "secret", SECRET, "40x12+0+0")
    try:
        wid = window_of(display, "secret")
        recording = record(home, display, f'[profiles.rep.mss]\nmask_titles = ["secret"]\n'
                                          f"damage = {str(damage).lower()}\n", 7)
        time.sleep(1.5)
        script = (f"for i in $(seq 1 1500); do xdotool windowmove {wid} $((i * 7 % 1000)) $((i * 3 % 500)) "
                  f"windowsize {wid} $((200 + i % 300)) $((100 + i % 200)); done")
        mover = subprocess.run(["sh", "-c", script], env=dict(os.environ, DISPLAY=display), timeout=120,
                               capture_output=True)
        assert mover.returncode == 0, mover.stderr
        folder, manifest = finished(recording)
    finally:
        window.kill()
    frames = frames_of(folder / "part-001.mp4")
    assert len(frames) >= 30
    assert [t for t, picture in frames if pixels_like(picture, SECRET)] == []


LOCKED_MASKS = ('[profiles.rep.mss]\nmask_titles = ["*Online Banking*"]\n'
                '[profiles.rep]\nlocked = ["mss.mask_titles"]\n')


@pytest.mark.parametrize("choice", ["flag", "config", "portal"])
def test_masks_with_a_source_that_cannot_mask_refuse_to_record(run_cli, home, choice):
    """Issue 30 item 19: masks the site locked are not dropped because another source
    was chosen (by flag or config): one line naming profile, source and key, exit 2."""
    site = home / "site-config" / "recorder"
    site.mkdir(parents=True)
    (site / "recorder.toml").write_text(LOCKED_MASKS, encoding="utf-8")
    args = ["--profile", "rep", "--duration", "1", "--new-session"]
    source = {"flag": "synthetic", "config": "synthetic", "portal": "portal"}[choice]
    if choice == "flag":
        args += ["--source", "synthetic"]
    else:
        user = home / "user.toml"
        user.write_text(f'[profiles.rep]\nsource = "{source}"\n', encoding="utf-8")
        args += ["--config", str(user)]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert ("profile 'rep'" in line and f"source '{source}'" in line and "'mss.mask_titles'" in line
            and "cannot mask" in line), line
    assert not list(home.rglob("session.json"))


def test_a_source_that_declares_masks_can_mask_and_no_other():
    """Whether a source can mask is declared by its options (``metadata={"mask": True}``),
    not guessed from names: a third-party source's own masks are accepted, mss's masks
    with that source are refused, whatever the source."""
    import attrs
    from recorder import UsageError, hookimpl, option
    from recorder.testing import make_host, make_profile

    @attrs.frozen
    class PaintedOptions:
        hide: list[str] = option(attrs.Factory(list), "Painted over.", metadata={"mask": True})

    class Painted:
        name = "painted"

        @hookimpl
        def recorder_register_sources(self, register):
            register("painted", object, options=PaintedOptions, description="masks its own way")

    host = make_host(Painted())
    assert make_profile(host, {"source": "painted", "painted": {"hide": ["*Bank*"]}}).settings.source == "painted"
    assert make_profile(host, {"source": "mss", "mss": {"mask_rects": [[0, 0, 8, 8]]}}).settings.source == "mss"
    assert make_profile(host, {"source": "synthetic", "mss": {"mask_titles": []}})  # set, but empty: no mask
    for source, table, key in [("synthetic", "painted", "painted.hide"), ("painted", "mss", "mss.mask_rects"),
                               ("synthetic", "mss", "mss.mask_rects")]:
        value = ["x"] if table == "painted" else [[0, 0, 8, 8]]
        with pytest.raises(UsageError, match=rf"source '{source}' cannot mask") as refused:
            make_profile(host, {"source": source, table: {key.split(".")[1]: value}})
        assert f"'{key}'" in str(refused.value) and "\n" not in str(refused.value)
