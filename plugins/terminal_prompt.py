"""Save prompt on the terminal, when standard input is one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from recorder import SaveChoice, hookimpl
from recorder.ui import console


@hookimpl
def recorder_prompt_save_location(session, default, problem, prefer):
    if prefer == "dialog" or not sys.stdin.isatty():
        return None
    if problem:
        console().print(f"[yellow]{problem}[/]", highlight=False)
    try:
        answer = click.prompt("Save the recording to which folder? (Ctrl-C to decide later)",
                              default=str(default), err=True)
    except click.Abort:
        console().print("")
        return SaveChoice(None, "asked")
    return SaveChoice(Path(answer.strip()).expanduser().absolute(), "asked")
