"""A process's memory as Linux reports it in /proc/PID/status."""

from __future__ import annotations

from pathlib import Path


def status_mib(pid: int, field: str) -> float | None:
    """``field`` (VmRSS, VmHWM, ...) in MiB, or None once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None
