"""The small value types that plugins and core exchange."""

from __future__ import annotations

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


@attrs.frozen
class VideoFormat:
    """What a source produces: every grab is one frame of this size and pixel format."""

    width: int
    height: int
    pix_fmt: str = "bgra"


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
