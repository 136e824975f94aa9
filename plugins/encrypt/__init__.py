"""Guard ``encrypt`` and part stream ``age``: every part encrypted to the organisation's age
recipients as it is written.

The administrator puts the recipients (public keys) in the site config and
locks them there. The guard checks them before anything is recorded (a bad
or secret key: exit 2, naming it) and wraps the session's parts in the part
stream ``age`` (part_stream.py), through which the encoder's bytes reach the
disk encrypted, so that no plaintext frame reaches the disk whatever plugin
comes later. The recording machine holds no key that decrypts: only the
recipients' owners can read a part. pyrage is imported only when encryption
is configured or an encrypted session is read.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from recorder import UsageError, hookimpl, option

from .part_stream import AgePartStream

STREAM = "age"


def check_age_recipient(text: str) -> None:
    """ValueError (a sentence: "is a private key: ...") unless ``text`` is an age recipient."""
    from .keys import parse_recipient

    parse_recipient(text)


def _check_recipients(instance, attribute, value: list[str]) -> None:
    for number, recipient in enumerate(value, 1):
        try:
            check_age_recipient(recipient)
        except ValueError as exc:
            raise ValueError(f"recipient {number} ({recipient[:20]}...) {exc}") from None


@attrs.frozen
class EncryptOptions:
    recipients: list[str] = option(attrs.Factory(list), "age recipients the parts are encrypted to: public "
                                                        "keys (age1..., or ssh-ed25519/ssh-rsa); never a "
                                                        "private key.", validator=_check_recipients)
    recipients_file: str = option("", "A file of recipients, one a line (# comments), as age -R reads: "
                                      "for a list the administrator manages apart from the config.")

    def __attrs_post_init__(self):
        if not self.recipients and not self.recipients_file:
            raise ValueError("recipients: at least one recipient (or a recipients_file) is required")


def read_recipients_file(path: str) -> list[str]:
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"encrypt.recipients_file {file}: cannot be read: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    found = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            check_age_recipient(line)
        except ValueError as exc:
            raise UsageError(f"encrypt.recipients_file {file}: line {number} {exc}") from None
        found.append(line)
    if not found:
        raise UsageError(f"encrypt.recipients_file {file}: holds no recipient")
    return found


class EncryptGuard:
    preflight_required = True  # a preflight cut short must not let the recording start unencrypted

    def __init__(self, options: EncryptOptions):
        self.options = options

    def preflight(self, session) -> None:
        """Before anything is written: every part of this run is encrypted to these."""
        recipients = list(self.options.recipients)
        if self.options.recipients_file:
            recipients += read_recipients_file(self.options.recipients_file)
        session.wrap_parts(STREAM, {"recipients": list(dict.fromkeys(recipients))})

    def start(self, session) -> None:
        pass  # everything happens before recording: the part stream does the rest

    def stop(self) -> None:
        pass


@hookimpl
def recorder_register_guards(register):
    register("encrypt", EncryptGuard, options=EncryptOptions,
             description="encrypt every part to the organisation's age recipients (public keys)")


@hookimpl
def recorder_register_part_streams(register):
    register(STREAM, AgePartStream,
             description="parts written through age's STREAM (the encrypt guard turns it on)")
