"""A corpus of real screens with the words on them known, for the text indexer's recall and precision.

Each screen is rendered on its own Xvfb (1280x1024, black root) by a real
program, captured with mss as recorder captures, and saved as a PNG beside
``truth.json``: for each screen, what is on it (kind, font, size in pixels,
theme, scale), the lines of text put there (the ground truth) and the
rectangles recorder would give the indexer for it (where it differs from the
empty screen, merged and grown by recorder's margin, as while recording).

- terminal: xterm with DejaVu Sans Mono (Xft) at 11 to 16 px and X core
  fonts (misc-fixed 12 to 15 px, URW's Courier as a Type 1 core font at 11 and
  16 px), light (black on white) and dark (grey on near-black, green on black);
- browser: a page in Chromium (Playwright, a window on the Xvfb screen, kiosk,
  device scale factor 1 and 1.25) with paragraphs at 11, 13 and 16 CSS px;
- grid: a spreadsheet-like HTML table (hostnames, hex codes, numbers) in the
  same Chromium, 12 and 14 px, both themes, both scales;
- dialog: xmessage (X core font) and a Tk message dialog, light and dark.

The words are generated from a seed: real-looking words, hex codes,
hostnames, IP addresses, numbers, paths. The same seed gives the same text
(the images depend on the fonts installed). Needs, on Debian: xvfb, xterm,
xfonts-base (misc-fixed), fonts-dejavu-core, fonts-urw-base35 (Courier,
Helvetica as core fonts), x11-utils (xmessage), chromium, Python's tkinter.

    python benchmarks/text_corpus.py --out /tmp/text-corpus [--seed 28] [--only terminal]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mss
from PIL import Image

from recorder.store.text_regions import changed, merge

SIZE = (1280, 1024)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--kiosk", "--window-position=0,0",
                 f"--window-size={SIZE[0]},{SIZE[1]}", "--hide-scrollbars", "--disable-infobars"]
WORDS = """access account active adapter address admin agent alert allowed apply archive audit backup balance
battery billing binary branch broker buffer bundle cache calendar camera capture certificate channel
checksum client cluster commit config connect console contact container contract control cookie
counter credential customer daemon dashboard database deadline debug default delete deploy desktop
device dialog digest directory disabled display domain download driver editor enabled endpoint error
event export failed feature filter firewall folder format gateway handler header health history
holiday import incident index install invoice journal kernel keyboard label launch ledger licence
limit listener locale manager market memory message migrate mirror module monitor mount network
notice number office offline online operator option order output package partner password patch
payment pending permission pipeline policy portal printer priority process profile project protocol
proxy queue quota reboot receipt record refund region registry release remote report request
reserve restart restore result retry review router runtime sample schedule schema screen script
search secret sector security sender server service session setting shipment signal socket source
status storage stream subnet summary support switch system target ticket timeout token traffic
transfer tunnel update upload usage vendor version volume warning window worker""".split()
FIRST = "Alice Bruno Chen Dmitri Elena Farah Gustav Hana Ivan Julia Kenji Laura Mateo Nadia Oscar Priya".split()


class Words:
    """Real-looking text from a seed: words, hex codes, hostnames, numbers."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def word(self) -> str:
        word = self.rng.choice(WORDS)
        return word.capitalize() if self.rng.random() < 0.2 else word

    def token(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.55:
            return self.word()
        if kind < 0.63:
            return f"0x{r.getrandbits(32):08X}"
        if kind < 0.71:
            top = r.choice(["com", "net", "org"])
            return f"{r.choice(WORDS)}-{r.randint(1, 99):02d}.{r.choice(WORDS)}.example.{top}"
        if kind < 0.77:
            return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        if kind < 0.85:
            return str(r.randint(100, 999999))
        if kind < 0.90:
            return f"/var/{r.choice(WORDS)}/{r.choice(WORDS)}.log"
        if kind < 0.95:
            return r.choice(FIRST)
        return f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}"

    def line(self, low: int, high: int, width: int) -> str:
        while True:
            text = " ".join(self.token() for _ in range(self.rng.randint(low, high)))
            if len(text) <= width:
                return text

    def terminal_lines(self, count: int, width: int) -> list[str]:
        prompts = ["$ ", "rep@support:~$ ", "> ", "", "", ""]
        return [self.rng.choice(prompts) + self.line(2, 8, width - 16) for _ in range(count)]


class Screen:
    """An Xvfb of its own and mss on it; the empty screen kept to find what a program drew."""

    def __init__(self):
        read, write = os.pipe()
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SIZE[0]}x{SIZE[1]}x24",
                                      "-nolisten", "tcp", "-br"], pass_fds=[write], stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read, encoding="ascii") as pipe:
            self.display = ":" + pipe.readline().strip()
        self.env = dict(os.environ, DISPLAY=self.display)
        self.grabber = mss.MSS(display=self.display)
        self.empty = self.grab()

    def grab(self) -> Image.Image:
        shot = self.grabber.grab(self.grabber.monitors[1])
        return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")

    def settled(self, timeout: float = 20.0) -> Image.Image:
        """The screen once something is drawn and it has not changed for 0.6 s."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            image = self.grab()
            if last is None or image.tobytes() != last.tobytes():
                last, since = image, time.monotonic()
            elif image.tobytes() != self.empty.tobytes() and time.monotonic() - since >= 0.6:
                return image
            time.sleep(0.15)
        raise RuntimeError("the screen never settled")

    def rects(self, image: Image.Image) -> list[list[int]]:
        """What recorder gives the indexer: where the screen changed, merged, grown by its margin."""
        raw = lambda im: im.convert("RGBA").tobytes("raw", "BGRA")  # noqa: E731
        found = changed(raw(self.empty), raw(image), SIZE[0], SIZE[1], SIZE[0] * 4)
        return [list(r) for r in merge(found, SIZE[0], SIZE[1])]

    def close(self) -> None:
        self.grabber.close()
        self.xvfb.send_signal(signal.SIGTERM)
        self.xvfb.wait()


THEMES = {"light": ("#000000", "#ffffff"), "dark": ("#d3d7cf", "#1e1e1e"), "green": ("#33ff66", "#000000")}
TERMINAL_FONTS = [("DejaVu Sans Mono", px, None) for px in (11, 12, 13, 14, 16)] + [
    ("misc-fixed", 12, "-misc-fixed-medium-r-semicondensed--12-*-*-*-*-*-iso10646-1"),
    ("misc-fixed", 13, "-misc-fixed-medium-r-semicondensed--13-*-*-*-*-*-iso10646-1"),
    ("misc-fixed", 14, "-misc-fixed-medium-r-normal--14-*-*-*-*-*-iso10646-1"),
    ("misc-fixed", 15, "-misc-fixed-medium-r-normal--15-*-*-*-*-*-iso10646-1"),
    ("courier (Type 1)", 11, "-adobe-courier-medium-r-normal--11-*-*-*-*-*-iso8859-1"),
    ("courier (Type 1)", 16, "-adobe-courier-medium-r-normal--16-*-*-*-*-*-iso8859-1")]


def terminals(words: Words, tmp: Path):
    for font, px, core in TERMINAL_FONTS:
        for theme in ("light", "dark", "green") if font == "DejaVu Sans Mono" and px in (11, 14) else ("light", "dark"):
            lines = words.terminal_lines(24, 96)
            text = tmp / "terminal.txt"  # written just before its terminal starts (program_screens)
            fg, bg = THEMES[theme]
            argv = ["xterm", "-geometry", "100x26+16+16", "-fg", fg, "-bg", bg, "-cr", fg]
            argv += ["-fn", core] if core else ["-fa", f"{font}:pixelsize={px}"]
            argv += ["-e", "sh", "-c", f"cat '{text}'; exec sleep 600"]
            yield {"kind": "terminal", "font": font, "px": px, "theme": theme, "scale": 1.0, "lines": lines}, argv


def xmessage_dialogs(words: Words):
    for theme in ("light", "dark"):
        lines = [words.line(3, 7, 60) for _ in range(4)]
        fg, bg = THEMES[theme]
        argv = ["xmessage", "-center", "-fn", "-adobe-helvetica-medium-r-normal--14-*-*-*-p-*-iso8859-1",
                "-fg", fg, "-bg", bg, "-buttons", "Retry,Cancel", "\n".join(lines)]
        yield {"kind": "dialog", "font": "helvetica (Type 1, xmessage)", "px": 14, "theme": theme, "scale": 1.0,
               "lines": lines + ["Retry Cancel"]}, argv


TK_DIALOG = """
import sys, tkinter as tk
fg, bg, title, body = sys.argv[1:5]
root = tk.Tk(); root.title(title); root.configure(bg=bg); root.geometry("+200+200")
tk.Label(root, text=title, font=("DejaVu Sans", -16, "bold"), fg=fg, bg=bg).pack(padx=24, pady=(20, 8), anchor="w")
tk.Label(root, text=body, font=("DejaVu Sans", -13), fg=fg, bg=bg, justify="left").pack(padx=24, anchor="w")
row = tk.Frame(root, bg=bg); row.pack(pady=18, padx=24, anchor="e")
for name in ("Cancel", "Continue"):
    tk.Button(row, text=name, font=("DejaVu Sans", -13), fg=fg, bg=bg, activebackground=bg,
              highlightthickness=0).pack(side="left", padx=6)
root.mainloop()
"""


def tk_dialogs(words: Words):
    for theme in ("light", "dark"):
        title = " ".join(words.word().capitalize() for _ in range(3))
        lines = [words.line(4, 8, 64) for _ in range(5)]
        fg, bg = THEMES[theme]
        argv = [sys.executable, "-c", TK_DIALOG, fg, bg, title, "\n".join(lines)]
        yield {"kind": "dialog", "font": "DejaVu Sans (Tk)", "px": 13, "theme": theme, "scale": 1.0,
               "lines": [title, *lines, "Cancel Continue"]}, argv


PAGE = """<!doctype html><meta charset="utf-8"><title>{title}</title><style>
html, body {{ margin: 0; background: {bg}; color: {fg}; font-family: {family}; font-size: {px}px; }}
main {{ padding: 24px 32px; }} p {{ margin: 0 0 0.6em; max-width: 60em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid {rule}; padding: 3px 8px; text-align: left; }}
th {{ background: {head}; }}
</style><main>{body}</main>"""


def pages(words: Words):
    for px in (11, 13, 16):
        for theme in ("light", "dark"):
            for scale in (1.0, 1.25):
                lines = [words.line(6, 11, 110) for _ in range(int(300 / px / scale))]
                body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
                yield {"kind": "browser", "font": "DejaVu Sans", "px": px, "theme": theme, "scale": scale,
                       "lines": lines}, (body, "DejaVu Sans")
    for px in (12, 14):
        for theme in ("light", "dark"):
            for scale in (1.0, 1.25):
                header = ["Host", "Address", "Status", "Code", "Owner", "Bytes"]
                rows = [[f"{words.rng.choice(WORDS)}-{words.rng.randint(1, 99):02d}.example.net",
                         f"10.{words.rng.randint(0, 255)}.{words.rng.randint(0, 255)}.{words.rng.randint(1, 254)}",
                         words.word(), f"0x{words.rng.getrandbits(32):08X}", words.rng.choice(FIRST),
                         str(words.rng.randint(100, 9999999))] for _ in range(int(440 / px / scale))]
                body = "<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>" + "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>"
                yield {"kind": "grid", "font": "DejaVu Sans", "px": px, "theme": theme, "scale": scale,
                       "lines": [" ".join(header)] + [" ".join(row) for row in rows]}, (body, "DejaVu Sans")


def program_screens(words: Words, tmp: Path, only: set[str]):
    scenes = []
    if "terminal" in only:
        scenes += list(terminals(words, tmp))
    if "dialog" in only:
        scenes += list(xmessage_dialogs(words)) + list(tk_dialogs(words))
    for info, argv in scenes:
        if info["kind"] == "terminal":  # every terminal cats the same file: its own lines, now
            Path(argv[-1].split("'")[1]).write_text("\n".join(info["lines"]) + "\n", encoding="utf-8")
        screen = Screen()
        try:
            proc = subprocess.Popen(argv, env=screen.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                yield info, screen.settled(), screen
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
        finally:
            screen.close()


def browser_screens(words: Words, tmp: Path, only: set[str]):
    from playwright.sync_api import sync_playwright

    scenes = [s for s in pages(words) if s[0]["kind"] in only]
    for info, (body, family) in scenes:
        fg, bg = THEMES[info["theme"]]
        page_file = tmp / "page.html"
        # the window's tab and address bar are on screen too: their words are part of the truth
        title = " ".join(words.word().capitalize() for _ in range(2))
        info = {**info, "lines": [title, f"File {page_file}", *info["lines"]]}
        page_file.write_text(PAGE.format(title=html.escape(title), bg=bg, fg=fg, family=family, px=info["px"],
                                         body=body,
                                         rule="#888888", head="#dddddd" if info["theme"] == "light" else "#333333"),
                             encoding="utf-8")
        screen = Screen()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=False, env=screen.env,
                                            args=CHROMIUM_ARGS + [f"--force-device-scale-factor={info['scale']}"])
                context = browser.new_context(no_viewport=True)
                page = context.new_page()
                page.goto(page_file.as_uri())
                page.wait_for_load_state("load")
                yield info, screen.settled(), screen
                browser.close()
        finally:
            screen.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--only", default="terminal,dialog,browser,grid")
    args = parser.parse_args()
    only = set(args.only.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    words = Words(args.seed)
    screens = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in (program_screens(words, Path(tmp), only), browser_screens(words, Path(tmp), only)):
            for info, image, screen in source:
                name = f"{len(screens):02d}-{info['kind']}-{info['font'].split()[0].lower()}-{info['px']}px-" \
                       f"{info['theme']}-{info['scale']:g}x.png"
                image.save(args.out / name, optimize=True)
                screens.append({"file": name, **info, "rects": screen.rects(image)})
                print(name, screens[-1]["rects"], flush=True)
    (args.out / "truth.json").write_text(json.dumps({"seed": args.seed, "size": SIZE, "screens": screens}, indent=1),
                                         encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
