"""A screen to watch live: Xvfb with an xterm that prints a token when told, and how to
find that token in the <video> of a page (tests/test_live_watching.py, benchmarks/live_cost.py).

A token is four blocks of distinct saturated colours (xterm's 256-colour palette) in a
random order, printed on a cleared black terminal: 360 possible tokens, each one found in
a decoded frame by where each colour's pixels are (no OCR, robust to H.264's colour shifts).
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import mss

# xterm 256-colour index -> the RGB it draws
COLOURS = {196: (255, 0, 0), 46: (0, 255, 0), 21: (0, 0, 255), 226: (255, 255, 0), 201: (255, 0, 255),
           51: (0, 255, 255)}
SCREEN = (800, 450)
BLOCK = " " * 7

# In the page: which token colours the picture shows, left to right (their pixels' mean x)
SEEN = """([colours]) => {
  const video = document.getElementById('video');
  if (!video.videoWidth || video.readyState < 2) return [];
  const canvas = window.__tokenCanvas ??= document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  context.drawImage(video, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const found = colours.map(() => ({n: 0, x: 0}));
  for (let y = 0; y < canvas.height; y += 2) for (let x = 0; x < canvas.width; x += 2) {
    const i = 4 * (y * canvas.width + x);
    colours.forEach((c, k) => {
      if (Math.abs(pixels[i] - c[0]) < 70 && Math.abs(pixels[i + 1] - c[1]) < 70 && Math.abs(pixels[i + 2] - c[2]) < 70) {
        found[k].n++; found[k].x += x;
      }
    });
  }
  return found.map((f, k) => [k, f.n, f.n ? f.x / f.n : 0]).filter(f => f[1] >= 40)
              .sort((a, b) => a[2] - b[2]).map(f => f[0]);
}"""


_last: list[list[int]] = [[]]


def new_token(rng: random.Random = random.SystemRandom()) -> list[int]:
    """Four of the colours in a random order, never the token given last (still on the screen)."""
    while (token := rng.sample(sorted(COLOURS), 4)) == _last[0]:
        pass
    _last[0] = token
    return token


def rgb(token: list[int]) -> list[tuple[int, int, int]]:
    return [COLOURS[c] for c in token]


class Screen:
    """Xvfb and a black xterm that prints what is written to its FIFO (and, with ``motion``,
    a second one showing a running clock)."""

    def __init__(self, folder: Path, motion: bool = True):
        read, write = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",
                                      f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                                     pass_fds=[write], stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read, encoding="ascii") as pipe:
            self.display = ":" + pipe.readline().strip()
        self.fifo = folder / "xterm.fifo"
        os.mkfifo(self.fifo, 0o600)
        script = f'exec 3<>"{self.fifo}"; while read -r line <&3; do printf "%b" "$line"; done'
        self.xterm = subprocess.Popen(["xterm", "-bg", "black", "-fg", "grey", "-fa", "Monospace", "-fs", "14",
                                       "-geometry", "60x14+0+0", "-e", "sh", "-c", script],
                                      env=dict(os.environ, DISPLAY=self.display),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Something moving elsewhere on the screen (a clock to the nanosecond), as on a screen
        # someone works at: frames flow at the capture rate. Without it, a still screen sends
        # one frame a heartbeat, and the encoder's lookahead holds a change back for longer.
        ticker = "while :; do date +%T.%N; sleep 0.02; done"
        self.ticker = subprocess.Popen(["xterm", "-bg", "black", "-fg", "grey", "-geometry", "24x6+560+330", "-e", "sh",
                                        "-c", ticker], env=dict(os.environ, DISPLAY=self.display),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if motion else None
        self.writer = open(self.fifo, "w", encoding="ascii")  # noqa: SIM115 (open while the screen is)
        self._wait_for_xterm()

    def _wait_for_xterm(self) -> None:
        self.show([196])
        with mss.MSS(display=self.display) as screen:
            deadline = time.monotonic() + 20
            while True:
                raw = screen.grab({"left": 0, "top": 0, "width": 300, "height": 200}).raw
                if any(raw[i + 2] > 200 and raw[i] < 60 and raw[i + 1] < 60 for i in range(0, len(raw), 4)):
                    break  # BGRA: the red block is drawn
                assert time.monotonic() < deadline, "the xterm did not draw"
                time.sleep(0.1)
        self.show([])

    def show(self, token: list[int]) -> float:
        """Clear the terminal and print ``token``; returns when (time.monotonic())."""
        blocks = "".join(f"\\033[48;5;{c}m{BLOCK}\\033[0m " for c in token)
        line = "\\033[2J\\033[H\\n" + f"  {blocks}\\n" * 3
        at = time.monotonic()
        self.writer.write(line + "\n")
        self.writer.flush()
        return at

    def close(self) -> None:
        self.writer.close()
        for proc in (self.ticker, self.xterm, self.xvfb):
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
