"""Which boot of the machine a journal entry was written in: what lets a start without
--session-id resume the session a restart interrupted. Linux reads the kernel's boot
id; Windows and macOS derive the boot time (GetTickCount64 under Wine in
tests/windows/test_lifecycle.py; kern.boottime here, with sysctlbyname simulated)."""

from __future__ import annotations

import ctypes
import sys
import types

import pytest

from recorder.session import identity


@pytest.fixture(autouse=True)
def uncached(monkeypatch):
    monkeypatch.delenv("RECORDER_TEST_BOOT_ID", raising=False)
    identity.boot_id.cache_clear()
    yield
    identity.boot_id.cache_clear()


def _kern_boottime(sec: int, usec: int):
    """sysctlbyname as macOS answers kern.boottime: a struct timeval written to the caller's buffer."""
    asked = []

    def sysctlbyname(name, buffer, size, new, new_size):
        asked.append(name)
        raw = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_int64))
        raw[0] = sec
        ctypes.cast(ctypes.addressof(raw.contents) + 8, ctypes.POINTER(ctypes.c_int32))[0] = usec
        return 0

    return sysctlbyname, asked


def test_simulated_macos_boot_time_comes_from_kern_boottime():
    sysctlbyname, asked = _kern_boottime(1_700_000_000, 250_000)
    assert identity._macos_boot_time(sysctlbyname) == 1_700_000_000.25
    assert asked == [b"kern.boottime"]


def test_simulated_macos_boot_id_is_the_boot_time(monkeypatch):
    monkeypatch.setattr(identity, "sys", types.SimpleNamespace(platform="darwin"))
    monkeypatch.setattr(identity, "_macos_boot_time", lambda: 1_700_000_000.4)
    assert identity.boot_id() == "boot-time:1700000000"


def test_simulated_a_failed_sysctl_is_an_unknown_boot(monkeypatch):
    monkeypatch.setattr(identity, "sys", types.SimpleNamespace(platform="darwin"))
    monkeypatch.setattr(identity, "_macos_boot_time", lambda: (_ for _ in ()).throw(OSError(1, "no")))
    assert identity.boot_id() == ""
    assert identity.restarted_since("boot-time:1700000000") is False  # never resume on a guess


@pytest.mark.parametrize(("then", "now", "restarted"), [
    ("boot-time:1700000000", 1_700_000_000.0, False),
    ("boot-time:1700000000", 1_700_000_012.0, False),  # the clock was corrected a little since
    ("boot-time:1700000000", 1_700_003_600.0, True),  # booted an hour later: a restart
    ("", 1_700_000_000.0, False),  # written where the boot was unknown
])
def test_simulated_boot_times_compare_with_a_tolerance(monkeypatch, then, now, restarted):
    monkeypatch.setattr(identity, "sys", types.SimpleNamespace(platform="darwin"))
    monkeypatch.setattr(identity, "_macos_boot_time", lambda: now)
    assert identity.restarted_since(then) is restarted


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's boot id is Linux's")
def test_linux_boot_id_is_the_kernels_and_stays():
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
        assert identity.boot_id() == f.read().strip()
    assert identity.restarted_since(identity.boot_id()) is False
    assert identity.restarted_since("another-boot") is True


def test_the_test_stand_in_is_a_restart(monkeypatch):
    monkeypatch.setenv("RECORDER_TEST_BOOT_ID", "boot-2")
    assert identity.restarted_since("boot-1") is True and identity.restarted_since("boot-2") is False
