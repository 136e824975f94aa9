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
DARK = 110  # a region whose ground (its commonest grey) is darker than this holds light text: inverted
SHAVE = 12  # pixels: how far into a region a border from outside it (the margin's) is looked for
UNIFORM = 16  # greys: a line of pixels this close to each other is a border, not text
# Tesseract's page segmentation modes, by the option's word: the text in a region as one column of lines
# (benchmarks/text_recall.py: recall 0.976, precision 0.979 on the corpus, against 0.808 / 0.950 as one block)
LAYOUTS = {"column": "SINGLE_COLUMN", "block": "SINGLE_BLOCK", "sparse": "SPARSE_TEXT"}
LONG_WORD = 5  # letters and digits: a word this long is kept whatever Tesseract's confidence
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
                                                psm=getattr(tesserocr.PSM, LAYOUTS[self.options.layout]))
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
        from PIL import Image, ImageOps

        whole = Image.frombuffer("RGBA", (screen.width, screen.height), screen.pixels, "raw", "BGRA",
                                 screen.stride, 1)
        grey, ground = _shaved(whole.crop((x, y, x + w, y + h)).convert("L"))
        if ground < DARK:
            grey = ImageOps.invert(grey)  # light text on a dark ground (terminals): Tesseract reads dark on light
        scale = self.options.scale
        if scale > 1:
            grey = grey.resize((w * scale, h * scale), Image.Resampling.BICUBIC)
        api.SetImage(grey)
        api.Recognize()
        return self._lines(api, x, y, scale)

    def _lines(self, api, x: int, y: int, scale: int) -> list[TextSeen]:
        """Lines of the words kept: a word read with at least ``min_confidence``, or a long run of
        letters and digits (Tesseract's confidence for screen text is erratic; noise is short)."""
        RIL = self._tesserocr.RIL
        lines: dict[tuple, list] = {}
        iterator = api.GetIterator()
        if iterator is None:
            return []
        for word in self._tesserocr.iterate_level(iterator, RIL.WORD):
            try:
                text = (word.GetUTF8Text(RIL.WORD) or "").strip()
            except RuntimeError:  # tesserocr: "No text returned" for an empty word
                continue
            line_box = word.BoundingBox(RIL.TEXTLINE)
            confidence = word.Confidence(RIL.WORD) / 100
            if text and line_box is not None:
                lines.setdefault(line_box, []).append((text, confidence))
        found = []
        for (left, top, right, bottom), words in lines.items():
            kept = [text for text, confidence in words if confidence >= self.options.min_confidence
                    or _long_word(text)]
            text = " ".join(kept)
            if not _has_word(text):
                continue
            confidence = sum(c for _, c in words) / len(words)
            found.append(TextSeen(text, x + left // scale, y + top // scale, (right - left) // scale,
                                  (bottom - top) // scale, round(confidence, 3)))
        return found

    def close(self) -> None:
        if self._api is not None:
            self._api.End()
            self._api = None


def _shaved(grey):
    """The region with the borders its margin took from around it (a window's edge, the desktop)
    painted in its ground colour, and that colour: Tesseract mistakes a dark band along a light
    region for a block of its own and reads nothing in it."""
    from PIL import ImageDraw

    histogram = grey.histogram()
    ground = max(range(256), key=histogram.__getitem__)
    width, height = grey.size
    draw = ImageDraw.Draw(grey)

    original = grey.copy()

    def depth(line, size) -> int:
        """How many lines in from an edge are a border (uniform, not the ground), in the original."""
        for i in range(min(SHAVE, size // 2)):
            low, high = original.crop(line(i)).getextrema()
            if high - low > UNIFORM or abs((low + high) // 2 - ground) <= UNIFORM:
                return i
        return min(SHAVE, size // 2)

    left = depth(lambda i: (i, 0, i + 1, height), width)
    right = depth(lambda i: (width - 1 - i, 0, width - i, height), width)
    # rows are looked at between the columns found: a window's top edge beside the desktop's
    top = depth(lambda i: (left, i, width - right, i + 1), height)
    bottom = depth(lambda i: (left, height - 1 - i, width - right, height - i), height)
    for box in ((0, 0, left, height), (width - right, 0, width, height), (0, 0, width, top),
                (0, height - bottom, width, height)):
        if box[2] > box[0] and box[3] > box[1]:
            draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=ground)
    return grey, ground


def _long_word(text: str) -> bool:
    return sum(char.isalnum() for char in text) >= LONG_WORD


def _has_word(text: str) -> bool:
    """At least two letters or digits in a row: a line of lone marks is a border or an icon."""
    run = 0
    for char in text:
        run = run + 1 if char.isalnum() else 0
        if run >= 2:
            return True
    return False
