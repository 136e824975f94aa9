"""How close a recording is to the screen it recorded: PSNR and SSIM of luma.

While a tool records, ``Sampler`` takes screenshots of the same screen at
known times. Afterwards every screenshot is compared with the recording's
frames from about the same moment; the frame that matches best is the one
that was on screen then (the tools start up at slightly different speeds, so
their timelines cannot be lined up exactly), and its PSNR and SSIM count.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import mss
import numpy as np
from procstat import status_mib

WINDOW = (-1.5, 0.5)  # seconds of recording around a screenshot's time searched for its frame
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.reformat(format="gray").to_ndarray()


class Sampler(threading.Thread):
    """Screenshots every ``every`` seconds, timed from ``started``, and the
    process's peak RSS. (wait4's ru_maxrss would also count the benchmark's
    own memory, which the child has before it execs.)"""

    def __init__(self, display: str, width: int, height: int, every: float, started: float, pid: int):
        super().__init__(daemon=True)
        self.display, self.area = display, {"left": 0, "top": 0, "width": width, "height": height}
        self.every, self.started, self.pid = every, started, pid
        self.stop = threading.Event()
        self.shots: list[tuple[float, np.ndarray]] = []
        self.peak_rss_mb = 0.0

    def run(self) -> None:
        next_shot = self.every
        with mss.MSS(display=self.display, with_cursor=False) as sct:
            while not self.stop.wait(0.2):
                self._read_peak_rss()
                at = time.monotonic() - self.started
                if at >= next_shot:
                    next_shot += self.every
                    shot = sct.grab(self.area)
                    frame = av.VideoFrame(shot.width, shot.height, "bgra")
                    frame.planes[0].update(bytes(shot.raw))
                    self.shots.append((at, luma(frame)))

    def _read_peak_rss(self) -> None:
        self.peak_rss_mb = max(self.peak_rss_mb, status_mib(self.pid, "VmHWM") or 0.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def _box(x: np.ndarray, size: int = 8) -> np.ndarray:
    """Means over every size x size window (an integral image)."""
    s = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]) / size ** 2


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over 8x8 windows (Wang et al. 2004, uniform window)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    ma, mb = _box(a), _box(b)
    va, vb, cov = _box(a * a) - ma ** 2, _box(b * b) - mb ** 2, _box(a * b) - ma * mb
    return float(np.mean(((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma ** 2 + mb ** 2 + C1) * (va + vb + C2))))


def compare(path: Path, shots: list[tuple[float, np.ndarray]]) -> tuple[float, float] | None:
    """Mean PSNR (dB) and SSIM of the recording against the screenshots."""
    if not shots:
        return None
    wanted = [(at + WINDOW[0], at + WINDOW[1]) for at, _ in shots]
    best: list[tuple[float, np.ndarray] | None] = [None] * len(shots)  # only the best frame is kept
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            t = float(frame.time)
            near = [i for i, (lo, hi) in enumerate(wanted) if lo <= t <= hi]
            if near:
                y = luma(frame)
                for i in near:
                    score = psnr(y, shots[i][1])
                    if best[i] is None or score > best[i][0]:
                        best[i] = (score, y)
    scores = []
    for (_, shot), found in zip(shots, best):
        if found is not None:
            score, y = found
            scores.append((score, ssim(y, shot)))
    if not scores:
        return None
    return (round(float(np.mean([p for p, _ in scores])), 2), round(float(np.mean([s for _, s in scores])), 6))
