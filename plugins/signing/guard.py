"""Guard ``signing``: the session's receipt and its final ``session.json``, signed.

When the receipt is issued, it is written into the session folder as
``receipt.json`` and signed there (``receipt.json.sig``); the support tool
gets the signature, the signer's name and public key in the receipt itself
(``signed``, outside the head hash). When the session has ended, the final
``session.json`` is signed (``session.json.sig``). Each signature is what
``ssh-keygen -Y sign -n recorder-receipt`` writes, so that anyone checks it with
``ssh-keygen -Y verify`` and an ``allowed_signers`` file, without recorder.

Signing never costs the recording: without ssh-keygen or a usable key it says
so in one line and the session is kept, whole and verifiable, unsigned.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from recorder import UsageError, console, option, profiles_using, write_private

from recorder.plugins.signing import keys

RECEIPT = "receipt.json"
SIGNATURE = ".sig"  # beside the file it signs, as ssh-keygen -Y sign names it
SIGNED_FILES = (RECEIPT, RECEIPT + SIGNATURE, "session.json" + SIGNATURE)  # what signing keeps in a folder


@attrs.frozen
class SigningOptions:
    key: str = option("", "An organisation's Ed25519 private key (a path; unencrypted, or its .pub with the "
                          "key in ssh-agent). Empty: this machine's own key, made on first use in recorder's "
                          "state folder.")
    identity: str = option("", "The signer's name in allowed_signers. Empty: the key's comment for an "
                               "organisation key, recorder@HOSTNAME for this machine's.")
    allowed_signers: str = option("", "An allowed_signers file (ssh-keygen's format) that 'recorder verify "
                                      "--receipt' also trusts, beside this machine's key and the profile's.")


def receipt_bytes(receipt: dict[str, Any]) -> bytes:
    """receipt.json as signed: the receipt as issued, keys sorted, indented by 2, one newline at the
    end. A receipt that came with a carrier's keys around it (an events file's ``kind``, ``text``)
    is taken back to the keys ``signed.keys`` names, so a support tool rebuilds these exact bytes."""
    signed = receipt.get("signed")
    names = signed.get("keys") if isinstance(signed, dict) and isinstance(signed.get("keys"), list) else \
        [key for key in receipt if key != "signed"]
    issued = {key: receipt.get(key) for key in names}
    return (json.dumps(issued, indent=2, sort_keys=True) + "\n").encode()


class SigningGuard:
    def __init__(self, options: SigningOptions):
        self.options = options
        self.signer: keys.Signer | None = None
        self.warned = False
        self.issued = False  # no receipt (an interrupted session): its session.json is not final

    def start(self, session) -> None:
        pass  # nothing to watch while recording; the key is looked for when there is something to sign

    def stop(self) -> None:
        pass

    def session_receipt(self, session, receipt: dict[str, Any]) -> None:
        self.issued = True
        data = receipt_bytes(receipt)
        signature = self._sign(session, RECEIPT, data)
        if signature is None:
            return
        assert self.signer is not None
        # For the support tool (notifiers and the control channel hear the receipt after this):
        # what it needs to check the receipt it keeps, with ssh-keygen alone.
        receipt["signed"] = {"file": RECEIPT, "keys": sorted(receipt), "namespace": keys.NAMESPACE,
                             "signer": self.signer.identity, "public_key": self.signer.public,
                             "allowed_signers": self.signer.allowed_signers_line(), "signature": signature}

    def session_ended(self, session) -> None:
        if not self.issued:
            return
        try:
            data = (session.folder / "session.json").read_bytes()
        except OSError as exc:
            self._warn(f"session.json cannot be read to sign it: {exc}")
            return
        self._sign(session, None, data, name="session.json")

    def _sign(self, session, written: str | None, data: bytes, name: str | None = None) -> str | None:
        """Write ``written`` (if given) and its signature into the session folder; the signature, or
        None after one warning line."""
        name = name or written
        try:
            if self.signer is None:
                self.signer = keys.signer(self.options.key, self.options.identity)
            signature = keys.sign(self.signer, data)
            if written:
                write_private(session.folder / written, data)
            write_private(session.folder / f"{name}{SIGNATURE}", signature.encode())
        except (keys.SigningUnavailable, OSError) as exc:
            self._warn(f"{name} is not signed: {exc}")
            return None
        except Exception as exc:  # ssh-keygen hung, say: the recording is never lost to signing
            self._warn(f"{name} is not signed: {exc!r}")
            return None
        return signature

    def _warn(self, text: str) -> None:
        if not self.warned:  # one line: the recording itself is whole
            self.warned = True
            console().print(f"recorder: warning: signing: {text}", markup=False, highlight=False)


def resign_manifest(session) -> None:
    """``recorder save`` added its event to a signed session.json: the recorder that signed it
    signs it again (with the key of the profile that recorded it), so that the signature stays
    the manifest's. A session.json changed by anything else keeps the old signature, and
    ``recorder verify --receipt`` says it was changed after it was signed."""
    if not (session.folder / f"session.json{SIGNATURE}").is_file():
        return
    try:
        options = profiles_using("signing", session.profile).get(session.profile) or SigningOptions()
    except UsageError:
        options = SigningOptions()
    guard = SigningGuard(options)
    guard.issued = True  # it was signed at its end, after its receipt
    guard.session_ended(session)
