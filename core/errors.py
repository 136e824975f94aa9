"""Errors that reach the user as one line.

`UsageError` is anything the user or administrator can fix (config, profile,
plugin name, target folder): exit status 2, and nothing has been written.
`PluginError` names the plugin that failed, so a broken third-party plugin is
never mistaken for a fault of recorder itself.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_DISK_FULL = 3


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


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
