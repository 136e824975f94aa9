"""Parts as real players see them: ffmpeg, GStreamer, VLC, mpv and Chromium seek
to the right picture, ffprobe, mediainfo and gst-discoverer-1.0 report the right
duration, colours come out as they were on the screen, and the session's tags
are there. Both for a sealed part and for one recovered after a kill -9.

Players run headless as their users would run them. A missing player fails the
test (with the package to install); it never skips.
"""

from __future__ import annotations

import base64
import json
import math
import os
import pwd
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from recorder import VideoFormat
from recorder.pipeline.recording import Recording
from recorder.plugins.h264 import H264Encoder, H264Options
from recorder.plugins.h264.fmp4 import samples, scan
from recorder.plugins.synthetic_source import frame_number_of
from recorder.testing import TmpSinkPlugin, make_host, make_profile

from conftest import child_signals, cli_env, recorder_command

FPS = 10.0
SIZE = (320, 240)
# Between two frames (10 fps): a player shows either the frame on screen at that
# moment or the first one after it, by its own convention (VLC and Chromium the
# former, mpv and ffmpeg -ss the latter). Keyframes are 10 s apart (the default):
# every seek but the first lands after the second keyframe, none on one.
SEEKS = (5.05, 12.05, 15.05)
MIN_PSNR = 30.0  # luma; a grey picture with only the changed regions drawn on it scores about 10
SUPPORT_ID, LABELS = "ticket-42", {"customer": "ACME Ltd", "rep": "Jo"}
PACKAGES = {"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "cvlc": "vlc-bin vlc-plugin-base", "mpv": "mpv",
            "mediainfo": "mediainfo", "gst-discoverer-1.0": "gstreamer1.0-plugins-base-apps",
            "chromium": "chromium"}
GST_PACKAGES = ("python3-gi gir1.2-gstreamer-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
                "gstreamer1.0-libav")


def need(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        pytest.fail(f"{command} is not installed (apt-get install {PACKAGES[command]})")
    return found


def run(*command: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, timeout=timeout, env=env)
    assert result.returncode == 0, (command, result.stderr.decode(errors="replace")[-2000:])
    return result


# -- pictures --------------------------------------------------------------------------


def rgb(frame: av.VideoFrame) -> bytes:
    """The picture as packed RGB24, without row padding."""
    frame = frame.reformat(format="rgb24")
    plane, row = frame.planes[0], frame.width * 3
    data = bytes(plane)
    return b"".join(data[y * plane.line_size:y * plane.line_size + row] for y in range(frame.height))


def image_rgb(path: Path) -> bytes:
    with av.open(str(path)) as container:
        return rgb(next(container.decode(video=0)))


def luma_psnr(a: bytes, b: bytes) -> float:
    """PSNR of the luma of two RGB pictures: what the picture shows. (Players upsample
    4:2:0 chroma each their own way, which differs by up to 100 levels on the
    one-pixel edges of saturated colour bars.)"""
    assert len(a) == len(b), (len(a), len(b))
    error = sum((luma(a, i) - luma(b, i)) ** 2 for i in range(0, len(a), 3))
    return 99.0 if not error else 10 * math.log10(255**2 * len(a) / 3 / error)


def luma(picture: bytes, at: int) -> float:
    return 0.299 * picture[at] + 0.587 * picture[at + 1] + 0.114 * picture[at + 2]


def number_in(picture: bytes, width: int) -> int:
    """The synthetic source's frame number, read from the blocks along the top edge."""
    return frame_number_of(lambda x, y: sum(picture[(y * width + x) * 3:(y * width + x) * 3 + 3]) // 3)


class Reference:
    """Every frame of a part, decoded by PyAV's FFmpeg from the start (no seeking)."""

    def __init__(self, path: Path):
        with av.open(str(path)) as container:
            self.frames = [(float(frame.time), rgb(frame)) for frame in container.decode(video=0)]
        self.numbers = [number_in(picture, SIZE[0]) for _, picture in self.frames]
        self.duration = self.frames[-1][0] + 1 / FPS  # the sum of the frame durations

    def check(self, player: str, t: float, picture: bytes) -> str | None:
        """None if ``picture`` is the whole picture a player should show for time ``t``."""
        at = max(i for i, (time_, _) in enumerate(self.frames) if time_ <= t + 1e-6)
        shown = number_in(picture, SIZE[0])
        for index in (at, at + 1):
            if index < len(self.frames) and self.numbers[index] == shown:
                quality = luma_psnr(picture, self.frames[index][1])
                return None if quality > MIN_PSNR else f"{player} at {t} s: frame {shown}, {quality:.1f} dB"
        return f"{player} at {t} s: frame {shown} shown, expected {self.numbers[at]}"


# -- players ---------------------------------------------------------------------------


def ffmpeg_frames(path: Path, times) -> list[bytes]:
    need("ffmpeg")
    return [run("ffmpeg", "-v", "error", "-ss", str(t), "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-").stdout for t in times]


GST_SEEK = r"""
import json, sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
path, out, times = sys.argv[1], sys.argv[2], [float(t) for t in sys.argv[3:]]
pipeline = Gst.parse_launch("filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=RGBA "
                            "! appsink name=sink sync=false")
pipeline.get_by_name("src").set_property("location", path)
sink = pipeline.get_by_name("sink")
pipeline.set_state(Gst.State.PAUSED)
assert pipeline.get_state(30 * Gst.SECOND)[0] == Gst.StateChangeReturn.SUCCESS, "no preroll"
for index, t in enumerate(times):
    assert pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE, int(t * Gst.SECOND))
    pipeline.get_state(30 * Gst.SECOND)
    buffer = sink.emit("pull-preroll").get_buffer()
    with open(f"{out}/{index}.rgba", "wb") as file:
        file.write(buffer.extract_dup(0, buffer.get_size()))
pipeline.set_state(Gst.State.NULL)
"""


def gstreamer_frames(path: Path, times) -> list[bytes]:
    """decodebin (qtdemux, avdec_h264) with a flushing accurate seek, as players built on GStreamer seek."""
    python = "/usr/bin/python3"  # the distribution's python, where python3-gi is
    if subprocess.run([python, "-c", "import gi; gi.require_version('Gst', '1.0')"], capture_output=True).returncode:
        pytest.fail(f"GStreamer's Python bindings are not installed (apt-get install {GST_PACKAGES})")
    with tempfile.TemporaryDirectory() as out:
        run(python, "-c", GST_SEEK, str(path), out, *map(str, times))
        pictures = [Path(out, f"{index}.rgba").read_bytes() for index in range(len(times))]
    return [bytes(b for i, b in enumerate(picture) if i % 4 != 3) for picture in pictures]


def vlc_frames(path: Path, times, size: tuple[int, int] = SIZE) -> list[bytes]:
    """cvlc playing from each time with the scene filter saving what reaches the video output."""
    need("cvlc")
    pictures = []
    with tempfile.TemporaryDirectory() as temp:  # under /tmp, so that VLC's user can reach it
        os.chmod(temp, 0o755)
        copy = Path(temp) / path.name
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o644)
        for index, t in enumerate(times):
            out = Path(temp) / f"scene{index}"
            out.mkdir(mode=0o777)
            out.chmod(0o777)
            command = ["cvlc", "--no-audio", "--no-osd", "--vout=dummy", "--play-and-exit",
                       f"--start-time={t}", f"--stop-time={t + 0.3}", "--video-filter=scene", "--scene-ratio=1",
                       "--scene-format=png", "--scene-prefix=f", f"--scene-path={out}",
                       f"--scene-width={size[0]}", f"--scene-height={size[1]}", str(copy)]
            if os.geteuid() == 0:  # VLC refuses to run as root
                nobody = pwd.getpwnam("nobody")
                command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                           *command]
            run(*command, env={"PATH": os.environ["PATH"], "HOME": temp})
            saved = sorted(out.glob("f*.png"))
            assert saved, f"VLC showed nothing from {t} s"
            pictures.append(image_rgb(saved[0]))
    return pictures


def mpv_frames(path: Path, times) -> list[bytes]:
    need("mpv")
    pictures = []
    with tempfile.TemporaryDirectory() as out:
        for index, t in enumerate(times):
            folder = Path(out, str(index))
            run("mpv", "--no-config", "--really-quiet", "--ao=null", "--vo=image", "--vo-image-format=png",
                f"--vo-image-outdir={folder}", f"--start={t}", "--frames=1", str(path),
                env=dict(os.environ, HOME=out))
            pictures.append(image_rgb(next(folder.glob("*.png"))))
    return pictures


CHROMIUM_SEEK = """async (t) => {
    const video = document.querySelector('video');
    await new Promise(done => { video.addEventListener('seeked', done, {once: true}); video.currentTime = t; });
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d').drawImage(video, 0, 0);
    return canvas.toDataURL('image/png').split(',')[1];
}"""


def chromium_frames(path: Path, times) -> list[bytes]:
    """A <video> element seeked to each time and drawn on a canvas, as in the replay page."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM") or need("chromium")
    pictures = []
    with tempfile.TemporaryDirectory() as temp, sync_playwright() as playwright:
        page_path = Path(temp) / "seek.html"
        page_path.write_text(f'<!doctype html><video muted preload="auto" src="{path.as_uri()}"></video>', encoding="utf-8")
        browser = playwright.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            page.wait_for_function("document.querySelector('video').readyState >= 2", timeout=30000)
            for index, t in enumerate(times):
                png = Path(temp) / f"{index}.png"
                png.write_bytes(base64.b64decode(page.evaluate(CHROMIUM_SEEK, t)))
                pictures.append(image_rgb(png))
        finally:
            browser.close()
    return pictures


PLAYERS = {"ffmpeg": ffmpeg_frames, "gstreamer": gstreamer_frames, "vlc": vlc_frames, "mpv": mpv_frames,
           "chromium": chromium_frames}


# -- parts -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """A 20 s part recorded and sealed by recorder, with a support session id and labels."""
    root = tmp_path_factory.mktemp("sealed")
    with pytest.MonkeyPatch.context() as env:  # recorder's own state goes to a home of its own
        for name in [k for k in os.environ if k.startswith(("XDG_", "RECORDER_"))]:
            env.delenv(name)
        (root / "home").mkdir()
        env.setenv("HOME", str(root / "home"))
        host = make_host(TmpSinkPlugin())
        profile = make_profile(host, {"source": "synthetic", "sink": "tmp", "fps": FPS,
                                      "synthetic": {"width": SIZE[0], "height": SIZE[1], "realtime": False},
                                      "tmp": {"directory": str(root / "sessions")}})
        session = Recording(host, profile, duration=20.0, support_id=SUPPORT_ID, labels=LABELS).run()
    [part] = session.parts
    return session.folder / part.file, session


@pytest.fixture(scope="module")
def recovered(tmp_path_factory):
    """A part of a real recorder process killed with SIGKILL after 16 s of recording, then
    `recorder recover`: what the h264 plugin's repair kept (and the part as the kill left it)."""
    root = tmp_path_factory.mktemp("recovered")
    home = root / "home"
    home.mkdir()
    config = root / "fast.toml"  # frames as fast as they are encoded, timed as if taken at 10 fps
    config.write_text(f"[profiles.rep]\nfps = {FPS}\n[profiles.rep.synthetic]\n"
                      f"width = {SIZE[0]}\nheight = {SIZE[1]}\nrealtime = false\n", encoding="utf-8")
    env = cli_env(home)
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--config", str(config),
                             "--duration", "600", "--session-id", SUPPORT_ID,
                             *(f"--label={key}={value}" for key, value in LABELS.items())],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    try:
        partial = wait_for_recorded(home, 16.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = shutil.copyfile(partial, root / "killed.mp4.partial")
    result = subprocess.run([recorder_command(), "recover"], env=env, capture_output=True, text=True, timeout=60, encoding="utf-8")
    assert result.returncode == 0 and "part-001.mp4: kept" in result.stdout, result.stdout + result.stderr
    part = partial.with_name("part-001.mp4")
    manifest = json.loads((part.parent / "session.json").read_text(encoding="utf-8"))
    return part, manifest, killed


def wait_for_recorded(home: Path, seconds: float) -> Path:
    """The part being written, once its complete fragments hold ``seconds`` of video."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for partial in (home / "Documents").glob("SessionRecordings/*/part-001.mp4.partial"):
            fd = os.open(partial, os.O_RDONLY)
            try:
                layout = scan(fd)
                table = samples(fd, layout) if layout.moofs else None
            finally:
                os.close(fd)
            if table and table.duration / table.timescale >= seconds:
                return partial
        time.sleep(0.02)
    raise AssertionError(f"recorder did not record {seconds} s")


@pytest.fixture(scope="module")
def parts(sealed, recovered):
    return {"sealed": sealed[0], "recovered": recovered[0]}


# -- seeking ----------------------------------------------------------------------------


@pytest.mark.parametrize("player", PLAYERS)
@pytest.mark.parametrize("which", ["sealed", "recovered"])
def test_every_player_seeks_to_the_right_picture(parts, which, player):
    path = parts[which]
    reference = Reference(path)
    assert reference.duration > max(SEEKS) + 0.5
    pictures = PLAYERS[player](path, SEEKS)
    problems = [reference.check(player, t, picture) for t, picture in zip(SEEKS, pictures)]
    assert [p for p in problems if p] == []


# -- durations --------------------------------------------------------------------------


def ffprobe_duration(path: Path) -> float:
    need("ffprobe")
    shown = run("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)).stdout
    return float(json.loads(shown)["format"]["duration"])


def mediainfo_json(path: Path) -> dict:
    need("mediainfo")
    tracks = json.loads(run("mediainfo", "--Output=JSON", str(path)).stdout)["media"]["track"]
    return next(track for track in tracks if track["@type"] == "General")


def discoverer_duration(path: Path) -> float:
    need("gst-discoverer-1.0")
    shown = run("gst-discoverer-1.0", str(path)).stdout.decode()
    hours, minutes, seconds = next(line for line in shown.splitlines()
                                   if line.strip().startswith("Duration:")).split()[1].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@pytest.mark.parametrize("which", ["sealed", "recovered"])
def test_every_tool_reports_the_duration_within_a_frame(parts, which):
    path = parts[which]
    true = Reference(path).duration
    reported = {"ffprobe": ffprobe_duration(path), "mediainfo": float(mediainfo_json(path)["Duration"]),
                "gst-discoverer-1.0": discoverer_duration(path)}
    assert {tool: round(value, 3) for tool, value in reported.items() if abs(value - true) > 1 / FPS} == {}, true


def test_the_manifest_has_the_duration_players_report(sealed, recovered):
    (path, session), (recovered_path, manifest, _) = sealed, recovered
    assert session.parts[0].duration == pytest.approx(Reference(path).duration, abs=0.002)
    [part] = manifest["parts"]
    assert part["state"] == "sealed"
    assert part["duration"] == pytest.approx(Reference(recovered_path).duration, abs=0.002)


# -- tags -------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["sealed", "recovered"])
def test_parts_carry_the_sessions_tags(sealed, recovered, which):
    """Title, the session's start as creation time, its ids and labels (as in exports),
    in ffprobe and mediainfo."""
    if which == "sealed":
        path, session = sealed
        session_id, started = session.id, session.started_at
    else:
        path, manifest, _ = recovered
        session_id, started = manifest["session_id"], datetime.fromisoformat(manifest["started_at"])
    tags = json.loads(run("ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json",
                          str(path)).stdout)["format"]["tags"]
    assert tags["title"] == f"Support session {SUPPORT_ID}, part 1"
    assert datetime.fromisoformat(tags["creation_time"].replace("Z", "+00:00")) == started.replace(microsecond=0)
    assert json.loads(tags["comment"]) == {"session": session_id, "support_session_id": SUPPORT_ID,
                                           "labels": {"customer": "ACME Ltd", "rep": "Jo"}}
    general = mediainfo_json(path)
    assert general["Title"] == tags["title"] and general["Comment"] == tags["comment"]
    assert general["Encoded_Date"] == started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- a kill while finishing ------------------------------------------------------------


def test_a_part_killed_while_being_finished_is_finished_again(recovered, tmp_path):
    """What a kill can leave while a part is finished (its index appended in part or in
    whole, the header not rewritten yet; or all done but the rename) is recovered into
    the very part an undisturbed recovery made, which the players above were shown."""
    part, manifest, killed = recovered
    finished = part.read_bytes()
    header = struct.unpack(">I", finished[:4])[0]  # after the ftyp: the empty moov, then the mdat
    unfinished = finished[:header] + killed.read_bytes()[header:header + 8] + finished[header + 8:]
    assert unfinished[header + 4:header + 8] == b"moov" and finished[header + 4:header + 8] == b"mdat"
    for state, data in (("index half written", unfinished[:-100]), ("index written", unfinished),
                        ("finished", finished)):
        path = tmp_path / "part-001.mp4.partial"
        path.write_bytes(data)
        stats = H264Encoder(H264Options()).repair(path, FPS)
        assert (stats.frames, round(stats.duration, 3)) == (manifest["parts"][0]["frames"],
                                                            manifest["parts"][0]["duration"]), state
        assert path.read_bytes() == finished, state


# -- colour -----------------------------------------------------------------------------

HD = (1280, 720)  # untagged, players guess the matrix by size, and differently: the size where it shows
SOLID = (0xCC, 0x33, 0x33)


def gradient(x: int, y: int) -> tuple[int, int, int]:
    return x * 255 // (HD[0] - 1), y * 255 // (HD[1] - 1), 255 - x * 255 // (HD[0] - 1)


def screen(pixel) -> bytes:
    """A BGRA screen of ``HD`` size whose pixel (x, y) is ``pixel(x, y)`` (RGB)."""
    rows = []
    for y in range(HD[1]):
        row = bytearray(b"\xff" * (HD[0] * 4))
        colours = [pixel(x, y) for x in range(HD[0])]
        for channel, offset in ((2, 0), (1, 1), (0, 2)):  # B, G, R
            row[offset::4] = bytes(colour[channel] for colour in colours)
        rows.append(bytes(row))
    return b"".join(rows)


@pytest.fixture(scope="module")
def colour_parts(tmp_path_factory):
    """Two screens written through the h264 part writer, as recorder writes every part."""
    root = tmp_path_factory.mktemp("colour")
    made = {}
    for name, pixel in (("solid", lambda x, y: SOLID), ("gradient", gradient)):
        path = root / f"{name}.mp4"
        writer = H264Encoder(H264Options()).open_part(path, VideoFormat(*HD, "bgra"), 5.0)
        picture = screen(pixel)
        for index in range(5):
            writer.write(picture, index / 5)
        writer.close()
        made[name] = path
    return made


def colour_errors(picture: bytes, pixel, block: int) -> int:
    """The largest difference, in any channel, between ``picture`` and the screen, over
    ``block``-pixel squares (1: every pixel) away from the edges."""
    width, height = HD
    worst = 0
    for top in range(16, height - 16 - block, 23):
        for left in range(16, width - 16 - block, 29):
            for channel in range(3):
                got = sum(picture[((top + dy) * width + left + dx) * 3 + channel]
                          for dy in range(block) for dx in range(block))
                want = sum(pixel(left + dx, top + dy)[channel] for dy in range(block) for dx in range(block))
                worst = max(worst, round(abs(got - want) / block**2))
    return worst


@pytest.mark.parametrize("player", ["ffmpeg", "vlc", "mpv", "chromium"])
def test_colours_come_out_as_they_were_on_the_screen(colour_parts, player):
    """Within 3 levels per channel: every pixel of a solid screen, and the gradient over
    8x8 squares, H.264's transform blocks (on single pixels, compression and the fast
    integer YUV to RGB of ffmpeg and VLC reach 5; a wrong matrix or range is off by
    10 to 30 everywhere)."""
    grab = {"ffmpeg": ffmpeg_frames, "vlc": lambda path, times: vlc_frames(path, times, HD),
            "mpv": mpv_frames, "chromium": chromium_frames}[player]
    errors = {}
    for name, pixel, block in (("solid", lambda x, y: SOLID, 1), ("gradient", gradient, 8)):
        [picture] = grab(colour_parts[name], [0.5])
        errors[name] = colour_errors(picture, pixel, block)
    assert max(errors.values()) <= 3, errors
