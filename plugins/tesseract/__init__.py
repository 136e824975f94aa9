"""Indexer ``tesseract``: the text on settled screens, read by Tesseract through tesserocr.

tesserocr's wheels bundle libtesseract; the language data comes from the
system (Debian's ``tesseract-ocr-eng``), found where Tesseract keeps it or in
``TESSDATA_PREFIX``. Nothing is downloaded: missing data is one line naming
the package to install. tesserocr is imported on first use, so a recorder
that does not index never loads it (it is the ``ocr`` extra).
"""

from __future__ import annotations

import attrs
from recorder import hookimpl, option

from .reader import LAYOUTS, TesseractIndexer


def _check_languages(instance, attribute, value: str) -> None:
    parts = value.split("+")
    if not value or not all(part and part.replace("_", "").isalnum() for part in parts):
        raise ValueError(f"expected Tesseract language codes joined by + (eng, eng+deu), got {value!r}")


def _check_share(instance, attribute, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")


@attrs.frozen
class TesseractOptions:
    languages: str = option("eng", "Tesseract languages, joined by + (eng+deu); each needs its data installed "
                                   "(Debian: tesseract-ocr-eng, tesseract-ocr-deu...).",
                            validator=_check_languages)
    min_confidence: float = option(0.5, "Short words read with less confidence (0 to 1) are left out: "
                                        "noise, icons and pictures read as letters.", validator=_check_share)
    layout: str = option("column", "How a region's text is laid out for Tesseract: column (a column of lines "
                                   "of varying sizes; best on the benchmark corpus), block (one uniform block) "
                                   "or sparse (scattered words).",
                         validator=attrs.validators.in_(tuple(LAYOUTS)))
    scale: int = option(2, "Regions are enlarged this many times before reading: screen text is small "
                           "for Tesseract (1 to 4; 1 is fastest).",
                        validator=attrs.validators.and_(attrs.validators.ge(1), attrs.validators.le(4)))


@hookimpl
def recorder_register_indexers(register):
    register("tesseract", TesseractIndexer, options=TesseractOptions,
             description="reads the text on settled screens with Tesseract (tesserocr)")
