"""A part stream from outside recorder: a SHA-256 sidecar beside every part.

The encoder's bytes pass through this stream on their way to the part's file;
the stream hashes them as they go and, when the part is sealed, writes
``part-NNN.mp4.sha256`` beside it (the format ``sha256sum -c`` reads). Core
records the sidecar in the manifest, hashes it, lists it in the receipt, and
``recorder verify`` asks this stream to check the part against it. Turn it on
per profile with its guard::

    [profiles.rep]
    guards = ["+checksum"]

The parts stay ordinary video files: play and export read them as they are.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from recorder import RecoveredPart, hookimpl, platform, sha256_file, write_private

STREAM = "sha256-sidecar"
SIDECAR = ".sha256"


def _sidecar_line(digest: str, name: str) -> bytes:
    return f"{digest}  {name}\n".encode()


class _Writer:
    """What the encoder writes into: the part's file, hashed on the way."""

    def __init__(self, fd: int, sidecar: Path, name: str):
        self.fd, self.sidecar, self.name = fd, sidecar, name
        self.digest = hashlib.sha256()
        self.error: BaseException | None = None

    def write(self, data) -> int:  # encoder thread
        data = bytes(data)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            self.error = exc
            raise
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def checkpoint(self, frames: int = 0, duration: float = 0.0) -> None:  # sealer thread, about once a second
        try:
            platform.fsync(self.fd)
        except OSError:
            pass  # a full disk shows up in the part's own writes

    def close(self) -> list[str]:  # the thread that seals the part
        try:
            platform.fsync(self.fd)
        finally:
            os.close(self.fd)
        write_private(self.sidecar, _sidecar_line(self.digest.hexdigest(), self.name))
        return [self.sidecar.name]


class ChecksumStream:
    suffix = ""  # the part keeps its name: it is an ordinary video file
    label = "checksummed"
    protects = False  # nothing needs a key: play and export read the file itself

    def __init__(self, options=None):
        pass

    def open(self, fd: int, part, folder: Path) -> _Writer:
        return _Writer(fd, folder / (part.file + SIDECAR), part.file)

    def recover(self, folder: Path, part, path: Path) -> RecoveredPart:
        """A crash cut the part short: keep it as written, with a sidecar of what is there."""
        sidecar = folder / (part.file + SIDECAR)
        write_private(sidecar, _sidecar_line(sha256_file(path), part.file))
        return RecoveredPart(True, "checksummed; kept as written, its sidecar written now",
                             frames=part.frames, duration=part.duration, sidecars=[sidecar.name])

    def verify(self, folder: Path, part) -> tuple[str, list[str]]:
        sidecar = folder / (part.file + SIDECAR)
        try:
            digest, name = sidecar.read_text(encoding="utf-8").split()
        except (OSError, ValueError):
            return "", [f"{sidecar.name}: missing or not a sha256sum line"]
        if name != part.file or digest != sha256_file(folder / part.file):
            return "", [f"{part.file}: does not match its SHA-256 sidecar"]
        return f"matches its SHA-256 sidecar ({sidecar.name})", []


class ChecksumGuard:
    """Turns the stream on for the session before anything is recorded."""

    def __init__(self, options=None):
        pass

    def preflight(self, session) -> None:
        session.wrap_parts(STREAM, {"algorithm": "sha256"})

    def start(self, session) -> None:
        pass

    def stop(self) -> None:
        pass


@hookimpl
def recorder_register_part_streams(register):
    register(STREAM, ChecksumStream, description="a SHA-256 sidecar beside every part")


@hookimpl
def recorder_register_guards(register):
    register("checksum", ChecksumGuard, description="writes every part through sha256-sidecar")
