"""Reading lines of text in rectangles of a screen with tesserocr."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from recorder import RecorderError, Screen, TextSeen

# Tesseract's OpenMP threads would escape the indexing thread's priority and CPU budget.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

PLACES = ("/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata", "/usr/local/share/tessdata",
          "/opt/homebrew/share/tessdata", "/usr/local/share/tesseract-ocr/*/tessdata")
DARK = 110  # a region whose mean grey is below this is light text on a dark background: inverted
MIN_SIDE = 6  # pixels: nothing smaller holds a letter


def tessdata(languages: str) -> str:
    """The folder holding every language's ``.traineddata``; RecorderError (one line) if none does."""
    wanted = languages.split("+")
    candidates = [os.environ["TESSDATA_PREFIX"]] if os.environ.get("TESSDATA_PREFIX") else []
    for pattern in PLACES:
        candidates += sorted(glob.glob(pattern), reverse=True)
    for folder in candidates:
        if all((Path(folder) / f"{language}.traineddata").is_file() for language in wanted):
            return folder.rstrip("/") + "/"
    missing = " ".join(f"tesseract-ocr-{language}" for language in wanted)
    raise RecorderError(f"tesseract: no language data for {languages} (install Debian's {missing}, "
                        "or set TESSDATA_PREFIX to the folder holding its .traineddata)")


class TesseractIndexer:
    def __init__(self, options=None):
        from . import TesseractOptions

        self.options = options or TesseractOptions()
        self._api = None

    def _open(self):
        if self._api is None:
            try:
                import tesserocr
            except ImportError:
                raise RecorderError("tesseract: tesserocr is not installed (pip install 'recorder[ocr]')") from None
            self._tesserocr = tesserocr
            self._api = tesserocr.PyTessBaseAPI(path=tessdata(self.options.languages), lang=self.options.languages,
                                                psm=tesserocr.PSM.SPARSE_TEXT)
        return self._api

    def read(self, screen: Screen, rects, /) -> list[TextSeen]:
        api = self._open()
        regions = list(rects) or [(0, 0, screen.width, screen.height)]
        seen: list[TextSeen] = []
        for x, y, w, h in regions:
            x, y = max(0, x), max(0, y)
            w, h = min(w, screen.width - x), min(h, screen.height - y)
            if w >= MIN_SIDE and h >= MIN_SIDE:
                seen += self._region(api, screen, x, y, w, h)
        return seen

    def _region(self, api, screen: Screen, x: int, y: int, w: int, h: int) -> list[TextSeen]:
        from PIL import Image, ImageOps, ImageStat

        whole = Image.frombuffer("RGBA", (screen.width, screen.height), screen.pixels, "raw", "BGRA",
                                 screen.stride, 1)
        grey = whole.crop((x, y, x + w, y + h)).convert("L")
        if ImageStat.Stat(grey).mean[0] < DARK:
            grey = ImageOps.invert(grey)  # Tesseract reads dark text on a light ground
        scale = self.options.scale
        if scale > 1:
            grey = grey.resize((w * scale, h * scale), Image.Resampling.BICUBIC)
        api.SetImage(grey)
        api.Recognize()
        return self._lines(api, x, y, scale)

    def _lines(self, api, x: int, y: int, scale: int) -> list[TextSeen]:
        level = self._tesserocr.RIL.TEXTLINE
        found = []
        iterator = api.GetIterator()
        if iterator is None:
            return found
        for line in self._tesserocr.iterate_level(iterator, level):
            text = " ".join((line.GetUTF8Text(level) or "").split())
            confidence = line.Confidence(level) / 100
            box = line.BoundingBox(level)
            if not text or box is None or confidence < self.options.min_confidence or not _has_word(text):
                continue
            left, top, right, bottom = box
            found.append(TextSeen(text, x + left // scale, y + top // scale, (right - left) // scale,
                                  (bottom - top) // scale, round(confidence, 3)))
        return found

    def close(self) -> None:
        if self._api is not None:
            self._api.End()
            self._api = None


def _has_word(text: str) -> bool:
    """At least two letters or digits in a row: a line of lone marks is a border or an icon."""
    run = 0
    for char in text:
        run = run + 1 if char.isalnum() else 0
        if run >= 2:
            return True
    return False
