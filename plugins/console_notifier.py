"""Notifier ``console``: notifications on stderr, above the live status line."""

from __future__ import annotations

from recorder import console, hookimpl

STYLES = {"info": "cyan", "warning": "bold yellow", "error": "bold red"}


class ConsoleNotifier:
    def __init__(self, options=None):
        pass

    def notify(self, notification) -> None:
        style = STYLES.get(notification.level, "")
        who = ", ".join(notification.audience)
        console().print(f"[{style}]{notification.level}[/]: {notification.text} [dim](to {who})[/]",
                        highlight=False)


@hookimpl
def recorder_register_notifiers(register):
    register("console", ConsoleNotifier, description="messages on the terminal (stderr)")
