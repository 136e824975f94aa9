"""Save and consent prompts on the terminal, when standard input is one."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from recorder import SaveChoice, console, hookimpl
from rich.markup import escape


class _OutOfTime(Exception):
    pass


@contextmanager
def _deadline(seconds: float | None):
    if sys.platform == "win32" or seconds is None:  # Windows has no SIGALRM: no deadline there
        yield
    else:
        def expire(signum, frame):
            raise _OutOfTime

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@hookimpl
def recorder_prompt_save_location(session, default, problem, prefer, timeout):
    if prefer == "dialog" or not sys.stdin.isatty():
        return None
    if problem:
        console().print(f"[yellow]{escape(problem)}[/]", highlight=False)
    question = "Save the recording to which folder? (Ctrl-C to decide later)"
    if timeout is not None:
        question = (f"The machine is restarting. Save the recording so far to which folder? "
                    f"({timeout:g} s to answer; Ctrl-C to keep it where it is)")
    try:
        with _deadline(timeout):
            answer = click.prompt(question, default=str(default), err=True)
    except (click.Abort, _OutOfTime):
        console().print("")
        return SaveChoice(None, "asked")
    return SaveChoice(Path(answer.strip()).expanduser().absolute(), "asked")


@hookimpl
def recorder_prompt_consent(session, question, prefer, timeout):
    if prefer == "dialog" or not sys.stdin.isatty():
        return None
    try:
        with _deadline(timeout):
            # No by default: Enter alone, Ctrl-C or Ctrl-D never agree to being recorded.
            agreed = click.confirm(question, default=False, err=True)
    except _OutOfTime:
        console().print("")
        return ("no-answer", "terminal")
    except click.Abort:
        console().print("")
        return ("no", "terminal")
    return ("yes" if agreed else "no", "terminal")
