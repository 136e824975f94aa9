"""Part stream ``age``: what core asks of an encrypted part, from writing it to reading it back.

Core calls these methods (docs/plugins.md, "Part streams"); it knows nothing
of age. pyrage is imported on first use, so a recorder that does not encrypt
never loads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from recorder import RecoveredPart, human_size, platform

from .age_format import HEADER_MAX, SUFFIX, age_stanzas, names, payload_start, read_tail, tail_name


def recipients_of(parts) -> list[str]:
    found: list[str] = []
    for part in parts:
        for recipient in part.stream_meta.get("recipients", []):
            if recipient not in found:
                found.append(recipient)
    return found


def _tail_of(part) -> str:
    return next(iter(part.sidecars), "")


class AgePartStream:
    suffix = SUFFIX
    label = "encrypted"
    protects = True  # nothing of a part reads without a recipient's key

    def __init__(self, options=None):
        pass  # no options of its own: the encrypt guard's recipients come with each part

    # -- recording
    def open(self, fd: int, part, folder: Path):
        """Encoder thread: the part's writer (write, flush, checkpoint, close, error). The screen
        passes through this process in the clear before it is encrypted: no core dump of it."""
        platform.no_core_dumps()
        from .keys import parse_recipients
        from .stream import EncryptedPartStream

        return EncryptedPartStream(fd, folder / tail_name(part.file), parse_recipients(recipients_of([part])))

    # -- crash recovery, on the recording machine: no key
    def recover(self, folder: Path, part, path: Path) -> RecoveredPart:
        """A part a crash left: sealed as it is, with the tail its last checkpoint left."""
        tail = folder / tail_name(part.file)
        meta = None
        if tail.is_file():
            try:
                meta, _ = read_tail(tail.read_bytes())
            except (OSError, ValueError, KeyError):
                meta = None  # a tail torn or foreign: not ours to keep
        with open(path, "rb") as fh:
            start = payload_start(fh.read(HEADER_MAX))
            size = os.fstat(fh.fileno()).st_size
        if meta is None:
            tail.unlink(missing_ok=True)
            if start is None or size <= start:  # no chunk, no tail: nothing a key could read
                return RecoveredPart(False, "encrypted, and killed before its first second was safe: dropped")
        duration = round(meta["duration"], 3) if meta else 0.0
        return RecoveredPart(True, f"encrypted; kept as written, about {duration:.1f} s ({human_size(size)}"
                                   + (", and its tail" if meta else "")
                                   + "): recorder recover --identity KEY makes it whole",
                             frames=int(meta["frames"]) if meta else 0, duration=duration,
                             sidecars=[tail.name] if meta else [])

    def verify(self, folder: Path, part) -> tuple[str, list[str]]:
        """Without the key: that the part is an age file for as many recipients as the manifest says."""
        recipients = part.stream_meta.get("recipients", [])
        tail = _tail_of(part)
        problems = []
        with open(folder / part.file, "rb") as fh:
            stanzas = age_stanzas(fh.read(HEADER_MAX))
        if stanzas is None and tail:
            pass  # killed before its first full chunk: everything is in the tail
        elif stanzas is None:
            problems.append(f"{part.file}: not an age-encrypted file (its header does not parse)")
        elif stanzas < len(recipients):
            problems.append(f"{part.file}: encrypted to {stanzas} recipient(s), the manifest says {len(recipients)}")
        return (f"encrypted to {len(recipients)} recipient(s), {part.duration:.1f} s"
                + (f", with the tail a crash left ({tail})" if tail else "")), problems

    # -- reading back, with the key
    def describe(self, parts) -> str:
        return f"encrypted to {names(recipients_of(parts))}"

    def load_key(self, reference: str) -> list:
        from .keys import load_identities

        return load_identities(reference)

    def read(self, folder: Path, part, key) -> bytes:
        from .reading import part_plaintext

        return part_plaintext(folder, part.file, _tail_of(part), key)

    def needs_whole(self, part) -> bool:
        """A tail to join, or a part sealed by crash recovery without the key (its length unknown)."""
        return bool(part.sidecars) or not part.frames

    def protect(self, source: Path, target: Path, parts) -> None:
        """``source`` (in memory) encrypted into ``target`` (new, 0600) to the recipients of ``parts``."""
        from .reading import encrypt_to_file

        encrypt_to_file(source, target, recipients_of(parts))
