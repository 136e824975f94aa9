"""Consent before recording: the question, the answer, and what each side is told.

A profile with ``consent = "required"`` records nothing until the person at
this machine says yes through a prompt plugin (``recorder_prompt_consent``).
Anything else is no: a no, no answer in time, no prompt able to ask, a prompt
that fails or answers something unexpected. Privacy is the side to err on.

These texts reach the customer's screen and the support tool's chat, so they
name nothing of either machine: no host, user, folder or path.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

ANSWERS = ("yes", "no", "no-answer")  # what a prompt may answer; "no-prompt" is core's own
END_REASON = "no-consent"  # in the control channel's "ended" message: nothing was recorded


@attrs.frozen
class Answer:
    answer: str  # yes, no, no-answer, no-prompt
    how: str = ""  # the prompt's word for how it asked ("terminal", "dialog"); empty if none asked

    @property
    def given(self) -> bool:
        return self.answer == "yes"


def question(resumed: bool, timeout: float) -> str:
    """What the person at this machine is asked (a customer, typically)."""
    if resumed:
        ask = ("The support session would like to go on recording this screen, continuing the recording "
               "made before the interruption. Nothing more is recorded unless you agree.")
    else:
        ask = ("The support session would like to record this screen. Nothing is recorded unless "
               "you agree.")
    return f"{ask} May the screen be recorded? (No answer within {timeout:g} s counts as no.)"


def checked(result: Any) -> Answer:
    """The hook's result as an Answer; anything unexpected counts as no."""
    if result is None:
        return Answer("no-prompt")
    try:
        answer, how = result
    except (TypeError, ValueError):
        return Answer("no", "an unreadable answer")
    if answer not in ANSWERS or not isinstance(how, str):
        return Answer("no", "an unreadable answer")
    return Answer(answer, how[:64])


def ask(prompt: Callable[..., Any], session, prefer: str, timeout: float) -> Answer:
    """Ask through ``prompt`` (the hook), with the request and the answer on the
    session's timeline. Core keeps them off the disk until the answer is yes."""
    who = session.role
    text = question(session.resumed, timeout)
    session.add_event("consent-requested", f"asking the {who} for consent to record", by="recorder",
                      who=who, timeout=timeout, question=text)
    answer = checked(prompt(question=text, prefer=prefer, timeout=timeout))
    details = {"who": who, "answer": answer.answer, "how": answer.how, "question": text}
    by = who if answer.answer in ("yes", "no") else "recorder"
    if answer.given:
        session.add_event("consent", f"the {who} agreed to the recording ({answer.how})", by=by, **details)
        session.notify("info", f"The {who} agreed to the recording; recording starts.", by="recorder")
    else:
        session.add_event("consent-declined", declined(who, answer, timeout), by=by, level="warning",
                          **details)
        session.notify("warning", f"{declined(who, answer, timeout)}.", by="recorder")
    return answer


def declined(who: str, answer: Answer, timeout: float) -> str:
    """Why nothing is recorded, for both sides and the exit line."""
    if answer.answer == "no-answer":
        return f"The {who} did not answer the recording question within {timeout:g} s: nothing is recorded"
    if answer.answer == "no-prompt":
        return (f"The {who} could not be asked for consent (no terminal or display to ask on): "
                "nothing is recorded")
    return f"The {who} declined the recording: nothing is recorded"
