"""What can be read of an age file and of a part's tail without the key (and without pyrage).

age encrypts the payload in chunks of 64 KiB of plaintext, each authenticated
on its own (see stream.py). The *tail* of a part is a small age file beside it
that holds the plaintext not yet in a full chunk on disk; it begins with one
line of plaintext metadata (where it starts in the part, frames and seconds so
far), so that crash recovery on the recording machine, which has no key, can
still say how long the part is.
"""

from __future__ import annotations

CHUNK = 64 * 1024  # plaintext bytes per age STREAM chunk
SEALED_CHUNK = CHUNK + 16  # with its Poly1305 tag
NONCE = 16  # the payload starts with it
TAIL = ".tail"
TAIL_MAGIC = b"recorder-tail/v1"
AGE_MAGIC = b"age-encryption.org/v1\n"
HEADER_MAX = 64 * 1024  # an age header is a few hundred bytes a recipient
SUFFIX = ".age"


def tail_name(part_file: str) -> str:
    return part_file.removesuffix(".partial") + TAIL


def tail_line(offset: int, frames: int, duration: float) -> bytes:
    return b"%s offset=%d frames=%d duration=%.3f\n" % (TAIL_MAGIC, offset, frames, duration)


def read_tail(data: bytes) -> tuple[dict[str, float], bytes]:
    """(offset, frames, duration) and the age file of a tail; ValueError if it is not one."""
    line, _, encrypted = data.partition(b"\n")
    fields = line.split()
    if not fields or fields[0] != TAIL_MAGIC:
        raise ValueError("not a recorder tail file")
    values = dict(field.decode().split("=", 1) for field in fields[1:])
    return {"offset": int(values["offset"]), "frames": int(values["frames"]),
            "duration": float(values["duration"])}, encrypted


def payload_start(head: bytes) -> int | None:
    """Where the first chunk starts in an age file beginning with ``head`` (None: header not complete)."""
    end = head.find(b"\n--- ")
    if end < 0:
        return None
    newline = head.find(b"\n", end + 1)
    return None if newline < 0 else newline + 1 + NONCE


def age_stanzas(head: bytes) -> int | None:
    """How many recipient stanzas (not counting rage's "grease") an age header has; None if not one."""
    if not head.startswith(AGE_MAGIC):
        return None
    end = head.find(b"\n--- ")
    if end < 0:
        return None
    lines = head[len(AGE_MAGIC):end].split(b"\n")
    types = [line.split()[1] for line in lines if line.startswith(b"-> ") and len(line.split()) > 1]
    return sum(1 for kind in types if not kind.endswith(b"-grease"))


def short(recipient: str) -> str:
    """How a recipient is named in one line: enough to tell keys apart."""
    recipient = recipient.strip()
    if recipient.startswith("ssh-"):
        fields = recipient.split()
        comment = f" {fields[2]}" if len(fields) > 2 else ""
        return f"{fields[0]} {fields[1][-12:]}{comment}" if len(fields) > 1 else recipient[:24]
    return f"{recipient[:12]}...{recipient[-6:]}" if len(recipient) > 24 else recipient


def names(recipients: list[str]) -> str:
    return ", ".join(short(r) for r in recipients)
