"""Writing a session's text index, one step at a time, each step safe to be cut by a kill.

A step is a settled screen's lines and how far that brings the part (its
``progress`` row), in one SQLite transaction: after a kill -9 the index holds
every step that was committed and nothing of the one cut short, and indexing
resumes from the part's ``indexed_to``. An encrypted session's index lives in
memory and is written whole, encrypted, by ``flush`` (store/text_crypt.py).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable

from recorder.disk.files import sha256_file
from recorder.session.model import TextIndexEntry
from recorder.store import text_crypt, text_index
from recorder.store.text_norm import normalize
from recorder.values import TextSeen


class IndexWriter:
    def __init__(self, folder: Path, db: sqlite3.Connection, engine: str, protect: tuple[Any, list] | None):
        self.folder, self.db, self.engine = folder, db, engine
        self.protect = protect  # (part stream, the parts it protects): the index is kept in memory
        self.dirty = False
        self.lock = threading.RLock()  # the indexing thread and the sealer's (part_sealed) both step

    @classmethod
    def open(cls, folder: Path, engine: str, languages: str, *, protect: tuple[Any, list] | None = None,
             serialized: bytes | None = None) -> "IndexWriter":
        """The session's index, to add to: the file beside the parts, or (``protect``) in memory,
        from ``serialized`` (an encrypted index decrypted) or new."""
        if protect is not None:
            return cls(folder, text_index.in_memory(engine, languages, serialized), engine, protect)
        return cls(folder, text_index.open_for_writing(folder / text_index.INDEX_FILE, engine, languages),
                   engine, None)

    def progress(self, part: str) -> tuple[float, bool] | None:
        """(indexed_to, complete) of ``part``, or None when nothing of it was indexed."""
        row = self.db.execute("SELECT indexed_to, complete FROM progress WHERE part = ?", (part,)).fetchone()
        return (row[0], bool(row[1])) if row else None

    def step(self, part: str, offset: float, seen: Iterable[TextSeen], *, indexed_to: float | None,
             complete: bool = False, forget_after: float | None = None) -> None:
        """One settled screen at ``offset``: its lines, and (``indexed_to``) how far every settled
        screen of ``part`` has now been read; ``forget_after``: first drop the part's rows after
        that offset (what a resumed run reads again). One transaction."""
        with self.lock:
            self._step(part, offset, seen, indexed_to, complete, forget_after)

    def _step(self, part, offset, seen, indexed_to, complete, forget_after) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if forget_after is not None:
                db.execute("DELETE FROM seen WHERE part = ? AND offset > ?", (part, forget_after))
            db.executemany("INSERT INTO seen(text, norm, part, offset, x, y, w, h, confidence) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(line.text, normalize(line.text), part, round(offset, 3), line.x, line.y, line.w,
                             line.h, round(line.confidence, 3)) for line in seen])
            if indexed_to is not None or complete:
                known = self.progress(part)
                to = indexed_to if indexed_to is not None else (known[0] if known else offset)
                db.execute("INSERT OR REPLACE INTO progress(part, indexed_to, complete) VALUES (?, ?, ?)",
                           (part, round(to, 3), int(complete)))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.dirty = True

    def complete_parts(self, parts: Iterable[str]) -> bool:
        """Whether every one of ``parts`` has been read to its end."""
        return all((self.progress(part) or (0.0, False))[1] for part in parts)

    def flush(self) -> None:
        """An encrypted session's index written (whole, encrypted) as it is now; a no-op otherwise."""
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        if self.protect is not None and self.dirty:
            stream, parts = self.protect
            parts = parts() if callable(parts) else parts  # a recording's: those sealed so far
            text_crypt.write_encrypted(self.folder, stream, parts, text_crypt.serialize(self.db))
            self.dirty = False

    def entry(self, complete: bool) -> TextIndexEntry:
        """session.json's ``text_index`` for the index as written now (flushed first)."""
        self.flush()
        path = text_index.index_file(self.folder)
        return TextIndexEntry(path.name, sha256_file(path), path.stat().st_size, self.engine, complete)

    def close(self) -> None:
        self.flush()
        self.db.close()
