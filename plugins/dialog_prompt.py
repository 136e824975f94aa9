"""Save prompt as a folder dialog, and consent prompt as a yes/no window, when the
profile asks for a dialog (or, for consent, when there is no terminal) and a display
exists. Tk (tkinter) on Linux and macOS; on Windows, Windows' own dialogs through
ctypes (dialog_prompt_win32.py): the embeddable CPython of the Windows bundle has no
tkinter, and a customer knows a Windows message box for what it is."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from recorder import SaveChoice, hookimpl


def _display_available() -> bool:
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or
                                                        os.environ.get("WAYLAND_DISPLAY"))


def _terminal() -> bool:
    """Whether the person can answer on a terminal."""
    if sys.platform == "win32":
        import recorder.plugins.dialog_prompt_win32 as win32

        return win32.stdin_is_console()
    return sys.stdin.isatty()


def _tk():
    """(tkinter, a Tk root window), or None where Tk is missing or cannot open the display."""
    try:
        import tkinter
    except ImportError:
        return None
    try:
        return tkinter, tkinter.Tk()
    except tkinter.TclError:
        return None


def _collect_here() -> None:
    """Tcl aborts the whole process ("async handler deleted by the wrong thread") if its
    interpreter is deleted by another thread than the one that made it, which the garbage
    collector does when it runs later elsewhere: Tk's widgets and callbacks hold the
    interpreter in reference cycles. So the caller drops its references, then collects here."""
    gc.collect()


@hookimpl
def recorder_prompt_save_location(session, default, problem, prefer, timeout):
    if prefer != "dialog" or timeout is not None or not _display_available():
        return None
    if sys.platform == "win32":
        return _windows_save_location(default, problem)
    tk = _tk()
    if tk is None:
        return None
    tkinter, root = tk
    from tkinter import filedialog, messagebox

    try:
        root.withdraw()
        if problem:
            messagebox.showwarning("Session recording", problem, parent=root)
        answer = filedialog.askdirectory(parent=root, initialdir=str(_start_folder(default)), mustexist=False,
                                         title="Save the session recording to")
    finally:
        root.destroy()
        del tk, root, tkinter
        _collect_here()
    return SaveChoice(Path(answer) if answer else None, "dialog")


WINDOW_TITLE = "Screen recording"


@hookimpl
def recorder_prompt_consent(session, question, prefer, timeout):
    # "auto": the terminal asks when there is one; a customer's recorder started by a
    # support tool has none, and the person to ask sits at the display.
    if prefer == "terminal" or (prefer == "auto" and _terminal()) or not _display_available():
        return None
    if sys.platform == "win32":
        return _windows_consent(question, timeout)
    tk = _tk()
    if tk is None:
        return None
    try:
        answer = _consent_window(*tk, question, timeout)  # destroys the window
    finally:
        del tk
        _collect_here()
    return answer, "dialog"


def _consent_window(tkinter, root, question: str, timeout: float) -> str:
    """Two buttons, "Do not record" focused: Enter, Escape or closing the window never
    agree. Alt+A allows, Alt+D declines; no answer within ``timeout`` is no answer."""
    answer = ["no-answer"]

    def choose(value: str) -> None:
        answer[0] = value
        root.quit()

    try:
        root.title(WINDOW_TITLE)
        root.attributes("-topmost", True)
        tkinter.Label(root, text=question, wraplength=440, justify="left", padx=18, pady=14).pack()
        row = tkinter.Frame(root)
        row.pack(pady=(0, 14))
        decline = tkinter.Button(row, text="Do not record", underline=0, command=lambda: choose("no"))
        allow = tkinter.Button(row, text="Allow recording", underline=0, command=lambda: choose("yes"))
        decline.pack(side="left", padx=8)
        allow.pack(side="left", padx=8)
        for keys, value in (("<Alt-a>", "yes"), ("<Alt-d>", "no"), ("<Escape>", "no")):
            root.bind(keys, lambda event, value=value: choose(value))
        root.bind("<Return>", lambda event: event.widget.invoke() if hasattr(event.widget, "invoke") else None)
        root.protocol("WM_DELETE_WINDOW", lambda: choose("no"))
        root.after(int(timeout * 1000), lambda: choose("no-answer"))

        def tick() -> None:  # Python sees Ctrl-C only between Tk events: have one often
            root.after(100, tick)

        tick()
        root.update_idletasks()  # centred: where a customer looks, whatever the window manager
        root.geometry(f"+{(root.winfo_screenwidth() - root.winfo_reqwidth()) // 2}"
                      f"+{(root.winfo_screenheight() - root.winfo_reqheight()) // 3}")
        decline.focus_set()
        root.mainloop()
    finally:
        root.destroy()
    return answer[0]


def _start_folder(default) -> Path:
    start = Path(default)
    while not start.is_dir() and start != start.parent:
        start = start.parent  # a dialog can only open a folder that exists
    return start


def _windows_save_location(default, problem):
    import recorder.plugins.dialog_prompt_win32 as win32

    try:
        if problem:
            win32.warn("Session recording", problem)
        answer = win32.ask_folder("Save the session recording to", str(_start_folder(default)))
    except win32.Unavailable:
        return None  # another prompt asks (the terminal, or the remembered location)
    return SaveChoice(Path(answer) if answer else None, "dialog")


def _windows_consent(question: str, timeout: float):
    import recorder.plugins.dialog_prompt_win32 as win32

    try:
        return win32.ask_consent(WINDOW_TITLE, question, timeout), "dialog"
    except win32.Unavailable:
        return None
