"""Errors that reach the user as one line.

`UsageError` is anything the user or administrator can fix (config, profile,
plugin name, target folder): exit status 2, and nothing has been written.
`PluginError` names the plugin that failed, so a broken third-party plugin is
never mistaken for a fault of recorder itself. `NoConsent` is no fault at all:
the profile requires consent and it was not given, so nothing was recorded.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_DISK_FULL = 3
EXIT_NO_CONSENT = 4  # consent required and not given (declined, no answer, no way to ask): nothing written


class RecorderError(Exception):
    exit_code = EXIT_RUNTIME


class UsageError(RecorderError):
    exit_code = EXIT_USAGE


class PluginError(RecorderError):
    exit_code = EXIT_USAGE

    def __init__(self, plugin: str, where: str, exc: BaseException):
        self.plugin = plugin
        self.where = where
        self.exc = exc
        super().__init__(f'plugin "{plugin}" failed in {where}: {describe(exc)}')


class SourceUnavailable(RecorderError):
    """A source cannot grab the screen for a moment (Windows' secure desktop or lock
    screen, a display being reconfigured). Core records a gap, says so in an event,
    and tries again; the session goes on. Any other exception from ``grab`` ends it."""


class NoConsent(RecorderError):
    """The person at the machine did not agree to be recorded; ``answer`` says how
    (``no``, ``no-answer``, ``no-prompt``). Not an error: a decision, kept by writing nothing."""

    exit_code = EXIT_NO_CONSENT

    def __init__(self, answer: str, text: str):
        self.answer = answer
        super().__init__(text)


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
