"""Save prompt as a folder dialog (tkinter), when the profile asks for one and a display exists."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from recorder import SaveChoice, hookimpl


def _display_available() -> bool:
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or
                                                        os.environ.get("WAYLAND_DISPLAY"))


@hookimpl
def recorder_prompt_save_location(session, default, problem, prefer, timeout):
    if prefer != "dialog" or timeout is not None or not _display_available():
        return None
    try:
        import tkinter
        from tkinter import filedialog, messagebox
    except ImportError:
        return None
    try:
        root = tkinter.Tk()
    except tkinter.TclError:
        return None
    try:
        root.withdraw()
        if problem:
            messagebox.showwarning("Session recording", problem, parent=root)
        start = Path(default)
        while not start.is_dir() and start != start.parent:
            start = start.parent  # Tk can only open a folder that exists
        answer = filedialog.askdirectory(parent=root, initialdir=str(start), mustexist=False,
                                         title="Save the session recording to")
    finally:
        root.destroy()
    return SaveChoice(Path(answer) if answer else None, "dialog")
