"""The portal's restore tokens, so that the permission is asked once, not every session.

A token is single-use: each Start returns the next one, kept in place of the
last. They live in recorder's state dir (``plugins/portal/restore-tokens.json``,
0600, in a 0700 folder), one per profile and kind of request (what is shared
and how the cursor is shown): the permission is asked once per profile, and a
different request is a different permission.
"""

from __future__ import annotations

from recorder import StateFile, plugin_state_dir

FILE = "restore-tokens.json"


def _file() -> StateFile:
    return StateFile(plugin_state_dir("portal") / FILE)


def key(profile: str, source: str, cursor: str) -> str:
    return f"{profile}/{source}/{cursor}"


def load(name: str) -> str:
    value = _file().read().get(name, "")
    return value if isinstance(value, str) else ""


def store(name: str, token: str) -> None:
    with _file().update() as tokens:
        if token:
            tokens[name] = token
        else:
            tokens.pop(name, None)
