"""Socket addresses that fit: a Unix socket path is limited to about 107 bytes,
and a runtime or state dir under a long home can be longer."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

MAX_PATH = 100


@contextlib.contextmanager
def bound_address(path: Path) -> Iterator[str]:
    """The address to bind or connect to ``path`` with, valid inside the block."""
    text = str(path)
    if sys.platform != "linux" or len(os.fsencode(text)) <= MAX_PATH or not os.path.isdir("/proc/self/fd"):
        yield text
    else:
        # Linux: the folder through an O_PATH descriptor, a short name for the same place.
        fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            yield f"/proc/self/fd/{fd}/{path.name}"
        finally:
            os.close(fd)
