"""Reading encrypted parts back with a key: in memory, or in a memory-backed folder that goes away.

Nothing decrypted is ever written to a disk: a part is decrypted into an
anonymous memory file (``memfd``, reachable as ``/proc/self/fd/N`` by PyAV and
FFmpeg) for ``export`` and ``info``, or into a private folder on a tmpfs (the
user's runtime dir, or ``/dev/shm``) for ``play``, whose browser needs a path;
that folder is removed when ``play`` ends. A part a crash cut short is joined
with its tail (see stream.py) and repaired by its encoder on the way, so the
reader always gets a whole, regular file.
"""

from __future__ import annotations

import contextlib
import os
import sys
import secrets
import shutil
from pathlib import Path
from typing import Iterator

import attrs
import pyrage
from recorder import platform
from recorder.errors import RecorderError, UsageError
from recorder.privacy import keys
from recorder.privacy.stream import HEADER_MAX, TAIL, payload_start, read_tail
from recorder.session.model import Part
from recorder.store.files import DIR_MODE, FILE_MODE, NOFOLLOW
from recorder.values import PartStats

MEMORY_FILESYSTEMS = ("tmpfs", "ramfs")


class _Collect:
    def __init__(self):
        self.data = bytearray()

    def write(self, data) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass


def encrypted(manifest) -> list[str]:
    """The recipients a session's parts are encrypted to (empty: none is)."""
    found: list[str] = []
    for part in manifest.parts:
        for recipient in part.encrypted_to:
            if recipient not in found:
                found.append(recipient)
    return found


def refuse_without_key(manifest, command: str) -> None:
    recipients = encrypted(manifest)
    if recipients:
        raise UsageError(f"session {manifest.session_id[:8]} is encrypted (to {keys.names(recipients)}): "
                         f"{command} needs the key: give --identity FILE")


def part_plaintext(folder: Path, part: Part, identities: list) -> bytes:
    """The part's bytes in the clear: the file, joined with its tail if a crash left one."""
    data = _collect(folder / part.file, identities)
    if not part.tail:
        return bytes(data.data)  # a torn end (writer failed): the encoder's repair keeps whole fragments
    meta, sealed = read_tail((folder / part.tail).read_bytes())
    try:
        rest = pyrage.decrypt(sealed, identities)
    except pyrage.DecryptError as exc:
        raise RecorderError(f"{part.tail}: does not decrypt with the identity given ({exc})") from None
    have, offset = len(data.data), meta["offset"]
    if data.complete or not offset <= have <= offset + len(rest):
        return bytes(data.data)  # the file outgrew its tail before the kill: the tail adds nothing
    return bytes(data.data) + rest[have - offset:]


@attrs.define
class _Decrypted:
    data: bytearray
    complete: bool


def _collect(path: Path, identities: list) -> _Decrypted:
    out = _Collect()
    fd = platform.open_binary(path, os.O_RDONLY | NOFOLLOW)
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


def memory_file(data: bytes, name: str = "recorder-part") -> Path:
    """``data`` in an anonymous memory file, as a path PyAV and FFmpeg open; it lives
    as long as this process (the descriptor is deliberately never closed)."""
    fd = _memfd(name)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return Path(f"/proc/self/fd/{fd}")


def memory_output(name: str = "recorder-export") -> Path:
    return Path(f"/proc/self/fd/{_memfd(name)}")


def _memfd(name: str) -> int:
    """An anonymous memory file (Linux only, by design: plaintext never touches a disk;
    macOS and Windows have no equivalent PyAV can open by path)."""
    if sys.platform != "linux":
        raise UsageError("decrypting a session into memory needs Linux (memfd); see docs/platforms.md")
    return os.memfd_create(name, os.MFD_CLOEXEC)


def release(path: Path) -> None:
    """Give back the memory of a file from ``memory_file`` or ``memory_output``."""
    os.close(int(path.name))


def materialize(folder: Path, part: Part, identities: list, repairer, fps: float,
                into: Path | None = None) -> tuple[Path, PartStats | None]:
    """The part decrypted (and repaired, if its encoder can) in memory, or as a file in ``into``
    (a folder from ``memory_folder``); returns its path and what the repair found."""
    plain = part_plaintext(folder, part, identities)
    if into is None:
        path = memory_file(plain, part.file)
    else:
        path = into / part.file.removesuffix(".age")
        fd = platform.open_binary(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(plain)
    stats = None
    if repairer is not None:
        try:
            stats = repairer(path, fps)
        except Exception:  # noqa: BLE001 - the part plays as it is
            stats = None
    return path, stats


def _filesystem_of(path: Path) -> str:
    """The type of the filesystem ``path`` is on (from /proc/self/mounts)."""
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return ""
    target = str(path.resolve())
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, kind = mount, fields[2]
    return kind


def memory_places() -> list[Path]:
    places = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        places.append(Path(runtime))
    places.append(Path("/dev/shm"))
    return [p for p in places if p.is_dir() and _filesystem_of(p) in MEMORY_FILESYSTEMS]


@contextlib.contextmanager
def memory_folder(purpose: str) -> Iterator[Path]:
    """A private (0700) folder in memory (tmpfs), removed with everything in it afterwards."""
    places = memory_places()
    if not places:
        raise UsageError(f"no memory-backed folder to decrypt into for {purpose} (neither $XDG_RUNTIME_DIR "
                         "nor /dev/shm is a tmpfs): decrypted pictures are never written to a disk")
    folder = places[0] / f"recorder-{purpose}-{os.getpid()}-{secrets.token_hex(8)}"
    os.mkdir(folder, DIR_MODE)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_folders(purpose: str) -> None:
    """Folders left by a ``play`` that was killed (its process is gone)."""
    for place in memory_places():
        for stale in place.glob(f"recorder-{purpose}-*"):
            try:
                pid = int(stale.name.split("-")[2])
            except (IndexError, ValueError):
                continue
            if stale.owner() == _me() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(stale, ignore_errors=True)


def _me() -> str:
    if sys.platform == "win32":
        return platform.user_name()
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def tail_name(part_file: str) -> str:
    return part_file.removesuffix(".partial") + TAIL


def encrypt_to_file(source: Path, target: Path, recipients: list[str]) -> None:
    """Encrypt the file ``source`` (a memory file) into ``target`` (created 0600, must not exist)."""
    parsed = keys.parse_recipients(recipients)
    fd = platform.open_binary(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as plain:
        pyrage.encrypt_io(plain, out, parsed)
        out.flush()
        platform.fsync(out.fileno())


def decrypted(line, identities: list, host, into: Path | None = None):
    """``line`` (a Timeline) with each encrypted part replaced by its plaintext (in memory, or
    files in ``into``), joined with its tail and repaired: what play and export read."""
    by_name = {part.file: part for part in line.manifest.parts}
    segments = []
    for seg in line.segments:
        part = by_name.get(seg.path.name)
        if part is not None and part.encrypted_to:
            repair, _ = host.repairer(part.encoder)
            path, _ = materialize(line.folder, part, identities, repair, line.manifest.fps, into)
            seg = attrs.evolve(seg, path=path)
        segments.append(seg)
    return attrs.evolve(line, segments=segments)

