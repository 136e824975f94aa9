"""Sink ``prompt``: record into private staging, then ask the user where to save.

The answer is remembered per profile and offered next time; when nobody can
be asked (no terminal), the session goes there too, or to the default folder
(Documents/SessionRecordings) if no one ever answered, and the message says
which. Only an answer given at the prompt (terminal or dialog) is remembered:
``--save-to DIR`` and ``recorder save SESSION DIR`` choose for one session, and a
folder used once that way must not become where every unattended run goes.
If the user gives up, the session stays in staging, listed by ``recorder
list`` as unsaved, and ``recorder save SESSION DIR`` saves it later. With
``--output-dir`` the session is recorded there directly and nobody is asked.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from recorder import SaveError, hookimpl, make_private_dir, move_session, option, recordings_dir
from recorder.plugins.prompt.locations import remember_location, remembered_location, staging_root

ASK = ("auto", "terminal", "dialog")
ANSWERED = ("asked", "dialog")  # how a SaveChoice a person gave at a prompt says so: remembered


@attrs.frozen
class PromptOptions:
    ask: str = option("auto", "Which prompt: auto (the terminal when there is one), terminal, or "
                              "dialog (a folder dialog when a display is available).",
                      validator=attrs.validators.in_(ASK))
    restart_timeout: float = option(20.0, "Before a restart, seconds the user has to answer the "
                                          "terminal prompt; then the recording stays where it is.",
                                    validator=[attrs.validators.ge(0), attrs.validators.le(3600)])


def _default(session) -> Path:
    return remembered_location(session.profile) or recordings_dir()


class PromptSink:
    def __init__(self, options: PromptOptions):
        self.options = options

    def prepare(self, session, folder_name: str) -> Path:
        if session.output_dir:  # the place is given: nothing to ask
            root = Path(session.output_dir).expanduser()
            make_private_dir(root, exist_ok=True)
        else:
            root = staging_root()
            session.add_event("staged", "recording into staging; where to save is asked at the end")
        folder = root / folder_name
        make_private_dir(folder)
        return folder

    def destinations(self, session) -> list[Path]:
        """Where the session will go, so that disk guards watch it too."""
        if session.output_dir:
            return []
        return [Path(session.save_to)] if session.save_to else [_default(session)]

    def finish(self, session) -> Path:
        if session.output_dir:
            return session.folder
        restarting = session.end_reason == "interrupted"
        choice = session.ask_save_location(_default(session), self.options.ask,
                                           timeout=self.options.restart_timeout if restarting else None)
        if choice.path is None and restarting:
            session.add_event("kept", f"interrupted: the recording stays in {session.folder} until the "
                                      "session resumes")
            return session.folder
        if choice.path is None:
            return self._left_in_staging(session, "no location was chosen")
        how = choice.how
        if how == "remembered":
            if remembered_location(session.profile) is None:
                how = "default"  # nobody ever answered: it is the default, not a memory
            self._tell_user(session, "info", f"no one to ask where to save; saving to the {how} "
                                             f"location {choice.path}")
        try:
            folder = move_session(session.folder, choice.path)
        except SaveError as exc:
            return self._left_in_staging(session, str(exc))
        # core rewrites the manifest in the new folder after finish(), with this event
        session.add_event("saved", f"saved to {choice.path} ({how})")
        if how in ANSWERED:
            remember_location(session.profile, choice.path)
        return folder

    def _left_in_staging(self, session, why: str) -> Path:
        text = (f"not saved ({why}): the recording stays in {session.folder}; "
                f"save it with: recorder save {session.short_id} DIR")
        session.add_event("unsaved", text, level="warning")
        self._tell_user(session, "warning", text)
        return session.folder

    @staticmethod
    def _tell_user(session, level: str, text: str) -> None:
        # Only the person at this machine: the text names its folders.
        session.notify(level, text, audience=(session.role,))


@hookimpl
def recorder_register_sinks(register):
    register("prompt", PromptSink, options=PromptOptions,
             description="staging while recording, then ask where to save (remembered per profile)")


@hookimpl
def recorder_session_roots():
    return [staging_root()]

