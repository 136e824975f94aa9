"""The small value types that plugins and core exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import attrs

_NO_DEFAULT = attrs.NOTHING


def option(default: Any = _NO_DEFAULT, help: str = "", **kwargs: Any) -> Any:
    """Declare one option of a component's attrs options class.

    The help text appears in ``recorder config`` and in the configuration
    reference; validators are ordinary attrs validators.
    """
    metadata = dict(kwargs.pop("metadata", {}), help=help)
    return attrs.field(default=default, metadata=metadata, kw_only=True, **kwargs)


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
class PartStats:
    frames: int
    duration: float


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


@attrs.frozen
class Component:
    kind: str
    name: str
    factory: Callable[..., Any]
    options: type | None
    plugin: str
    description: str = ""

    def option_fields(self) -> tuple[attrs.Attribute, ...]:
        return attrs.fields(self.options) if self.options else ()
