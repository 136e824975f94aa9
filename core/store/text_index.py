"""The text seen on a session's screen: ``text-index.sqlite`` beside its parts (SQLite, FTS5).

One row of ``seen`` per line of text an indexer read on a settled screen: the
text, its normal form (``text_norm.normalize``, what queries match), the part
and the offset on the session's timeline, where on the screen, how sure.
``progress`` says, per part, up to which offset every settled screen has been
read, so that indexing resumes where a crash or kill stopped it: each step is
one SQLite transaction (its rows and its progress together, or neither).

An encrypted session's index never reaches the disk in the clear: it is built
in memory, serialized and written through the session's part stream as
``text-index.sqlite.age``; ``open_index`` with the key decrypts it into memory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from recorder.disk.files import create_private_file

INDEX_FILE = "text-index.sqlite"
FORMAT = 1
SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE progress(part TEXT PRIMARY KEY, indexed_to REAL NOT NULL, complete INTEGER NOT NULL);
CREATE VIRTUAL TABLE seen USING fts5(text, norm, part UNINDEXED, offset UNINDEXED,
    x UNINDEXED, y UNINDEXED, w UNINDEXED, h UNINDEXED, confidence UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2');
"""


def create_schema(db: sqlite3.Connection, engine: str, languages: str) -> None:
    """An empty index: the tables, ``user_version`` 1 and what wrote it, in one transaction."""
    meta = "".join(f"INSERT INTO meta(key, value) VALUES ('{key}', '{value.replace(chr(39), '')}');"
                   for key, value in (("engine", engine), ("languages", languages), ("format", str(FORMAT))))
    db.executescript("BEGIN;" + SCHEMA + meta + f"PRAGMA user_version = {FORMAT}; COMMIT;")


def open_for_writing(path: Path, engine: str, languages: str) -> sqlite3.Connection:
    """The index at ``path`` (a plaintext session's), created 0600 from the first byte if missing."""
    fresh = not path.exists()
    if fresh:
        create_private_file(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = DELETE")  # the journal is created with the file's own mode
    if fresh or db.execute("PRAGMA user_version").fetchone()[0] == 0:
        create_schema(db, engine, languages)
    return db


def in_memory(engine: str, languages: str, serialized: bytes | None = None) -> sqlite3.Connection:
    """An index that lives in memory only (an encrypted session's): new, or ``serialized``."""
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA temp_store = MEMORY")  # no temporary file of it on disk either
    if serialized:
        db.deserialize(serialized)
    else:
        create_schema(db, engine, languages)
    return db


def encrypted_name(suffix: str) -> str:
    return INDEX_FILE + suffix


def index_file(folder: Path) -> Path | None:
    """The session's index file (plaintext or encrypted), or None."""
    for path in sorted(folder.glob(INDEX_FILE + "*")):
        if path.name == INDEX_FILE or (path.name.startswith(INDEX_FILE + ".") and not path.name.endswith(
                ("-journal", "-wal", "-shm", ".tmp"))):
            return path
    return None


def open_index(folder: Path, identity: str | None = None, *, host: Any = None,
               keys: dict[str, Any] | None = None) -> sqlite3.Connection | None:
    """The session's index, read-only, or None when it has none.

    Encrypted (``text-index.sqlite.age``): decrypted into memory with ``identity`` (an
    ``--identity`` reference) or ``keys`` (``recorder.session.streams.load_every_key``, for
    many sessions at once); without either, ``recorder.UsageError`` naming what is needed."""
    folder = Path(folder)
    path = index_file(folder)
    if path is None:
        return None
    if path.name == INDEX_FILE:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    from recorder.store import text_crypt

    data = text_crypt.decrypt(folder, path, identity, host=host, keys=keys)
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.deserialize(data)
    db.execute("PRAGMA temp_store = MEMORY")
    db.execute("PRAGMA query_only = ON")
    return db


def file_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def check_listed(folder: Path, entry) -> tuple[list[str], list[str], set[str]]:
    """``recorder verify`` of session.json's ``text_index``: (ok lines, problems, the file names it accounts for)."""
    from recorder.disk.files import sha256_file

    if entry is None:
        found = index_file(folder)  # written, not listed yet: indexing under way, or cut short
        names = {found.name, found.name + "-journal"} if found else set()
        return [], [], names
    path = folder / entry.file
    names = {entry.file, entry.file + "-journal"}
    if not path.is_file():
        return [], [f"{entry.file} is missing (session.json lists it as the text index)"], names
    if sha256_file(path) != entry.sha256:
        return [], [f"{entry.file}: SHA-256 does not match session.json (changed since it was listed: "
                    "recorder index SESSION lists it again)"], names
    return [f"{entry.file}: SHA-256 ok, text index by {entry.engine}" +
            ("" if entry.complete else ", partial: recorder index completes it")], [], names
