"""Recipients (public keys, in the profile) and identities (private keys, given on the command line).

The format is age v1 (https://age-encryption.org), through pyrage, the Python
binding of rage: an auditor decrypts a part with the ordinary ``age`` or
``rage`` tools. Recipients are native X25519 (``age1...``) or SSH public keys
(``ssh-ed25519 ...``, ``ssh-rsa ...``). A private key never belongs in a
config file: a recipient that is one is refused, naming the key.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyrage
from pyrage import ssh, x25519
from recorder import UsageError, platform

SECRET_PREFIX = "AGE-SECRET-KEY-"
IDENTITY_ENV_PREFIX = "env:"


def parse_recipient(text: str):
    """One recipient; ValueError with a sentence saying what is wrong."""
    text = text.strip()
    if text.upper().startswith(SECRET_PREFIX) or "PRIVATE KEY" in text:
        raise ValueError("is a private key: only public keys belong in the config "
                         "(age-keygen -y KEYFILE prints the public key)")
    try:
        if text.startswith("age1"):
            return x25519.Recipient.from_str(text)
        if text.startswith("ssh-"):
            return ssh.Recipient.from_str(text)
    except pyrage.RecipientError as exc:
        raise ValueError(f"is not a valid age recipient ({exc})") from None
    raise ValueError("is not an age recipient (age1... or an ssh-ed25519/ssh-rsa public key)")


def check_recipient(text: str) -> None:
    """ValueError (a sentence: "is a private key: ...") unless ``text`` is an age recipient."""
    parse_recipient(text)


def parse_recipients(texts: list[str]) -> list:
    return [parse_recipient(text) for text in texts]


def load_identities(reference: str) -> list:
    """Identities from an age identity file (as written by age-keygen; several keys may be in
    it), ``-`` for standard input, or ``env:NAME`` for an environment variable holding the file's text.

    From here on this process holds a private key, and soon the video it decrypts: it
    never dumps core (docs/privacy.md)."""
    platform.no_core_dumps()
    if reference.startswith(IDENTITY_ENV_PREFIX):
        name = reference[len(IDENTITY_ENV_PREFIX):]
        text = os.environ.get(name)
        if not text:
            raise UsageError(f"--identity {reference}: the environment variable {name} is not set")
        where = f"--identity {reference}"
    elif reference == "-":
        text, where = sys.stdin.read(), "--identity - (standard input)"
    else:
        path = Path(reference).expanduser()
        where = f"--identity {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    identities = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith(SECRET_PREFIX):
            try:
                identities.append(x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                raise UsageError(f"{where}: line {number} is not a valid age secret key") from None
        elif line.startswith("-----BEGIN"):
            try:
                identities.append(ssh.Identity.from_buffer(text.encode()))
            except pyrage.IdentityError as exc:
                raise UsageError(f"{where}: not a usable SSH private key ({exc})") from None
            break
        else:
            raise UsageError(f"{where}: line {number} is not an age identity (AGE-SECRET-KEY-1...)")
    if not identities:
        raise UsageError(f"{where}: holds no identity")
    return identities
