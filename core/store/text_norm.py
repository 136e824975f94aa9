"""How text on screen and the queries for it are compared: one normal form for both.

OCR confuses letters that look alike (``0``/``O``, ``1``/``l``/``I``/``|``); a
query typed with one finds the screen that was read as the other because both
sides are mapped to the same character before they meet (the index's ``norm``
column, and the query). What is shown is always the text as read.
"""

from __future__ import annotations

_CONFUSED = str.maketrans({"o": "0", "l": "1", "i": "1", "|": "1"})


def normalize(text: str) -> str:
    """``text`` casefolded, with ``o`` as ``0`` and ``l``, ``i``, ``|`` as ``1``; the rest kept."""
    return text.casefold().translate(_CONFUSED)
