"""Replay in a real browser (headless Chromium) and export to every format, checked by decoding."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import av
import pytest

from conftest import child_signals, cli_env, recorder_command

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
SMALL = "[profiles.rep.synthetic]\nwidth = 640\nheight = 360\n"


@pytest.fixture(scope="module")
def two_part_session(tmp_path_factory):
    """A session with a warning, a restart (SIGTERM, then resumed) and so two parts with a gap."""
    root = tmp_path_factory.mktemp("replay")
    home = root / "home"
    home.mkdir()
    config = root / "session.toml"
    config.write_text(SMALL + "[profiles.rep.disk-space]\ninterval = 0.2\nwarn_free = \"1000TB\"\n"
                              "stop_free = \"1MB\"\ngrace = 1000.0\n", encoding="utf-8")
    args = [recorder_command(), "--profile", "rep", "--source", "synthetic", "--config", str(config),
            "--session-id", "replay-1"]
    first = subprocess.Popen([*args, "--duration", "60"], env=cli_env(home), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    deadline = time.monotonic() + 20
    while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(3)
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=10)
    time.sleep(1.5)
    subprocess.run([*args, "--duration", "3"], env=cli_env(home), check=True, capture_output=True)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert len(manifest["parts"]) == 2 and any(e["kind"] == "gap" for e in manifest["events"])
    return home, folder, manifest


def run(home: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=cli_env(home), capture_output=True, text=True,
                            timeout=120, encoding="utf-8")
    if check is not None:
        assert result.returncode == check, result.stderr
    return result


def gray(frame: av.VideoFrame, width: int, height: int) -> bytes:
    plane = frame.reformat(width=width, height=height, format="gray").planes[0]
    data, stride = bytes(plane), plane.line_size
    return b"".join(data[y * stride:y * stride + width] for y in range(height))


def psnr(a: bytes, b: bytes) -> float:
    mse = sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)
    return float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def first_and_last(path: Path) -> tuple[av.VideoFrame, av.VideoFrame, int, float]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    last_time = float(frames[-1].time)
    step = (last_time - float(frames[0].time)) / max(1, len(frames) - 1)
    return frames[0], frames[-1], len(frames), last_time + step


@pytest.mark.parametrize("fmt, container, codec, min_psnr", [
    ("mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", 30),
    ("wmv", "asf", "wmv2", 25),
    ("webm", "matroska,webm", "vp9", 25),
    ("gif", "gif", "gif", 18),
])
def test_export_each_format(two_part_session, tmp_path, fmt, container, codec, min_psnr):
    home, folder, manifest = two_part_session
    out = tmp_path / f"session.{fmt}"
    assert Path(run(home, "export", manifest["session_id"][:8], "--format", fmt, "-o", str(out)).stdout.strip()) == out
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with av.open(str(out)) as result:
        assert result.format.name == container
        assert result.streams.video[0].codec_context.name == codec
    first, last, frames, duration = first_and_last(out)
    parts = manifest["parts"]
    fps = 10.0 if fmt == "gif" else manifest["video"]["fps"]
    assert abs(duration - sum(p["duration"] for p in parts)) <= len(parts) / fps + 0.01
    source_first, _, _, _ = first_and_last(folder / parts[0]["file"])
    _, source_last, _, _ = first_and_last(folder / parts[-1]["file"])
    width, height = 640, 360
    assert psnr(gray(first, width, height), gray(source_first, width, height)) > min_psnr
    assert psnr(gray(last, width, height), gray(source_last, width, height)) > min_psnr


def test_wmv_as_ffprobe_sees_it(two_part_session, tmp_path):
    home, folder, manifest = two_part_session
    out = tmp_path / "out.wmv"
    run(home, "export", str(folder), "--format", "wmv", "-o", str(out))
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams",
                                       str(out)], capture_output=True, text=True, check=True, encoding="utf-8").stdout)
    assert probe["format"]["format_name"] == "asf"
    assert probe["streams"][0]["codec_name"] == "wmv2"
    total = sum(p["duration"] for p in manifest["parts"])
    assert abs(float(probe["format"]["duration"]) - total) < 1 / manifest["video"]["fps"]  # within one frame


def test_export_range_scale_gaps_and_overwrite(two_part_session, tmp_path):
    home, folder, manifest = two_part_session
    [gap] = [e for e in manifest["events"] if e["kind"] == "gap"]
    kept = tmp_path / "gaps.mp4"
    run(home, "export", str(folder), "--format", "mp4", "-o", str(kept), "--keep-gaps", "--scale", "0.5")
    _, _, _, duration = first_and_last(kept)
    total = sum(p["duration"] for p in manifest["parts"])
    gap_length = manifest["parts"][1]["start"] - (manifest["parts"][0]["start"] + manifest["parts"][0]["duration"])
    assert gap_length > 1
    assert abs(duration - (total + gap_length)) < 0.3
    with av.open(str(kept)) as result:
        assert (result.streams.video[0].width, result.streams.video[0].height) == (320, 180)

    clip = tmp_path / "clip.webm"
    run(home, "export", str(folder), "--format", "webm", "-o", str(clip), "--from", "1", "--to", "2.5")
    _, _, _, duration = first_and_last(clip)
    assert abs(duration - 1.5) < 0.15

    before = clip.read_bytes()
    refused = run(home, "export", str(folder), "--format", "webm", "-o", str(clip), check=2)
    assert "exists; use --force" in refused.stderr and clip.read_bytes() == before
    assert run(home, "export", str(folder), "--format", "avi", "-o", str(tmp_path / "x.avi"), check=2)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_ctrl_c_during_export_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "noise.toml"
    config.write_text("[profiles.rep.synthetic]\nwidth = 1280\nheight = 720\nnoise = true\n", encoding="utf-8")
    subprocess.run([recorder_command(), "--profile", "rep", "--source", "synthetic", "--config", str(config),
                    "--duration", "8"], env=cli_env(home), check=True, capture_output=True)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    out = tmp_path / "big.webm"
    proc = subprocess.Popen([recorder_command(), "export", str(folder), "--format", "webm", "-o", str(out)],
                            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child_signals)
    time.sleep(1.5)
    assert proc.poll() is None, "the export finished too fast to interrupt"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert list(tmp_path.glob("*big.webm*")) == []


def test_replay_page_in_headless_chromium(two_part_session):
    from playwright.sync_api import sync_playwright

    home, folder, manifest = two_part_session
    page_path = Path(run(home, "play", manifest["session_id"][:8], "--no-open").stdout.strip())
    assert page_path.name == "index.html" and folder not in page_path.parents
    requests: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"])
        # bypass_csp lets Playwright evaluate its probes; requests are still all logged below
        page = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 800}).new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri())
        page.wait_for_function("document.getElementById('video').duration > 0")
        assert page.evaluate("document.getElementById('video').duration") == pytest.approx(
            manifest["parts"][0]["duration"], abs=0.2)
        assert page.evaluate("replay.total") == pytest.approx(
            manifest["parts"][1]["start"] + manifest["parts"][1]["duration"], abs=0.01)
        page.click("#play")
        page.wait_for_function("replay.time() > 0.5", timeout=10000)
        page.click("#play")  # pause
        # on a loaded machine the click can land late: what follows needs the player paused
        page.wait_for_function("document.getElementById('video').paused", timeout=10000)

        # the gap marker sits where recording stopped; clicking it plays on from the next part's
        # first frame (the gap event itself is logged at resume, a moment before that frame)
        resumed_at = manifest["parts"][1]["start"]
        page.click(".marker.gap")
        page.wait_for_function(f"Math.abs(replay.time() - {resumed_at}) < 0.1 && "
                               "document.getElementById('video').readyState >= 1", timeout=10000)
        assert "part 2 of 2" in page.text_content("#status")

        warning = next(e for e in manifest["events"] if e["kind"] == "notification")
        page.click(f".marker[data-t='{warning['t']}']")
        page.wait_for_function(f"Math.abs(replay.time() - {warning['t']}) < 0.3", timeout=10000)
        assert "part 1 of 2" in page.text_content("#status")

        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"replay.time() > {warning['t']} + 4", timeout=10000)
        assert page.locator("div.gap").count() == 1  # the restart, shown on the bar
        page.screenshot(path=str(ARTIFACTS / "replay.png"), full_page=True)
        browser.close()
    outside = [url for url in requests if not url.startswith(("file://", "data:", "blob:"))]
    assert outside == [], outside


from matroska_plugin import SOURCE as MPEG4_MKV  # noqa: E402



def test_replay_converts_parts_browsers_cannot_play(tmp_path):
    from installed import install_plugin

    site = install_plugin(tmp_path / "site", "mpeg4-mkv", MPEG4_MKV)
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(home, PYTHONPATH=str(site))
    config = tmp_path / "c.toml"
    config.write_text(SMALL + '[profiles.rep]\nencoder = "mpeg4-mkv"\n', encoding="utf-8")
    recorded = subprocess.run([recorder_command(), "--profile", "rep", "--source", "synthetic", "--config",
                               str(config), "--duration", "2"], env=env, capture_output=True, text=True,
                               encoding="utf-8")
    assert recorded.returncode == 0, recorded.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    page = Path(subprocess.run([recorder_command(), "play", str(folder), "--no-open"], env=env, check=True,
                               capture_output=True, text=True, encoding="utf-8").stdout.strip())
    [copy] = page.parent.glob("*.browser.mp4")
    assert copy.stat().st_mode & 0o777 == 0o600 and page.stat().st_mode & 0o777 == 0o600
    with av.open(str(copy)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 30
    assert copy.as_uri() in page.read_text(encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == ["part-001.mkv", "session.json"]


HOSTILE = 'Kunde <!--<script> </script> [/red] & Müller \u2028 "quoted"'


def test_replay_page_shows_event_text_that_looks_like_markup(tmp_path):
    """Event text can carry anything (a folder name quoted in a disk warning): the page
    still plays and shows it verbatim."""
    from playwright.sync_api import sync_playwright
    from recorder.session import manifest as manifests

    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "small.toml"
    config.write_text(SMALL, encoding="utf-8")
    run(home, "--profile", "rep", "--source", "synthetic", "--config", str(config), "--duration", "1")
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = manifests.read(folder)
    manifest.add_event("notification", HOSTILE, t=0.5, level="warning")
    manifests.write(folder, manifest)
    page_path = Path(run(home, "play", str(folder), "--no-open").stdout.strip())
    assert page_path.stat().st_mode & 0o777 == 0o600
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"])
        page = browser.new_context(bypass_csp=True).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_path.as_uri())
        page.wait_for_function("document.getElementById('video').duration > 0", timeout=10000)
        texts = page.eval_on_selector_all("#events tr", "rows => rows.map(r => r.cells[2].textContent)")
        browser.close()
    assert errors == []
    assert HOSTILE in texts
