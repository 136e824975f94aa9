"""The small value types that plugins and core exchange, and how sizes and times are shown."""

from __future__ import annotations

from pathlib import Path

import attrs


class ByteSize(int):
    """A size in bytes; in TOML an integer or a string with a unit ("500MB", "2GiB")."""

    UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}

    @classmethod
    def parse(cls, value: int | str) -> "ByteSize":
        if isinstance(value, bool):
            raise TypeError(f"expected a size, got {value!r}")
        if isinstance(value, int):
            number, unit = value, ""
        elif isinstance(value, str):
            text = value.strip().upper().replace(" ", "")
            digits = text.rstrip("KMGTIB")
            number, unit = digits, text[len(digits):]
            try:
                number = float(number)
            except ValueError:
                raise ValueError(f"expected a size such as 500MB or 2GiB, got {value!r}") from None
        else:
            raise TypeError(f"expected a size such as 500MB, got {type(value).__name__} {value!r}")
        if unit not in cls.UNITS or number < 0:
            raise ValueError(f"expected a size such as 500MB or 2GiB, got {value!r}")
        return cls(int(number * cls.UNITS[unit]))


@attrs.frozen
class SaveChoice:
    """A prompt's answer: ``path`` None means the user gave up (the recording stays staged)."""

    path: "Path | None"
    how: str  # asked, dialog, remembered, --save-to


@attrs.frozen
class SessionNote:
    """What a plugin knows about a session, for ``recorder list`` and ``recorder info``
    (the ``recorder_session_notes`` hook): ``key`` and ``value`` go into the row of
    ``list --json``; ``tag`` ("archive: 2 queued") into the row's [tags], and ``line``
    is a line of ``info``; an empty one is not shown."""

    session_id: str
    key: str
    value: object
    tag: str = ""
    line: str = ""


@attrs.frozen
class VideoFormat:
    """What a source produces: every grab is one frame of this size and pixel format."""

    width: int
    height: int
    pix_fmt: str = "bgra"


@attrs.frozen
class Changes:
    """What a change-tracking source saw change since its previous grab.

    ``bands`` are ``(top, rows)`` pairs in screen order: ``rows`` holds whole
    rows of the frame (``width * 4`` bytes each for bgra) starting at row
    ``top``. No bands means nothing changed. A source's first grab covers the
    whole frame; core keeps the full picture and hands encoders the rows that
    changed, so an unchanged screen costs neither a copy nor a conversion.
    """

    bands: tuple[tuple[int, bytes], ...] = ()
    # Within the bands, the rectangles (x, y, width, height) that changed, where
    # the source knows them (X DAMAGE does); None: the bands' whole rows. An
    # encoder that declares ``takes_changed_rects`` is given them, to skip the rest.
    rects: tuple[tuple[int, int, int, int], ...] | None = None

    def rows(self, stride: int) -> list[tuple[int, int]]:
        """The changed row ranges, bands that touch merged."""
        ranges: list[tuple[int, int]] = []
        for top, data in self.bands:
            bottom = top + len(data) // stride
            if ranges and ranges[-1][1] == top:
                ranges[-1] = (ranges[-1][0], bottom)
            else:
                ranges.append((top, bottom))
        return ranges


@attrs.frozen
class Screen:
    """A settled screen handed to an indexer: the frame as the encoder got it (BGRA,
    ``stride`` bytes a row), masked areas already painted grey by the source."""

    width: int
    height: int
    stride: int
    pixels: bytes


@attrs.frozen
class TextSeen:
    """One line of text an indexer read on a ``Screen``: where (pixels) and how sure (0..1)."""

    text: str
    x: int
    y: int
    w: int
    h: int
    confidence: float


@attrs.frozen
class PartStats:
    frames: int
    duration: float


@attrs.frozen
class Chapter:
    """A place a reviewer jumps to in a part: a mark, a pause, a gap, a resumption."""
    start: float  # seconds from the part's first frame
    title: str


@attrs.frozen
class Notification:
    """A message for the people in the session.

    ``audience`` is a tuple of roles (``"rep"``, ``"customer"``); notifiers that
    reach only the local machine show it regardless.
    """

    level: str
    text: str
    audience: tuple[str, ...] = ("rep", "customer")
    by: str = "recorder"
    # "message", or "end-session-requested": recorder needs the support session ended
    # (a support tool acts on it as on its own end button)
    kind: str = "message"


def human_size(size: float) -> str:
    """``1234567`` as ``"1.2 MB"`` (decimal units, as disks are sold)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def clock(seconds: float) -> str:
    """``3725`` as ``"01:02:05"``."""
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
