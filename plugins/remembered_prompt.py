"""Fallback save prompt for when nobody can be asked (no terminal, e.g. a service):
``default`` once, which is the location remembered for the profile or, if nobody
ever answered a prompt, the default folder; the sink says which in the log and
the manifest.

There is deliberately no such fallback for consent (``recorder_prompt_consent``):
when nobody can be asked, nobody said yes, and nothing is recorded."""

from __future__ import annotations

from recorder import SaveChoice, hookimpl


@hookimpl(trylast=True)
def recorder_prompt_save_location(session, default, problem, prefer, timeout):
    # A refused remembered location cannot be fixed without a person, and before
    # a restart nothing is moved without one: give up, the recording stays put.
    answer = default if problem is None and timeout is None else None
    return SaveChoice(answer, "remembered")
