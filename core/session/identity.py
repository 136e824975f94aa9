"""Which support session a recording serves: the support tool's session id and
labels (ticket, customer, rep, portal...), checked once, wherever they come from."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from recorder.errors import UsageError

SUPPORT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,31}")
MAX_LABELS = 32
MAX_VALUE = 128


def check_support_id(value: str, where: str = "--session-id") -> str:
    if not SUPPORT_ID.fullmatch(value):
        raise UsageError(f"{where}: {value[:60]!r} is not a session id: use up to 128 letters, digits "
                         "and . _ : @ + -, starting with a letter or digit")
    return value


def check_label(key: str, value: str, where: str = "--label") -> None:
    if not LABEL_KEY.fullmatch(key):
        raise UsageError(f"{where}: label name {key[:40]!r}: use up to 32 lower-case letters, digits, - and _, "
                         "starting with a letter")
    if not value or len(value) > MAX_VALUE or not value.isprintable() or "/" in value or "\\" in value:
        raise UsageError(f"{where}: label {key}: the value must be 1 to {MAX_VALUE} printable characters "
                         "without / or \\")


def parse_labels(items: tuple[str, ...] | list[str], where: str = "--label") -> dict[str, str]:
    """``("ticket=INC-1", "rep=ana")`` as a dict, each checked."""
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{where}: {item[:60]!r} is not key=value")
        check_label(key, value, where)
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise UsageError(f"{where}: at most {MAX_LABELS} labels")
    return labels


class TemplateLabels(dict):
    """Labels for ``folder_template`` (``{label[ticket]}``): a label not given is empty."""

    def __missing__(self, key: str) -> str:
        return ""


@functools.cache  # read at every journal write otherwise; it cannot change while we run
def boot_id() -> str:
    """This boot of the machine (Linux); empty where the system does not say.

    ``RECORDER_TEST_BOOT_ID`` stands in for a reboot in the tests (a CI machine cannot
    restart mid-test)."""
    if os.environ.get("RECORDER_TEST_BOOT_ID"):
        return os.environ["RECORDER_TEST_BOOT_ID"]
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""
