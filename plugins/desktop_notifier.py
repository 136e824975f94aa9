"""Notifier ``desktop``: a desktop notification on the recording machine (notify-send,
i.e. the freedesktop notification service). Where there is no desktop session it
is silently unavailable, and says so once in the log."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

from recorder import hookimpl

log = logging.getLogger("recorder.desktop")
URGENCY = {"info": "normal", "warning": "critical", "error": "critical"}


def unavailable_because() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"desktop notifications are not supported on {sys.platform} yet"
    if shutil.which("notify-send") is None:
        return "notify-send is not installed (Debian: libnotify-bin)"
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no desktop session (DBUS_SESSION_BUS_ADDRESS is not set)"
    return None


class DesktopNotifier:
    def __init__(self, options=None):
        self.reason = unavailable_because()
        if self.reason:
            log.info("desktop notifications unavailable: %s", self.reason)

    def notify(self, notification) -> None:
        if self.reason:
            return
        try:
            subprocess.Popen(["notify-send", "--app-name=recorder", f"--urgency={URGENCY.get(notification.level, 'normal')}",
                              "Session recording", notification.text],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            self.reason = str(exc)
            log.info("desktop notifications unavailable: %s", exc)


@hookimpl
def recorder_register_notifiers(register):
    register("desktop", DesktopNotifier, description="desktop notification on this machine (notify-send)")
