"""Which sessions the archive serves and which of their files arrived.

The queue says what is still to upload; the ledger says what already did. With
both, a start after a crash finds what neither holds (a part sealed by crash
recovery, or sealed just before a kill -9 and never queued) and queues it.
"""

from __future__ import annotations

from recorder import StateFile, plugin_state_dir


def _file() -> StateFile:
    return StateFile(plugin_state_dir("archive") / "ledger.json")


def serve(session_id: str, prefix: str, target: dict[str, str]) -> None:
    with _file().update() as sessions:
        entry = sessions.get(session_id) if isinstance(sessions.get(session_id), dict) else {}
        sessions[session_id] = {"prefix": prefix, "target": target, "uploaded": entry.get("uploaded", []),
                                "held": entry.get("held") is True}


def set_held(session_id: str, held: bool) -> None:
    """The session is under a legal hold (its objects get one as they arrive), or no longer."""
    with _file().update() as sessions:
        entry = sessions.get(session_id)
        if isinstance(entry, dict):
            entry["held"] = held


def held(session_id: str) -> bool:
    entry = _file().read().get(session_id)
    return isinstance(entry, dict) and entry.get("held") is True


def arrived(session_id: str, name: str, sha256: str) -> None:
    with _file().update() as sessions:
        entry = sessions.get(session_id)
        if isinstance(entry, dict):
            entry["uploaded"] = [u for u in entry.get("uploaded", []) if u[0] != name] + [[name, sha256]]


def sessions() -> dict[str, dict]:
    return {sid: entry for sid, entry in _file().read().items()
            if isinstance(entry, dict) and isinstance(entry.get("prefix"), str)
            and isinstance(entry.get("target"), dict) and isinstance(entry.get("uploaded"), list)}
