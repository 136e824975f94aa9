"""Before anything is written: --save-to checked (and refused where no one is asked), the
session folder made, the guards' preflight checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from recorder.components import AsksWhereToSave, Preflights, RequiresPreflight
from recorder.errors import PluginError, RecorderError, UsageError
from recorder.host.isolation import running
from recorder.host.manager import PluginHost
from recorder.session.model import Session
from recorder.store import saving
from recorder.disk.files import shared_with_others

PASSED = object()  # a guard's preflight let the recording start


def check_guards(host: PluginHost, guards: list[tuple[str, Any]], session: Session) -> None:
    """Guards may refuse to start (e.g. the disk is already too full): raises their refusal."""
    for name, guard in guards:
        if not isinstance(guard, Preflights):
            continue
        check = guard.preflight

        def attempt(check=check):
            try:
                check(session)
            except Exception as exc:  # a refusal is the answer: carried back, not reported
                return exc
            return PASSED

        refused = host.run(name, f"guard '{name}'", attempt)  # None if it is overdue
        if refused is None and isinstance(guard, RequiresPreflight) and guard.preflight_required:
            # e.g. encrypt: recording without its answer would write the screen in the clear
            raise UsageError(f"guard '{name}' did not finish its checks in time: nothing is recorded")
        if isinstance(refused, RecorderError):
            raise refused
        if refused is not None and refused is not PASSED:
            raise PluginError(host.owner(name), f"guard '{name}'", refused) from refused


def refuse_unasked_save_to(save_to: str, sink_name: str, sink: Any, output_dir: str = "") -> None:
    """``--save-to`` is the answer to the save prompt, given in advance: with a sink that
    never asks, or an output folder given (where the recording then stays, unasked), it would
    be silently ignored. Refused, before anything is opened or written."""
    if save_to and output_dir:
        raise UsageError("--save-to answers the save prompt in advance, and with an output folder "
                         f"(--output-dir or output_dir = {str(output_dir)!r}) nobody is asked: give one of them")
    if save_to and isinstance(sink, AsksWhereToSave) and not sink.asks_where_to_save:
        raise UsageError(f"--save-to answers the save prompt in advance, and sink '{sink_name}' never asks "
                         "where to save: give --output-dir DIR to record into DIR")


def checked_save_to(save_to: str) -> str:
    """``--save-to`` as an absolute path, refused now if the folder cannot take the recording."""
    path = Path(save_to).expanduser().absolute()
    if not path.exists() and (parent := saving.missing_parent(path)) is not None:
        raise UsageError(f"--save-to: {parent} does not exist: recorder creates only the last folder "
                         "of DIR (check the path, or create it first)")
    problem = saving.check_destination(path, 0)
    if problem:
        raise UsageError(f"--save-to: {problem}")
    return str(path)


def make_session_folder(host: PluginHost, sink_name: str, sink: Any, session: Session, name: str,
                        output_dir: str) -> Path:
    """The sink makes the session's folder ``name``; refused where others could write."""
    try:
        with running(host.owner(sink_name)):
            folder = sink.prepare(session, name)
    except RecorderError:
        raise
    except OSError as exc:
        where = exc.filename or output_dir or "the target folder"
        reason = exc.strerror
        if isinstance(exc, FileExistsError) and not os.path.isdir(where):
            reason = "it exists and is not a folder"
        raise UsageError(f"cannot create the session folder in {where}: {reason}") from None
    shared = shared_with_others(folder.parent)
    if shared:  # others could plant links or files where recorder writes
        folder.rmdir()
        raise UsageError(f"refusing to record into {folder.parent}: {shared}; "
                         "choose a folder only you can write to (--output-dir)")
    return folder
