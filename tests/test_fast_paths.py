"""The fast paths of issue 7 give the same pictures as the plain ones.

Change tracking (X DAMAGE), converting only the rows that changed and
skipping unchanged frames must never change what ends up in the file. These
tests encode losslessly (crf 0) so that "the same" can mean byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import av
import mss
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder import Changes, VideoFormat, hookimpl
from recorder.plugins.h264 import H264Encoder, H264Options, convert_rows
from recorder.testing import TmpSinkPlugin, decode, make_host, record

from conftest import child_signals, cli_env, recorder_command

LOSSLESS = H264Options(preset="ultrafast", crf=0)


def visible_rows(frame: av.VideoFrame) -> list[list[bytes]]:
    """Each plane's rows without the padding at their ends."""
    planes = []
    for plane in frame.planes:
        data, stride = bytes(plane), plane.line_size
        planes.append([data[y * stride:y * stride + plane.width] for y in range(plane.height)])
    return planes


def decoded(path: Path) -> list[list[list[bytes]]]:
    with av.open(str(path)) as container:
        return [visible_rows(frame) for frame in container.decode(video=0)]


def whole_frame(picture: bytes, fmt: VideoFormat) -> list[list[bytes]]:
    return visible_rows(convert_rows(picture, fmt, fmt.width - fmt.width % 2, 0, fmt.height - fmt.height % 2))


bands = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
                 min_size=0, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(32, 200), height=st.integers(32, 160), steps=st.lists(bands, min_size=1, max_size=6))
def test_converting_only_changed_rows_gives_the_whole_frame_conversion(tmp_path, width, height, steps):
    fmt = VideoFormat(width, height)
    stride = width * 4
    picture = bytearray(os.urandom(stride * height))
    writer = H264Encoder(LOSSLESS).open_part(tmp_path / "part.mp4", fmt, 10)
    expected = []
    writer.write(picture, 0.0, changed=None)
    expected.append(whole_frame(picture, fmt))
    for index, changes in enumerate(steps, start=1):
        rows = []
        for a, b, fill in changes:
            top, bottom = sorted((int(a * height), int(b * height)))
            bottom = max(bottom, top + 1) if top < height else top
            picture[top * stride:bottom * stride] = (fill * stride)[:stride] * (bottom - top)
            rows.append((top, bottom))
        writer.write(picture, index / 10, changed=rows)  # no rows: the same picture again
        expected.append(whole_frame(picture, fmt))
    writer.close()
    assert decoded(tmp_path / "part.mp4") == expected


def lossless_config(path: Path, damage: bool, region: tuple[int, ...] | None) -> Path:
    path.write_text("[profiles.rep]\nfps = 10\nguards = []\nnotifiers = []\n"
                    '[profiles.rep.h264]\npreset = "ultrafast"\ncrf = 0\n'
                    f"[profiles.rep.mss]\ncursor = true\ndamage = {str(damage).lower()}\n"
                    + (f"region = {list(region)}\n" if region else ""), encoding="utf-8")
    return path


def show(display: str, source: str, left: int, top: int) -> subprocess.Popen:
    return subprocess.Popen(["ffplay", "-loglevel", "quiet", "-f", "lavfi", "-i", source, "-an", "-noborder",
                             "-left", str(left), "-top", str(top)],
                            env=dict(os.environ, DISPLAY=display, SDL_AUDIODRIVER="dummy"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(5)


REGION = (30, 20, 500, 400)  # covers the animation, part of the still window and both cursor positions


def test_what_the_screen_showed_is_what_was_recorded(still_display, home, tmp_path):
    """A window that animates then closes, one that stays, and a cursor that
    moves over a still screen: the last frame recorded is the screen as it
    was left, pixel for pixel (after the same colour conversion), whether or
    not changes are tracked, for the whole screen and for a region."""
    display = still_display.name
    env = cli_env(home, display)
    whole = (0, 0, still_display.width, still_display.height)
    for damage, region in ((True, None), (False, None), (True, REGION)):
        config = lossless_config(tmp_path / "lossless.toml", damage, region)
        recording = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config),
                                      "--duration", "6", "--new-session"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
        time.sleep(1)
        animation = show(display, "testsrc2=size=160x120:rate=30", 40, 30)
        time.sleep(1.5)
        subprocess.run(["xdotool", "mousemove", "300", "200"], env=env, check=True)
        stop(animation)  # the area it covered is repainted: damage the recorder must see
        time.sleep(0.5)
        still = show(display, "color=c=0x3366cc:size=100x50:rate=5", 400, 300)
        time.sleep(1)
        subprocess.run(["xdotool", "mousemove", "420", "310"], env=env, check=True)
        out, err = recording.communicate(timeout=30)
        try:
            assert recording.returncode == 0, err
            assert "grabbing the whole screen" not in err
            left, top, width, height = region or whole
            with mss.MSS(display=display, with_cursor=True) as sct:
                shot = sct.grab({"left": left, "top": top, "width": width, "height": height})
        finally:
            stop(still)
        folder = Path(out.strip())
        manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        assert abs(manifest["duration"] - 6) < 0.3
        assert manifest["dropped_frames"] == 0
        assert manifest["frames"] >= 1.5 * 10 * 0.8  # the animation changed every slot while it played
        frames = decoded(folder / "part-001.mp4")
        assert frames[-1] == whole_frame(shot.raw, VideoFormat(width, height)), (damage, region)


def test_a_source_reporting_only_changes_records_the_same_video(host, tmp_settings):
    """The synthetic pattern sent whole and sent as changed rows (moving box,
    frame counter) gives the same frames at the same times. Faster than real
    time, so that timing is exact and 20 s take a fraction of that."""
    videos = []
    for changes in (False, True):
        settings = dict(tmp_settings, fps=10.0, h264={"preset": "ultrafast", "crf": 0},
                        synthetic={"width": 320, "height": 240, "hold": 7, "changes": changes, "realtime": False})
        session = record(host, settings, duration=20.0)
        assert session.captured == 200 and session.dropped == 0
        assert session.unchanged > 100  # each picture is held for 7 frames
        videos.append((decode(session.folder / "part-001.mp4"), decoded(session.folder / "part-001.mp4")))
    (whole, whole_frames), (changed, changed_frames) = videos
    assert changed.times == whole.times
    assert abs(changed.duration - 20.0) < 0.01  # skipped frames still fill the time
    assert changed_frames == whole_frames


class SlowWriter:
    def __init__(self, writer):
        self.writer = writer
        self.takes_changed_rows = True

    def write(self, frame, pts, changed=None):
        time.sleep(0.25)  # an encoder that manages 4 of the 10 frames a second
        self.writer.write(frame, pts, changed=changed)

    def close(self):
        return self.writer.close()


class SlowEncoder(H264Encoder):
    def open_part(self, path, fmt, fps):
        return SlowWriter(super().open_part(path, fmt, fps))


class Strokes:
    """Each grab paints another band of rows: a change that went missing would stay missing."""

    size = (320, 240)

    def __init__(self, options):
        self.grabs = 0
        self.picture = bytearray(b"\x80\x80\x80\xff" * (self.size[0] * self.size[1]))

    def open(self):
        return VideoFormat(*self.size)

    def grab(self):
        self.grabs += 1
        if self.grabs == 1:
            return Changes(((0, bytes(self.picture)),))
        stride, top = self.size[0] * 4, (self.grabs * 8) % self.size[1]
        rows = bytes(((self.grabs * 37) % 256, 200, 40, 255)) * (self.size[0] * 8)
        self.picture[top * stride:top * stride + len(rows)] = rows
        return Changes(((top, rows),))

    def close(self):
        pass


class SlowPlugin:
    name = "slow-encoder"

    def __init__(self):
        self.sources: list[Strokes] = []  # what the test looks at afterwards

    @hookimpl
    def recorder_register_encoders(self, register):
        register("slow-h264", SlowEncoder, options=H264Options)

    @hookimpl
    def recorder_register_sources(self, register):
        def make(options):
            self.sources.append(Strokes(options))
            return self.sources[-1]

        register("strokes", make)


def test_an_encoder_that_falls_behind_costs_frames_never_changes():
    """Changed rows cannot be dropped like whole frames (the picture would
    stay wrong where they changed): capture waits and counts the slots it
    misses, and the last frame is still the picture as it was left."""
    slow = SlowPlugin()
    host = make_host(TmpSinkPlugin(), slow)
    settings = {"source": "strokes", "sink": "tmp", "encoder": "slow-h264", "fps": 10.0,
                "slow-h264": {"preset": "ultrafast", "crf": 0},
                "tmp": {"directory": str(Path(os.environ["HOME"]) / "sessions")}}
    session = record(host, settings, duration=4.0)
    assert session.dropped > 5
    frames = decoded(session.folder / "part-001.mp4")
    assert len(frames) + session.dropped == 40  # every slot is a frame or counted
    assert frames[-1] == whole_frame(slow.sources[-1].picture, VideoFormat(*Strokes.size))
