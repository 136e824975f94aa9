"""A session whose screen size changed across a restart exports without stretching:
parts of another shape are letterboxed into the largest part's size."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import av

from conftest import child_signals, cli_env, recorder_command


def record(home: Path, config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--config",
                             str(config), "--session-id", "sizes-1", *extra], env=cli_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def columns_luma(frame: av.VideoFrame, x0: int, x1: int) -> float:
    """Mean luma of columns x0..x1 over the whole height."""
    plane = frame.reformat(format="gray").planes[0]
    data, stride = bytes(plane), plane.line_size
    values = [data[y * stride + x] for y in range(0, frame.height, 4) for x in range(x0, x1, 2)]
    return sum(values) / len(values)


def test_parts_of_another_size_are_letterboxed_not_stretched(home, tmp_path):
    wide = tmp_path / "wide.toml"
    wide.write_text("[profiles.rep.synthetic]\nwidth = 640\nheight = 360\n", encoding="utf-8")
    square = tmp_path / "square.toml"
    square.write_text("[profiles.rep.synthetic]\nwidth = 320\nheight = 320\n", encoding="utf-8")
    first = record(home, wide, "--duration", "60")
    deadline = time.monotonic() + 20
    while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(2)
    first.send_signal(signal.SIGTERM)  # a restart; the screen comes back square
    first.communicate(timeout=10)
    resumed = record(home, square, "--duration", "2")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    folder = Path(out.strip().splitlines()[-1])
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert len(manifest["parts"]) == 2
    output = tmp_path / "session.mp4"
    result = subprocess.run([recorder_command(), "export", str(folder), "--format", "mp4", "-o", str(output)],
                            env=cli_env(home), capture_output=True, text=True, timeout=120, encoding="utf-8")
    assert result.returncode == 0, result.stderr
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360), "the largest part's size"
        frames = list(container.decode(stream))
        tags = container.metadata
    first_part = manifest["parts"][0]["duration"]
    wide_frame = next(f for f in frames if float(f.time) > 0.5)
    square_frame = next(f for f in frames if float(f.time) > first_part + 0.5)
    # The square part fills 360x360 in the middle, black (limited-range luma 16) on both sides.
    assert columns_luma(square_frame, 0, 130) < 20 and columns_luma(square_frame, 510, 640) < 20
    assert columns_luma(square_frame, 160, 480) > 40
    assert columns_luma(wide_frame, 0, 130) > 40, "the wide part fills the frame"
    assert "sizes-1" in tags.get("title", "") and tags.get("creation_time")
