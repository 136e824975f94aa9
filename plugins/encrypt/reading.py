"""Reading encrypted parts back with a key, and encrypting a whole file (an export, a part made whole).

A part a crash cut short is joined with its tail (see stream.py) on the way,
so that the reader gets every byte the encoder wrote up to the last
checkpoint; core puts those bytes in memory only and has the part's encoder
repair them into a regular file.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pyrage
from recorder import RecorderError, platform

from . import keys
from .age_format import HEADER_MAX, payload_start, read_tail

FILE_MODE = 0o600


class _Collect:
    def __init__(self):
        self.data = bytearray()

    def write(self, data) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass


@attrs.define
class _Decrypted:
    data: bytearray
    complete: bool


def part_plaintext(folder: Path, file: str, tail: str | None, identities: list) -> bytes:
    """The part's bytes in the clear: the file, joined with its tail if a crash left one."""
    data = _collect(folder / file, identities)
    if not tail:
        return bytes(data.data)  # a torn end (writer failed): the encoder's repair keeps whole fragments
    meta, sealed = read_tail((folder / tail).read_bytes())
    try:
        rest = pyrage.decrypt(sealed, identities)
    except pyrage.DecryptError as exc:
        raise RecorderError(f"{tail}: does not decrypt with the identity given ({exc})") from None
    have, offset = len(data.data), meta["offset"]
    if data.complete or not offset <= have <= offset + len(rest):
        return bytes(data.data)  # the file outgrew its tail before the kill: the tail adds nothing
    return bytes(data.data) + rest[have - offset:]


def _collect(path: Path, identities: list) -> _Decrypted:
    out = _Collect()
    fd = platform.open_binary(path, os.O_RDONLY | platform.nofollow(0))
    with os.fdopen(fd, "rb") as source:
        if payload_start(source.read(HEADER_MAX)) is None:  # killed before its first full chunk
            return _Decrypted(out.data, False)
        source.seek(0)
        try:
            pyrage.decrypt_io(source, out, identities)
        except pyrage.DecryptError as exc:
            if not out.data:
                raise RecorderError(f"{path.name}: does not decrypt with the identity given ({exc})") from None
            return _Decrypted(out.data, False)
        except OSError:  # the last chunk is missing: the file was cut short
            return _Decrypted(out.data, False)
    return _Decrypted(out.data, True)


def encrypt_to_file(source: Path, target: Path, recipients: list[str]) -> None:
    """Encrypt the file ``source`` (a memory file) into ``target`` (created 0600, must not exist)."""
    parsed = keys.parse_recipients(recipients)
    fd = platform.open_binary(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | platform.nofollow(0), FILE_MODE)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as plain:
        pyrage.encrypt_io(plain, out, parsed)
        out.flush()
        platform.fsync(out.fileno())
