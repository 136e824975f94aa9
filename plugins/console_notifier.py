"""Notifier ``console``: notifications on stderr, above the live status line."""

from __future__ import annotations

from recorder import console, hookimpl
from rich.markup import escape

STYLES = {"info": "cyan", "warning": "bold yellow", "error": "bold red"}


class ConsoleNotifier:
    def __init__(self, options=None):
        pass

    def notify(self, notification) -> None:
        style = STYLES.get(notification.level, "")
        who = ", ".join(notification.audience)
        # the text may quote a folder name such as "Kunde [/red] Müller": never markup
        console().print(f"[{style}]{notification.level}[/]: {escape(notification.text)} [dim](to {escape(who)})[/]",
                        highlight=False)


@hookimpl
def recorder_register_notifiers(register):
    register("console", ConsoleNotifier, description="messages on the terminal (stderr)")
