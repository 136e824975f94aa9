"""What the last ``recorder verify`` found for each session, so that ``list`` and
``info`` can show a session that failed it as damaged until it verifies again."""

from __future__ import annotations

from datetime import datetime, timezone

from recorder.disk.state import StateFile, state_dir

FILE = "verified.json"


def _file() -> StateFile:
    return StateFile(state_dir() / FILE)


def record(session_id: str, problems: list[str]) -> None:
    with _file().update() as entries:
        entries[session_id] = {"ok": not problems, "problems": problems[:20],
                               "at": datetime.now(timezone.utc).astimezone().isoformat()}


def last(session_id: str) -> dict | None:
    """The last verify's outcome for the session ({"ok", "problems", "at"}), or None."""
    entry = _file().read().get(session_id)
    if isinstance(entry, dict) and isinstance(entry.get("ok"), bool) and isinstance(entry.get("problems"), list):
        return entry
    return None
