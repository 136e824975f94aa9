"""recorder: record remote-support sessions on the local machine."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pluggy

hookimpl = pluggy.HookimplMarker("recorder")

from recorder.components import (  # noqa: E402  (hookimpl must exist before plugins import us)
    ByteSize,
    Changes,
    Notification,
    PartStats,
    SaveChoice,
    VideoFormat,
    option,
)

try:
    __version__ = version("recorder")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = ["hookimpl", "option", "ByteSize", "Changes", "Notification", "PartStats", "SaveChoice", "VideoFormat",
           "__version__"]
