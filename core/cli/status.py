"""The live status line shown while recording (only on a terminal)."""

from __future__ import annotations

import shutil

from recorder.values import clock, human_size
from rich.text import Text


def status_line(recording) -> Text:
    session = recording.session
    elapsed = session.offset()
    fps = session.captured / elapsed if elapsed > 0 else 0.0
    written = recording.parts.bytes_written() if recording.parts else 0
    try:
        free = human_size(shutil.disk_usage(session.folder).free)
    except OSError:
        free = "?"
    line = Text()
    pause = session.paused
    if pause is not None:  # the person at this machine must see that nothing is being recorded
        line.append(f"❚❚ PAUSED by {pause.by} ", style="bold yellow")
    else:
        line.append("● REC ", style="bold red")
    still = f"  {100 * session.unchanged / session.captured:.0f}% still" if session.captured else ""
    line.append(f"{clock(elapsed)}  {fps:4.1f} fps{still}  dropped {session.dropped}  "
                f"{human_size(written)} written  {free} free  ")
    line.append(str(session.folder), style="dim")
    return line


def idle_status(profile: str | None, wait: float = 0.0) -> dict | None:
    """``status --json`` when no recorder is running (for ``profile``, or at all) after ``wait``
    seconds: ``{"state": "idle"}``; None when one is (or several are: that error is the client's)."""
    from recorder.control.client import running_profile
    from recorder.errors import UsageError

    try:
        running_profile(profile, wait)
    except UsageError as exc:
        if "no recorder is running" not in str(exc):
            raise
        return {"state": "idle"} | ({"profile": profile} if profile else {})
    return None
