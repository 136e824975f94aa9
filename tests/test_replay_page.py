"""The replay page as a reviewer uses it, in real Chromium (Playwright driving the system
chromium, as in test_replay_export.py), on sessions really recorded: the picture fills
the window, 1:1 zoom that pans, fullscreen, still stretches shaded and skipped, times
of day, thumbnails, the event list, keys, remembered settings. And the still spans
recorder notes in the manifest. Screenshots are kept in test-artifacts/replay/."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import attrs
import av
import mss
import pytest
from recorder.session import manifest as manifests
from recorder.session.model import STILL_MAX, Session
from recorder.testing import record

from conftest import child_signals, cli_env, recorder_command

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "replay"
SMALL = "[profiles.rep.synthetic]\nwidth = 640\nheight = 360\n"


def run(home: Path, *args: str, check: int | None = 0, display: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=cli_env(home, display), capture_output=True,
                            text=True, timeout=120, encoding="utf-8")
    if check is not None:
        assert result.returncode == check, (args, result.stdout, result.stderr)
    return result


def fmt(t: float) -> str:
    t = max(0, int(t))
    h, m, s = t // 3600, t % 3600 // 60, t % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


@attrs.frozen
class Recorded:
    home: Path
    folder: Path
    manifest: dict
    page: Path

    def events(self, kind: str) -> list[dict]:
        return [e for e in self.manifest["events"] if e["kind"] == kind]


def _recorded(home: Path, out: str) -> Recorded:
    folder = Path(out.strip().splitlines()[-1])
    page = Path(run(home, "play", str(folder), "--no-open").stdout.strip())
    return Recorded(home, folder, json.loads((folder / "session.json").read_text(encoding="utf-8")), page)


@pytest.fixture(scope="module")
def review(tmp_path_factory) -> Recorded:
    """A session as a reviewer gets it: a support session id and labels, chat lines (one
    while paused) and remote control from the support tool, a pause (a gap: two parts),
    a picture that changes every 6 s (still stretches), and one recorder-internal event."""
    root = tmp_path_factory.mktemp("review")
    home = root / "home"
    home.mkdir()
    config = root / "review.toml"
    config.write_text(SMALL + "hold = 90\n", encoding="utf-8")  # 6 s a picture at 15 fps
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--config", str(config),
                             "--session-id", "SUP-1234", "--label", "ticket=T-42", "--label", "customer=ACME",
                             "--duration", "120"], env=cli_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    try:
        run(home, "status", "--json", "--wait", "20")
        time.sleep(2.5)
        run(home, "mark", "Customer: the login page hangs", "--kind", "chat", "--by", "customer")
        time.sleep(4.5)
        run(home, "pause", "--by", "customer", "--reason", "typing a password")
        time.sleep(1)
        run(home, "mark", "Customer: done", "--kind", "chat", "--by", "customer")  # in the gap
        time.sleep(1)
        run(home, "resume", "--by", "customer")
        time.sleep(7)
        run(home, "mark", "remote control granted", "--kind", "remote-control", "--by", "rep")
        time.sleep(1.5)
        run(home, "stop", "--by", "support-tool")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    folder = Path(out.strip().splitlines()[-1])
    # recorder's own housekeeping on the timeline: listed, but hidden until asked for
    manifest = manifests.read(folder)
    manifest.add_event("plugin-error", "plugin 'example' failed: boom", t=3.0, level="error", by="example")
    manifests.write(folder, manifest)
    session = _recorded(home, out)
    assert len(session.manifest["parts"]) == 2
    return session


@pytest.fixture(scope="module")
def terminal(tmp_path_factory) -> Recorded:
    """Three seconds of a 1920x1080 screen (its own Xvfb) with small terminal text on it."""
    if shutil.which("Xvfb") is None or shutil.which("xterm") is None:
        pytest.fail("Xvfb and xterm are needed (apt-get install xvfb xterm)")
    home = tmp_path_factory.mktemp("terminal") / "home"
    home.mkdir()
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            pass_fds=[write], stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:
        display = ":" + pipe.readline().strip()
    xterm = subprocess.Popen(["xterm", "-fa", "Monospace", "-fs", "8", "-geometry", "250x80+0+0", "-e", "sh", "-c",
                              "ls -la /usr/bin | head -78; exec sleep 600"], env=dict(os.environ, DISPLAY=display),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with mss.MSS(display=display) as screen:
            area = {"left": 0, "top": 0, "width": 800, "height": 400}
            deadline = time.monotonic() + 20
            while len(set(screen.grab(area).raw[::97])) < 20:  # text drawn: many different pixels
                assert time.monotonic() < deadline, "the xterm did not show its text"
                time.sleep(0.2)
        out = run(home, "--profile", "rep", "--source", "mss", "--duration", "3", display=display).stdout
    finally:
        for proc in (xterm, xvfb):
            proc.terminate()
            proc.wait(10)
    return _recorded(home, out)


@contextlib.contextmanager
def opened(chromium, session: Recorded, *, width: int = 1280, height: int = 800, context=None):
    """The session's page, its first frame shown; fails on any script error."""
    own = context is None
    if own:  # bypass_csp lets Playwright evaluate its probes
        context = chromium.new_context(bypass_csp=True, viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(session.page.as_uri())
        page.wait_for_function("replay.presented > 0", timeout=15000)
        yield page
        assert errors == []
    finally:
        page.close()
        if own:
            context.close()


def wait_time(page, t: float, within: float = 0.15, timeout: float = 10000) -> None:
    page.wait_for_function(f"Math.abs(replay.time() - {t}) < {within} && "
                           "document.getElementById('video').readyState >= 2", timeout=timeout)


def playing(page) -> bool:
    return not page.evaluate("document.getElementById('video').paused")


# -- the picture ---------------------------------------------------------------------------

def test_the_picture_fills_the_window(chromium, terminal):
    """No cap on the picture's height any more: only the header, the timeline and the
    controls take room from it, and the event list when shown beside it."""
    with opened(chromium, terminal, width=1280, height=800) as page:
        stage = page.locator("#stage").bounding_box()
        box = page.evaluate("replay.fittedBox()")
        assert stage["width"] == 1280 and stage["height"] >= 800 - 140  # the list is hidden in a small window
        assert box["width"] == pytest.approx(stage["width"], abs=1) or box["height"] == pytest.approx(
            stage["height"], abs=1)
        assert box["width"] >= 1200  # a 1080p picture shown 1200 px wide, not 862
        shot(page, "fit-window.png")

        page.keyboard.press("e")  # the event list beside it
        page.wait_for_function("!document.getElementById('side').classList.contains('hidden')")
        stage = page.locator("#stage").bounding_box()
        box = page.evaluate("replay.fittedBox()")
        assert box["width"] == pytest.approx(stage["width"], abs=1) and stage["width"] == 1280 - 380


def gray(frame: av.VideoFrame, box: tuple[int, int, int, int]) -> bytes:
    left, top, width, height = box
    plane = frame.reformat(format="gray").planes[0]
    data, stride = bytes(plane), plane.line_size
    return b"".join(data[y * stride + left:y * stride + left + width] for y in range(top, top + height))


def psnr(a: bytes, b: bytes) -> float:
    mse = sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)
    return float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def test_one_to_one_zoom_pans_by_dragging_and_scrolling(chromium, terminal, tmp_path):
    with opened(chromium, terminal, width=1280, height=800) as page:
        shot(page, "terminal-fit.png")
        page.keyboard.press("z")
        page.wait_for_function("replay.zoomed")
        picture = page.locator("#video").bounding_box()
        assert (picture["width"], picture["height"]) == (1920, 1080)  # one recorded pixel a screen pixel
        stage = page.locator("#stage")
        size = stage.evaluate("s => [s.scrollWidth, s.scrollHeight, s.clientWidth, s.clientHeight]")
        assert size[0] == 1920 and size[1] == 1080
        left, top = stage.evaluate("s => [s.scrollLeft, s.scrollTop]")
        assert left == pytest.approx((1920 - size[2]) / 2, abs=2)  # zoomed on the middle

        page.mouse.move(600, 300)
        page.mouse.down()
        page.mouse.move(500, 260, steps=5)
        page.mouse.up()
        assert stage.evaluate("s => [s.scrollLeft, s.scrollTop]") == [pytest.approx(left + 100, abs=1),
                                                                      pytest.approx(top + 40, abs=1)]
        page.mouse.wheel(0, 150)
        page.wait_for_function(f"document.getElementById('stage').scrollTop > {top + 40 + 50}")
        assert playing(page) is False, "dragging the picture does not play it"

        # what the page shows is the recording's own pixels: the terminal text, unscaled
        stage.evaluate("s => { s.scrollLeft = 0; s.scrollTop = 0; }")
        origin = stage.bounding_box()
        text = (0, 0, 640, 300)
        page.screenshot(path=str(tmp_path / "shown.png"), clip={"x": origin["x"], "y": origin["y"],
                                                                "width": text[2], "height": text[3]})
        with av.open(str(tmp_path / "shown.png")) as shown, av.open(str(terminal.folder / "part-001.mp4")) as part:
            on_page, recorded = next(shown.decode(video=0)), next(part.decode(video=0))
        assert psnr(gray(on_page, text), gray(recorded, text)) > 25
        shot(page, "terminal-1to1.png")

        page.keyboard.press("z")
        page.wait_for_function("!replay.zoomed")
        assert page.locator("#video").bounding_box()["width"] <= 1280
        # a double-click zooms on the point clicked: the pixel under the mouse stays there
        box = page.evaluate("replay.fittedBox()")
        origin = page.locator("#video").bounding_box()
        x, y = origin["x"] + box["x"] + box["width"] * 0.8, origin["y"] + box["y"] + box["height"] * 0.3
        page.mouse.dblclick(x, y)
        page.wait_for_function("replay.zoomed")
        stage_box = stage.bounding_box()
        under = stage.evaluate(f"s => [s.scrollLeft + {x - stage_box['x']}, s.scrollTop + {y - stage_box['y']}]")
        assert under == [pytest.approx(1920 * 0.8, abs=3), pytest.approx(1080 * 0.3, abs=3)]


def test_fullscreen(chromium, terminal):
    with opened(chromium, terminal) as page:
        page.keyboard.press("f")
        page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === 'player'")
        page.wait_for_function("document.getElementById('fullscreen').classList.contains('on')")
        shot(page, "fullscreen.png")
        page.keyboard.press("f")
        page.wait_for_function("document.fullscreenElement === null")


# -- what the page says -------------------------------------------------------------------------

def test_header_and_times_of_day(chromium, review):
    manifest = review.manifest
    with opened(chromium, review, width=1600, height=900) as page:
        assert page.text_content("#session-id") == manifest["session_id"]
        assert page.text_content("#support") == "support session SUP-1234"
        assert page.eval_on_selector_all(".label", "els => els.map(e => e.textContent)") == [
            "ticket: T-42", "customer: ACME"]
        started = manifests.read(review.folder).started_at
        assert started.strftime("%Y-%m-%d %H:%M:%S") in page.text_content("#meta")

        # beside each offset, the time of day the recording machine's clock showed
        assert page.text_content("#wallclock") == started.strftime("%H:%M:%S")
        page.evaluate("replay.seek(5.5)")
        wait_time(page, 5.5)
        assert page.text_content("#wallclock") == (started + timedelta(seconds=5.5)).strftime("%H:%M:%S")
        chat = review.events("chat")[0]
        row = page.locator("#events tr", has_text="Customer: the login page hangs")
        assert row.locator(".wall").text_content() == chat["time"][11:19]
        assert row.locator("td.t").text_content().startswith(fmt(chat["t"]))
        shot(page, "header-and-events.png")


def test_thumbnails_when_hovering_over_the_timeline(chromium, review):
    cache = review.page.parent
    strips = sorted(cache.glob("thumbs-*.jpg"))
    assert len(strips) == 2  # one per part
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in cache.glob("thumbs-*"))
    with av.open(str(strips[0])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.width == 192 and stream.codec_context.height % 108 == 0

    part1, part2 = review.manifest["parts"]
    with opened(chromium, review) as page:
        bar = page.locator("#bar").bounding_box()
        total = page.evaluate("replay.total")
        at = lambda t: (bar["x"] + bar["width"] * t / total, bar["y"] + bar["height"] / 2)  # noqa: E731

        page.mouse.move(*at(part2["start"] + 3))
        page.wait_for_function("!document.getElementById('hover').classList.contains('hidden')")
        thumb = page.locator("#thumb")
        assert thumb.is_visible()
        assert "thumbs-" in thumb.evaluate("t => t.style.backgroundImage")
        assert part2["start"] <= float(thumb.get_attribute("data-time")) <= part2["start"] + 3.1
        text = page.text_content("#hover-text")
        started = manifests.read(review.folder).started_at
        hovered = total * (at(part2["start"] + 3)[0] - bar["x"]) / bar["width"]
        assert text.startswith(fmt(hovered) + " · " + (started + timedelta(seconds=hovered)).strftime("%H:%M:%S"))
        # the picture itself loads from the cache folder
        size = page.evaluate("""src => new Promise(resolve => { const i = new Image();
            i.onload = () => resolve([i.naturalWidth, i.naturalHeight]); i.onerror = () => resolve(null);
            i.src = src; })""", thumb.evaluate("t => t.style.backgroundImage.slice(5, -2)"))
        assert size is not None and size[0] == 192
        shot(page, "hover-thumbnail.png")

        gap = (part1["start"] + part1["duration"] + part2["start"]) / 2
        page.mouse.move(*at(gap))
        page.wait_for_function("document.getElementById('hover-text').textContent.includes('not recording')")
        assert "paused by customer: typing a password" in page.text_content("#hover-text")
        assert not thumb.is_visible()


def test_thumbnails_load_under_the_pages_own_security_policy(chromium, review):
    """Without Playwright's bypass: the policy lets the page show its cached pictures, nothing else."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    requests: list[str] = []
    page.on("requestfinished", lambda request: requests.append(request.url))
    page.goto(review.page.as_uri())
    page.wait_for_timeout(1000)
    bar = page.locator("#bar").bounding_box()
    page.mouse.move(bar["x"] + 40, bar["y"] + 10)
    page.wait_for_timeout(1000)
    context.close()
    assert not [line for line in console if "Content Security Policy" in line], console
    assert any("thumbs-" in url for url in requests), requests


def test_event_list_follows_playback_filters_by_kind_and_hides_internal_events(chromium, review):
    chat, [remote] = review.events("chat")[0], review.events("remote-control")
    with opened(chromium, review, width=1600, height=900) as page:  # wide: the list is shown
        assert page.locator("#side").is_visible()
        internal = page.locator("#events tr", has_text="plugin 'example' failed")
        assert not internal.is_visible()
        assert not page.is_checked("#kinds input[data-kind='plugin-error']")
        for kind in ("chat", "remote-control", "started", "paused", "unpaused", "notification"):
            assert page.is_checked(f"#kinds input[data-kind='{kind}']"), kind
        page.check("#kinds input[data-kind='plugin-error']")
        assert internal.is_visible()
        page.uncheck("#kinds input[data-kind='plugin-error']")
        page.uncheck("#kinds input[data-kind='chat']")
        chat_row = page.locator("#events tr", has_text="Customer: the login page hangs")
        assert not chat_row.is_visible() and page.locator(".marker.chat:visible").count() == 0
        page.check("#kinds input[data-kind='chat']")

        page.evaluate(f"replay.seek({chat['t'] + 0.5})")
        page.wait_for_function("document.querySelector('#events tr.current') !== null")
        assert page.text_content("#events tr.current td:nth-child(2)") == "chat"
        assert "current" in page.get_attribute(f".marker.chat[data-t='{chat['t']}']", "class")
        # playing on, the highlight moves with it
        page.evaluate(f"replay.seek({remote['t'] - 1})")
        wait_time(page, remote["t"] - 1)
        page.keyboard.press(" ")
        page.wait_for_function("document.querySelector('#events tr.current td:nth-child(2)').textContent"
                               " === 'remote-control'", timeout=10000)
        shot(page, "event-list.png")


# -- idle stretches ------------------------------------------------------------------------------

def test_still_stretches_are_shaded_and_skipped_while_playing(chromium, review):
    still = review.manifest["still"]
    long = [(s, e) for s, e in still if e - s >= 5]
    assert long, still
    start, end = long[0]
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    with opened(chromium, review, context=context) as page:
        assert page.locator(".still").count() == len(still)
        assert page.locator(".still.skipped").count() == len(long)
        assert page.is_checked("#skip-idle") and page.input_value("#idle-min") == "5"
        page.evaluate(f"replay.seek({max(0.0, start - 0.5)})")
        wait_time(page, max(0.0, start - 0.5))
        page.keyboard.press(" ")
        page.wait_for_function("document.getElementById('status').textContent.includes('skipped')", timeout=10000)
        # it jumped: a moment before the picture changes, not played through at 1x
        assert page.evaluate("replay.time()") >= end - 1.05
        shot(page, "idle-skipped.png")

        page.keyboard.press("i")  # off, remembered
        assert not page.is_checked("#skip-idle") and page.locator(".still.skipped").count() == 0
        page.select_option("#idle-min", "2")
    with opened(chromium, review, context=context) as page:
        assert not page.is_checked("#skip-idle") and page.input_value("#idle-min") == "2"
        page.evaluate(f"replay.seek({start})")
        wait_time(page, start)
        page.keyboard.press(" ")
        page.wait_for_timeout(1500)
        assert page.evaluate("replay.time()") < end - 2, "played through"
        assert "skipped" not in page.text_content("#status")
    context.close()


def test_still_spans_are_within_parts(review):
    """A pause ends a still stretch: the pause is a gap of its own."""
    parts = review.manifest["parts"]
    assert review.manifest["format_version"] == manifests.FORMAT_VERSION
    for start, end in review.manifest["still"]:
        assert end - start >= 1.0
        assert any(p["start"] - 0.1 <= start and end <= p["start"] + p["duration"] + 0.1 for p in parts), (start, end)


# -- keys -----------------------------------------------------------------------------------------

def test_left_arrow_and_p_cross_gaps_backwards(chromium, review):
    part1, part2 = review.manifest["parts"]
    end1 = part1["start"] + part1["duration"]
    chat = review.events("chat")[0]
    with opened(chromium, review) as page:
        page.evaluate(f"replay.seek({part2['start']})")
        wait_time(page, part2["start"])
        page.keyboard.press("ArrowLeft")  # 5 s of recording back: over the pause
        wait_time(page, end1 - 5)
        assert "part 1 of 2" in page.text_content("#status")

        page.evaluate(f"replay.seek({part2['start'] + 0.3})")
        wait_time(page, part2["start"] + 0.3)
        page.keyboard.press("p")  # the pause's events, where recording stopped
        page.wait_for_function(f"replay.time() < {end1} && replay.time() > {end1 - 0.3}")
        assert "part 1 of 2" in page.text_content("#status")
        page.keyboard.press("p")  # the internal event after the chat line is not listed, so not visited
        wait_time(page, chat["t"])
        page.keyboard.press("n")
        page.wait_for_function(f"replay.time() > {chat['t'] + 0.5}")

        # an event in the gap (a chat line while paused): P goes to the start of the part
        # after it, and from there on to the end of the part before
        page.evaluate(f"replay.seek({part2['start'] + 3})")
        wait_time(page, part2["start"] + 3)
        page.keyboard.press("p")
        wait_time(page, part2["start"], within=0.1)
        page.keyboard.press("p")
        page.wait_for_function(f"replay.time() < {end1} && replay.time() > {end1 - 0.3}")


def test_keys_reach_the_player_whatever_has_focus(chromium, review):
    with opened(chromium, review) as page:
        page.focus("#speed")
        page.keyboard.press("ArrowRight")
        wait_time(page, 5)
        assert page.input_value("#speed") == "1", "the speed menu did not take the arrow"

        page.click("#play")  # the button has the focus, and Space presses buttons
        page.wait_for_function("!document.getElementById('video').paused")
        page.keyboard.press(" ")
        page.wait_for_function("document.getElementById('video').paused")
        page.wait_for_timeout(300)
        assert not playing(page), "Space toggled once, not twice"

        page.focus("#kinds input[data-kind='chat']")  # and checkboxes
        page.keyboard.press(" ")
        page.wait_for_function("!document.getElementById('video').paused")
        assert page.is_checked("#kinds input[data-kind='chat']")
        page.keyboard.press("k")
        page.wait_for_function("document.getElementById('video').paused")


def test_end_then_space_plays_the_session_again_from_its_start(chromium, review):
    with opened(chromium, review) as page:
        page.keyboard.press("i")  # the session starts with a still stretch: played, not skipped, here
        page.keyboard.press("End")
        page.wait_for_function("document.getElementById('status').textContent.includes('part 2 of 2')")
        wait_time(page, page.evaluate("replay.segments[1].start + replay.segments[1].duration") - 0.05)
        page.keyboard.press(" ")
        page.wait_for_function("document.getElementById('status').textContent.includes('part 1 of 2')")
        page.wait_for_function("!document.getElementById('video').paused && replay.time() < 3")


def test_speed_from_half_to_sixteen_times_is_remembered(chromium, review):
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    with opened(chromium, review, context=context) as page:
        for _ in range(8):
            page.keyboard.press("[")
        assert page.input_value("#speed") == "0.5"
        for _ in range(8):
            page.keyboard.press("]")
        assert page.input_value("#speed") == "16"
        assert page.evaluate("document.getElementById('video').playbackRate") == 16
    with opened(chromium, review, context=context) as page:
        assert page.input_value("#speed") == "16"
        page.evaluate(f"replay.seek({review.manifest['parts'][1]['start'] + 1})")  # another part, same speed
        page.wait_for_function("replay.part === 1 && document.getElementById('video').readyState >= 1")
        assert page.evaluate("document.getElementById('video').playbackRate") == 16
    context.close()


# -- still spans in the manifest -------------------------------------------------------------------

def test_the_capture_thread_notes_still_spans(host, tmp_settings):
    """A picture that changes every 3 s: a span from each change to the next; the last,
    cut short by the end, is too short to keep."""
    settings = dict(tmp_settings, fps=10.0, synthetic={"width": 320, "height": 240, "hold": 30, "realtime": False})
    session = record(host, settings, duration=10.0)
    assert [round(e - s, 3) for s, e in session.still] == [3.0, 3.0, 3.0]
    assert [round(e, 3) for _, e in session.still[:-1]] == [round(s, 3) for s, _ in session.still[1:]]
    manifest = manifests.read(session.folder)
    assert manifest.still == session.still and manifest.format_version == manifests.FORMAT_VERSION

    settings["skip_unchanged"] = False  # nothing compares frames then
    assert record(host, settings, duration=4.0).still == []


def test_still_spans_are_capped_keeping_the_longest():
    session = Session(profile="rep", role="rep")
    session.add_still(0.0, 0.9)  # too short
    lengths = [1 + i % 7 for i in range(STILL_MAX + 5)]  # 1 s to 7 s
    for i, length in enumerate(lengths):
        session.add_still(i * 10.0, i * 10.0 + length)
    spans = session.still_spans()
    assert len(spans) == STILL_MAX and spans == sorted(spans)
    assert sum(1 for s, e in spans if e - s == 1) == lengths.count(1) - 5  # five of the shortest went


@pytest.mark.display
def test_still_spans_of_a_real_screen(still_display, tmp_path):
    """The screen source: still until a test draws on it, still again, drawn on again."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, DISPLAY=still_display.name)
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "mss", "--duration", "60"],
                            env=cli_env(home, still_display.name), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", preexec_fn=child_signals)
    try:
        run(home, "status", "--json", "--wait", "20")
        time.sleep(2.5)
        run(home, "mark", "red", "--kind", "draw")
        subprocess.run(["xsetroot", "-solid", "#c03030"], env=env, check=True)
        time.sleep(4)
        run(home, "mark", "blue", "--kind", "draw")
        subprocess.run(["xsetroot", "-solid", "#3050c0"], env=env, check=True)
        time.sleep(2.5)
        run(home, "stop")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    manifest = json.loads((Path(out.strip().splitlines()[-1]) / "session.json").read_text(encoding="utf-8"))
    red, blue = (e["t"] for e in manifest["events"] if e["kind"] == "draw")
    still = manifest["still"]
    assert any(abs(s - red) < 0.6 and abs(e - blue) < 0.6 for s, e in still), (red, blue, still)
    assert any(s < 1.0 and abs(e - red) < 0.6 for s, e in still), (red, still)  # before the first drawing
    end = manifest["parts"][-1]["start"] + manifest["parts"][-1]["duration"]
    assert any(abs(s - blue) < 0.6 and e > end - 0.6 for s, e in still), (blue, end, still)  # until the end


def test_older_manifests_read_with_no_still_spans(tmp_path):
    folder = tmp_path / "v1"
    shutil.copytree(Path(__file__).parent / "data" / "v1-complete", folder)
    manifest = manifests.read(folder)
    assert manifest.format_version == manifests.FORMAT_VERSION and manifest.still == [] and not manifest.parts[0].stream
    data = json.loads(manifests.dumps(manifest))
    del data["still"]
    assert manifests.parse(json.dumps(dict(data, format_version=3))).still == []
    data["still"] = [[1.5, 4.0], [6, 9.25]]
    assert manifests.parse(json.dumps(data)).still == [(1.5, 4.0), (6.0, 9.25)]
    with pytest.raises(manifests.ManifestError, match="still"):
        manifests.parse(json.dumps(dict(data, still=[[4.0, 1.5]])))
