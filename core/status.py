"""The live status line shown while recording (only on a terminal)."""

from __future__ import annotations

import shutil

from rich.text import Text


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
    line.append("● REC ", style="bold red")
    still = f"  {100 * session.unchanged / session.captured:.0f}% still" if session.captured else ""
    line.append(f"{clock(elapsed)}  {fps:4.1f} fps{still}  dropped {session.dropped}  "
                f"{human_size(written)} written  {free} free  ")
    line.append(str(session.folder), style="dim")
    return line
