"""libx264 is told which macroblocks changed (FFmpeg's video-hint side data),
and skips the rest. These tests show that the hints really reach libx264 on
the PyAV this project installs (a hint is obeyed even when it is wrong), and
that the hints recorder gives leave every change in the video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from recorder import VideoFormat
from recorder.plugins.h264 import H264Encoder, H264Options, hints

WIDTH, HEIGHT = 320, 240
BOX = (160, 96, 48, 32)  # x, y, width, height: what changes in the second frame


def pictures() -> tuple[bytes, bytes]:
    grey = np.full((HEIGHT, WIDTH, 4), 128, np.uint8)
    boxed = grey.copy()
    x, y, w, h = BOX
    boxed[y:y + h, x:x + w] = (30, 200, 40, 255)
    return grey.tobytes(), boxed.tobytes()


def encode(path: Path, rects, use_hints: bool = True) -> np.ndarray:
    """A grey picture, then the same with a green box; returns the last frame decoded (rgb)."""
    grey, boxed = pictures()
    writer = H264Encoder(H264Options(preset="ultrafast", crf=0, hints=use_hints)).open_part(
        path, VideoFormat(WIDTH, HEIGHT), 10.0)
    writer.write(grey, 0.0)
    assert (writer.hints is not None) == use_hints
    x, y, w, h = BOX
    writer.write(boxed, 0.1, changed=[(y, y + h)], rects=rects)
    writer.close()
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)][-1]


def green_pixels(frame: np.ndarray) -> int:
    return int(((frame[..., 1] > 150) & (frame[..., 0] < 100)).sum())


def test_hints_are_available_with_the_installed_pyav():
    assert hints.available(), f"PyAV {av.__version__}: libavutil's video hints are not reachable"


def test_libx264_obeys_the_hints(tmp_path):
    """Told that only a rectangle far from the box changed, libx264 keeps the
    old picture where the box is: the hint reached it (recorder never says this)."""
    elsewhere = encode(tmp_path / "wrong.mp4", rects=[(0, 0, 16, 16)])
    assert green_pixels(elsewhere) == 0
    told = encode(tmp_path / "right.mp4", rects=[BOX])
    assert green_pixels(told) == BOX[2] * BOX[3]


def test_without_hints_every_change_is_encoded(tmp_path):
    assert green_pixels(encode(tmp_path / "off.mp4", rects=[(0, 0, 16, 16)], use_hints=False)) == BOX[2] * BOX[3]


def test_a_change_in_the_rows_given_is_encoded_when_no_rectangles_are(tmp_path):
    assert green_pixels(encode(tmp_path / "rows.mp4", rects=None)) == BOX[2] * BOX[3]
