"""The replay page's search box: the session's text index given to the page (search.js,
inlined: the page is a local file whose content security policy loads no script file).

Only what this command could read goes in: a plain index as it is, an encrypted one
only when ``play --identity`` opened it (the page then lives in memory with the parts).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from recorder.store import text_search


def entries(folder: Path, host=None, keys: dict | None = None) -> tuple[list[dict], str]:
    """Every line of the session's text index (text, norm, t, rect), and why there are none
    when the index cannot be read ("": it can, or the session has none)."""
    try:
        db = text_search.open_session_index(folder, host, keys)
    except (text_search.NeedsKey, text_search.IndexUnreadable) as exc:
        return [], str(exc)
    if db is None:
        return [], ""
    try:
        return text_search.entries(db, folder / text_search.INDEX_FILE), ""
    except text_search.IndexUnreadable as exc:
        return [], str(exc)
    finally:
        db.close()


def with_search(page: str, lines: list[dict], at: float | None = None, query: str = "") -> str:
    """``page`` (replay.page_html) with its search box over ``lines``, opening at ``at``
    (seconds on the timeline) with ``query`` already searched."""
    from recorder.playback.replay import script_json

    script = files("recorder.playback").joinpath("search.js").read_text(encoding="utf-8")
    data = script_json({"entries": lines, "at": at, "query": query})
    return page.replace("</body>", f"<script>\nconst TEXT = {data};\n{script}</script>\n</body>", 1)
