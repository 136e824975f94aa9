"""Which support session a recording serves: the support tool's session id and
labels (ticket, customer, rep, portal...), checked once, wherever they come from."""

from __future__ import annotations

import functools
import os
import re
import sys
import time
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


@functools.cache  # read at every journal write otherwise; it cannot change while we run
def boot_id() -> str:
    """This boot of the machine; empty where the system does not say.

    Linux: the kernel's random boot id. Windows and macOS have no such id, so the id is
    the time the machine booted, ``boot-time:<unix seconds>``, compared with a tolerance
    by ``restarted_since`` (it is derived from the wall clock, which may be corrected
    a little between two reads). Windows: now minus GetTickCount64, the milliseconds
    since boot, sleep and hibernation included, so it holds across sleep and changes at
    every restart (with Fast Startup, "Shut down" hibernates the kernel: it is a restart
    only for the id the support tool passes). macOS: sysctl kern.boottime.

    ``RECORDER_TEST_BOOT_ID`` stands in for a reboot in the tests (a CI machine cannot
    restart mid-test)."""
    if os.environ.get("RECORDER_TEST_BOOT_ID"):
        return os.environ["RECORDER_TEST_BOOT_ID"]
    try:
        if sys.platform == "win32":
            return _boot_time_id(_windows_boot_time())
        if sys.platform == "darwin":
            return _boot_time_id(_macos_boot_time())
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


BOOT_TIME = "boot-time:"
# How far two reads of the same boot time may differ: the wall clock they are derived
# from is set by NTP or by hand meanwhile. A restart moves the boot time by the whole
# uptime before it, minutes at least.
BOOT_TIME_TOLERANCE = 30.0


def _boot_time_id(seconds: float) -> str:
    return f"{BOOT_TIME}{seconds:.0f}"


def restarted_since(recorded: str) -> bool:
    """Whether the machine restarted since ``recorded`` (a ``boot_id()`` of then); an
    unknown boot id says no (never resume on a guess)."""
    now = boot_id()
    if not recorded or not now:
        return False
    if recorded.startswith(BOOT_TIME) and now.startswith(BOOT_TIME):
        try:
            then_s, now_s = float(recorded.removeprefix(BOOT_TIME)), float(now.removeprefix(BOOT_TIME))
        except ValueError:
            return recorded != now
        return abs(now_s - then_s) > BOOT_TIME_TOLERANCE
    return recorded != now


def _windows_boot_time() -> float:
    from recorder.platform import win32  # OSError ENOSYS off Windows, from the call

    return time.time() - win32.kernel32.GetTickCount64() / 1000


def _macos_boot_time(sysctlbyname=None) -> float:
    """kern.boottime, a struct timeval. ``sysctlbyname`` is libc's (a test's stand-in)."""
    import ctypes

    class timeval(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_int32)]

    if sysctlbyname is None:
        libc = ctypes.CDLL(None, use_errno=True)
        sysctlbyname = libc.sysctlbyname
        sysctlbyname.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                 ctypes.c_void_p, ctypes.c_size_t]
        sysctlbyname.restype = ctypes.c_int
    value, size = timeval(), ctypes.c_size_t(ctypes.sizeof(timeval))
    if sysctlbyname(b"kern.boottime", ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        raise OSError(ctypes.get_errno(), "sysctl kern.boottime failed")
    return value.tv_sec + value.tv_usec / 1e6
