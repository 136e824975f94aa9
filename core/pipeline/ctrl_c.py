"""What Ctrl-C means from the moment recording begins until the session's report is printed.

The first press ends the session normally (end reason ``user``). The session is then
sealed and handed over, and a press meanwhile must not throw that away, as in OBS or
ffmpeg: the next press only says what is happening, and one more quits at once (exit 130),
which costs no more than a crash: the next start, or ``recorder recover``, completes the
session. At a save prompt Ctrl-C is the prompt's own ("decide later"). SIGTERM and SIGHUP
mean a restart: the ``signals`` guard handles them.

The handler runs on the main thread between two of its instructions, possibly while
that thread holds the session's or the manifest's lock: so it only counts, and leaves
the ending and the printing to a short thread of their own (which waits for the lock).
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from recorder.console import say
from recorder.session.model import Session

EXIT_FORCED = 130  # as a shell reports a process ended by SIGINT
FINISHING = ("finishing the recording (sealing it and handing it over); "
             "Ctrl-C again to quit at once, the next start or 'recorder recover' completes the session")


class CtrlC:
    """The SIGINT handler of a recording; ``held()`` installs it (nested: the outermost
    installs and restores), ``prompting()`` lends Ctrl-C back to a prompt."""

    def __init__(self, session: Callable[[], Session]):
        self.session = session  # a callable: a resumed session replaces the recording's while preparing
        self.depth = 0
        self.previous: Any = None
        self.asked_end = False
        self.while_ending = 0  # presses after the end was asked for

    @contextmanager
    def held(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread can have signal handlers
            return
        if self.depth == 0:
            self.previous = signal.signal(signal.SIGINT, self._pressed)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                signal.signal(signal.SIGINT, self.previous)

    @contextmanager
    def prompting(self) -> Iterator[None]:
        """While a prompt asks, Ctrl-C is a KeyboardInterrupt as usual: the prompt's "decide later"."""
        if self.depth == 0 or threading.current_thread() is not threading.main_thread():
            yield
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, self._pressed)

    def _pressed(self, signum: int, frame: Any) -> None:
        session = self.session()
        if not self.asked_end and not session.ending:
            self.asked_end = True
            _later(session.request_end, "user", by="ctrl-c")
            return
        self.while_ending += 1
        if self.while_ending == 1:
            _later(say, FINISHING)
            return
        # Forced: like a kill, which recording survives by design. Written directly, without
        # the console's lock, which the interrupted main thread may hold.
        where = f" in {session.folder}" if session.folder else ""
        os.write(2, f"\nrecorder: quitting at once; the session stays{where} (the next start or "
                    "'recorder recover' completes it)\n".encode("utf-8", "backslashreplace"))
        os._exit(EXIT_FORCED)


def _later(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    threading.Thread(target=function, args=args, kwargs=kwargs, name="recorder-ctrl-c").start()
