"""``recorder verify --receipt``: the signatures in a session folder, checked with
``ssh-keygen -Y verify`` against the signers recorder trusts here, and the signer named.

Trusted: this machine's key, each profile's signing key, and the allowed_signers
files the profiles name. A good signature by any other key is a problem that
names the key's fingerprint; so is a signed file changed after it was signed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from recorder import profiles_using

from recorder.plugins.signing import keys
from recorder.plugins.signing.guard import RECEIPT, SIGNATURE, SIGNED_FILES, receipt_bytes

Line = tuple[bool, str]  # (checks out, what is said)


def trusted() -> str:
    """The allowed_signers text of every signer recorder trusts here."""
    lines: list[str] = []
    machine = keys.machine_key_path()
    if machine.is_file():
        lines.append(keys.signer().allowed_signers_line())
    for options in profiles_using("signing").values():
        if options is None:
            continue
        if options.key:
            try:
                lines.append(keys.signer(options.key, options.identity).allowed_signers_line())
            except keys.SigningUnavailable:
                pass  # said when that profile records
        if options.allowed_signers:
            try:
                lines += Path(options.allowed_signers).expanduser().read_text(encoding="utf-8").splitlines()
            except OSError:
                pass
    return "\n".join(dict.fromkeys(lines)) + "\n"


def _check(allowed: Path, name: str, signature: Path, data: bytes, changed: str) -> Line:
    principal = keys.signed_by(allowed, signature, data)
    if principal:
        return True, f"{name} is signed by {principal} (ssh-keygen -Y verify, namespace {keys.NAMESPACE})"
    fingerprint = keys.key_of(signature, data)
    if fingerprint:
        return False, f"{name} is signed by a key recorder does not trust here ({fingerprint}): add it to " \
                      "an allowed_signers file (the signing guard's allowed_signers option)"
    return False, f"{name}: {changed}"


def check(folder: Path, receipt: dict[str, Any] | str) -> list[Line]:
    given = receipt.get("signed") if isinstance(receipt, dict) else None
    if given is None and not any((folder / name).is_file() for name in SIGNED_FILES):
        return []  # a session recorded without signing: nothing of ours to say
    try:
        keys.ssh_keygen()
    except keys.SigningUnavailable as exc:
        return [(False, f"the signatures cannot be checked: {exc}")]
    said: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="recorder-signers-") as scratch:
        allowed = Path(scratch) / "allowed_signers"
        allowed.write_text(trusted(), encoding="utf-8")
        if isinstance(given, dict) and isinstance(given.get("signature"), str):
            kept = Path(scratch) / "receipt.json.sig"
            kept.write_text(given["signature"], encoding="utf-8")
            said.append(_check(allowed, "the receipt you keep", kept, receipt_bytes(receipt),
                               "its signature does not match it (the receipt was changed after it was signed)"))
        said += _in_folder(folder, allowed, receipt, expected=given is not None)
    return said


def _in_folder(folder: Path, allowed: Path, receipt: dict[str, Any] | str, expected: bool) -> list[Line]:
    """The signatures in the folder; ``expected``: the receipt given says there are some."""
    said: list[Line] = []
    signed = expected or any((folder / name).is_file() for name in SIGNED_FILES)
    for name in (RECEIPT, "session.json"):
        signature = folder / f"{name}{SIGNATURE}"
        if not signature.is_file():
            if signed:  # one signature removed would hide a change to its file
                said.append((False, f"{name}{SIGNATURE} is missing, though the session was signed"))
            continue
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            said.append((False, f"{name} cannot be read to check its signature: {exc}"))
            continue
        said.append(_check(allowed, name, signature, data,
                           "its signature does not match it (the file was changed after it was signed)"))
    head = receipt if isinstance(receipt, str) else receipt.get("head")
    if (folder / RECEIPT).is_file():
        try:
            signed_head = json.loads((folder / RECEIPT).read_text(encoding="utf-8")).get("head")
        except (OSError, ValueError, AttributeError):
            signed_head = None
        if signed_head != head:
            said.append((False, f"{RECEIPT} in the folder is not the receipt given (head {str(signed_head)[:16]}...)"))
    return said
