"""Sink ``prompt``: record into private staging, then ask the user where to save.

The answer is remembered per profile and offered next time. If the user gives
up, the session stays in staging, listed by ``recorder list`` as unsaved, and
``recorder save SESSION DIR`` saves it later.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from recorder import catalog, hookimpl, option
from recorder.manifest import make_private_dir
from recorder.places import (
    default_save_dir,
    remember_location,
    remembered_location,
    staging_root,
)
from recorder.saving import SaveError, move_session
from recorder.ui import console

ASK = ("auto", "terminal", "dialog")


@attrs.frozen
class PromptOptions:
    ask: str = option("auto", "Which prompt: auto (the terminal when there is one), terminal, or "
                              "dialog (a folder dialog when a display is available).",
                      validator=attrs.validators.in_(ASK))
    restart_timeout: float = option(20.0, "Before a restart, seconds the user has to answer the "
                                          "terminal prompt; then the recording stays where it is.",
                                    validator=attrs.validators.ge(0))


class PromptSink:
    def __init__(self, options: PromptOptions):
        self.options = options

    def prepare(self, session, folder_name: str) -> Path:
        root = staging_root()
        make_private_dir(root.parent, exist_ok=True)
        make_private_dir(root, exist_ok=True)
        folder = root / folder_name
        make_private_dir(folder)
        return folder

    def destinations(self, session) -> list[Path]:
        """Where the session will go, so that disk guards watch it too."""
        if session.save_to:
            return [Path(session.save_to)]
        return [remembered_location(session.profile) or default_save_dir()]

    def finish(self, session) -> Path:
        default = remembered_location(session.profile) or default_save_dir()
        restarting = session.end_reason == "interrupted"
        choice = session.ask_save_location(default, self.options.ask,
                                           timeout=self.options.restart_timeout if restarting else None)
        if choice.path is None and restarting:
            session.add_event("kept", f"interrupted: the recording stays in {session.folder} until the "
                                      "session resumes")
            return session.folder
        if choice.path is None:
            return self._left_in_staging(session, "no location was chosen")
        if choice.how == "remembered":
            console().print(f"recorder: no one to ask where to save; saving to the remembered "
                            f"location {choice.path}", highlight=False)
        try:
            folder = move_session(session.folder, choice.path)
        except SaveError as exc:
            return self._left_in_staging(session, str(exc))
        # core rewrites the manifest in the new folder after finish(), with this event
        session.add_event("saved", f"saved to {choice.path} ({choice.how})")
        remember_location(session.profile, choice.path)
        catalog.moved(session.id, folder)
        return folder

    def _left_in_staging(self, session, why: str) -> Path:
        text = (f"not saved ({why}): the recording stays in {session.folder}; "
                f"save it with: recorder save {session.short_id} DIR")
        session.add_event("unsaved", text, level="warning")
        console().print(f"[yellow]recorder:[/] {text}", highlight=False)
        return session.folder


@hookimpl
def recorder_register_sinks(register):
    register("prompt", PromptSink, options=PromptOptions,
             description="staging while recording, then ask where to save (remembered per profile)")
