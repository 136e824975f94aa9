"""An encrypted session's text index, through the part stream that protects its parts.

The index is written as its parts are: through the session's protecting part
stream (``protect``: a memory file in, ``text-index.sqlite<suffix>`` out, 0600),
and read back by the same stream (``read``, with the key) into memory. Nothing
of it reaches the disk in the clear; core knows nothing of how it is protected.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import attrs
from recorder import platform
from recorder.disk.memory import memory_file, release
from recorder.errors import UsageError
from recorder.session import streams
from recorder.session.model import Part


def protecting_stream(host, parts: list[Part]) -> tuple[str, Any, list[Part]] | None:
    """(name, stream, its parts) of the part stream protecting these parts, or None."""
    found: dict[str, list[Part]] = {}
    for part in parts:
        if part.stream:
            found.setdefault(part.stream, []).append(part)
    for name, own in found.items():
        stream = streams.require(host, name)
        if stream.protects:
            return name, stream, own
    return None


def _host(host):
    if host is None:
        from recorder.host.manager import load_plugins

        host = load_plugins()
    return host


def decrypt(folder: Path, path: Path, identity: str | None, *, host=None,
            keys: dict[str, Any] | None = None) -> bytes:
    """The index's bytes in the clear (in memory), read by the stream that protects the parts."""
    from recorder.session.manifest import read

    host = _host(host)
    manifest = read(folder)
    found = protecting_stream(host, manifest.parts)
    if found is None:
        raise UsageError(f"{path.name}: the session's parts are not protected, so no stream can read it")
    name, stream, parts = found
    if keys and name in keys:
        key = keys[name]
    elif identity:
        key = streams.load_keys(manifest, host, identity)[name]
    else:
        raise UsageError(f"session {manifest.session_id[:8]}'s text index is {stream.describe(parts)}: "
                         "give --identity FILE")
    return stream.read(folder, attrs.evolve(parts[0], file=path.name, sidecars={}), key)


def serialize(db: sqlite3.Connection) -> bytes:
    return bytes(db.serialize())


def write_encrypted(folder: Path, stream: Any, parts: list[Part], data: bytes) -> Path:
    """``data`` (a serialized index) encrypted to the parts' recipients as
    ``text-index.sqlite<suffix>``, replaced whole (temporary file, rename)."""
    from recorder.store.text_index import encrypted_name

    target = folder / encrypted_name(stream.suffix)
    for stale in folder.glob(f".{target.name}.*.tmp"):  # a kill between writing and renaming left it
        stale.unlink(missing_ok=True)
    source = memory_file(data, "recorder-text-index")
    tmp = Path(tempfile.mktemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder))
    try:
        stream.protect(source, tmp, parts)
        platform.replace(tmp, target)
    finally:
        release(source)
        if tmp.exists():
            os.unlink(tmp)
    return target
