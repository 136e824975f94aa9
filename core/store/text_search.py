"""Finding text that was on screen: the reading side of a session's text index.

The index (``text-index.sqlite`` beside the parts, written by store/text_index.py)
holds one row per line of text read: the text as read, its normal form
(store/text_norm.py), the part, the offset on the session's timeline and the
rectangle. A query is parsed here, never handed to SQLite as it was typed: each
word or quoted phrase becomes an FTS5 string (its quotes doubled), normalized as the
index's ``norm`` column is, so ``O``/``0`` and ``l``/``1`` meet, whatever the case;
a word ending in ``*`` is a prefix. Whatever a user types is either a query or one
line saying what is wrong with it (QueryError, a usage error): never an FTS5 syntax
error, never an expression of the user's making.

Indexes are opened read-only (``mode=ro``): searching never writes to a session folder,
and an index still being written (a session being recorded) is read as it stands.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Iterable, Iterator

import attrs
from recorder.errors import UsageError
from recorder.store.text_norm import normalize

INDEX_FILE = "text-index.sqlite"
FORMAT = 1  # PRAGMA user_version of the index format read here
MAX_QUERY = 1000  # characters: a query is words someone saw on a screen, not a document
MAX_TERMS = 32
SNIPPET = 100  # characters of a line shown around the match
# a "quoted phrase" (a * right after it: its last word a prefix), or a word (prefix*)
_TOKENS = re.compile(r'"([^"]*)"(\*?)|([^\s"]+)')


class QueryError(UsageError):
    """A query that cannot be searched for (one line, exit 2)."""


class IndexUnreadable(Exception):
    """An index file that is not a text index recorder can read (named in one line, then skipped)."""


@attrs.frozen
class Term:
    """A word or a quoted phrase of the query, in normal form; ``prefix``: its last word is a prefix."""

    words: str
    prefix: bool = False

    def fts(self) -> str:
        return '"' + self.words.replace('"', '""') + '"' + ("*" if self.prefix else "")


@attrs.frozen
class Query:
    text: str  # as typed
    terms: tuple[Term, ...]

    def match(self) -> str:
        """The FTS5 expression: every term in the ``norm`` column of the same line."""
        return "norm : (" + " ".join(term.fts() for term in self.terms) + ")"


def _searchable(words: str) -> bool:
    # the index's tokenizer (unicode61) keeps letters and digits only: anything else separates
    return any(char.isalnum() for char in words)


def parse_query(text: str) -> Query:
    """``text`` as typed (words, "quoted phrases", prefix*), or QueryError naming what is wrong."""
    if "\0" in text:
        raise QueryError("the query holds a NUL character")
    if len(text) > MAX_QUERY:
        raise QueryError(f"the query is {len(text)} characters long: at most {MAX_QUERY}")
    if text.count('"') % 2:
        raise QueryError(f"the query {text!r} has an unclosed quote: a phrase is \"two words\"")
    terms = []
    for phrase, star, word in _TOKENS.findall(text):
        if word:
            terms.append(Term(normalize(word.rstrip("*")), word.endswith("*")))
        else:
            terms.append(Term(normalize(phrase), bool(star)))
    terms = [term for term in terms if _searchable(term.words)]
    if not terms:
        raise QueryError(f"the query {text!r} has no letter or digit to search for")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"the query has {len(terms)} words and phrases: at most {MAX_TERMS}")
    return Query(text, tuple(terms))


@attrs.frozen
class Seen:
    """One line of text read at one moment: a hit."""

    text: str
    part: str
    offset: float
    rect: tuple[int, int, int, int]
    confidence: float

    def to_dict(self) -> dict:
        return {"text": self.text, "part": self.part, "offset": self.offset, "rect": list(self.rect),
                "confidence": self.confidence}


def open_plain(path: Path) -> sqlite3.Connection:
    """The index at ``path`` opened read-only and checked to be one (IndexUnreadable otherwise)."""
    try:
        db = sqlite3.connect(Path(os.path.abspath(path)).as_uri() + "?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise IndexUnreadable(f"{path}: cannot be opened ({exc})") from None
    return checked(db, path)


def check(db: sqlite3.Connection, path: Path | str) -> None:
    """IndexUnreadable unless ``db`` is a text index of the format read here."""
    # One statement (a search opens a thousand indexes): a file that is no index has no
    # user_version (0) or fails here; one without the table fails its query, named then.
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise IndexUnreadable(f"{path}: not a text index ({exc})") from None
    if version == 0:
        raise IndexUnreadable(f"{path}: not a text index (an empty or foreign SQLite file)")
    if version != FORMAT:
        raise IndexUnreadable(f"{path}: a text index of format {version}, which this recorder does not read "
                              f"(it reads format {FORMAT})")


def find(db: sqlite3.Connection, query: Query, where: Path | str = "") -> list[Seen]:
    """Every line of the index matching ``query``, in the order they were seen."""
    try:
        rows = db.execute('SELECT text, part, "offset", x, y, w, h, confidence FROM seen WHERE seen MATCH ? '
                          'ORDER BY "offset"', (query.match(),)).fetchall()
    except sqlite3.DatabaseError as exc:  # a damaged file: the query itself is always well formed
        raise IndexUnreadable(f"{where}: cannot be searched ({exc})") from None
    return [Seen(str(text), str(part), _number(offset), (_int(x), _int(y), _int(w), _int(h)), _number(conf))
            for text, part, offset, x, y, w, h, conf in rows]


def entries(db: sqlite3.Connection, where: Path | str = "") -> list[dict]:
    """Every line of the index, for the replay page's own search (its text, normal form, time, rectangle)."""
    try:
        rows = db.execute('SELECT text, norm, "offset", x, y, w, h FROM seen ORDER BY "offset"').fetchall()
    except sqlite3.DatabaseError as exc:
        raise IndexUnreadable(f"{where}: cannot be read ({exc})") from None
    return [{"text": str(text), "norm": str(norm), "t": _number(offset), "rect": [_int(x), _int(y), _int(w), _int(h)]}
            for text, norm, offset, x, y, w, h in rows]


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def snippet(text: str, query: Query, width: int = SNIPPET) -> str:
    """``text`` (one line as read) cut to about ``width`` characters around the first term found."""
    if len(text) <= width:
        return text
    # where each character of the normal form came from (casefold may turn one into two: ß -> ss)
    origin = [index for index, char in enumerate(text) for _ in normalize(char)]
    norm = normalize(text)
    found = min((at for term in query.terms if (at := norm.find(term.words.split()[0] if term.words.split()
                                                                 else term.words)) >= 0), default=0)
    centre = origin[found] if found < len(origin) else 0
    start = max(0, min(centre - width // 3, len(text) - width))
    cut = text[start:start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")


def search(indexes: Iterable[tuple[str, sqlite3.Connection]], query: Query) -> Iterator[tuple[str, Seen]]:
    """(name, hit) for every hit in each named, opened index (closed once searched)."""
    for name, db in indexes:
        try:
            hits = find(db, query, name)
        finally:
            db.close()
        for seen in hits:
            yield name, seen


class NeedsKey(Exception):
    """An encrypted index and no key for it: ``args[0]`` says to whom it is encrypted."""


def open_session_index(folder: Path, host=None, keys: dict | None = None) -> sqlite3.Connection | None:
    """The text index of the session in ``folder``, read-only and checked, or None when it has
    none. An encrypted one is opened with ``keys`` (``streams.load_every_key``): without a key
    for it NeedsKey; one that does not open or is not an index, IndexUnreadable."""
    from recorder.store import text_index

    if os.path.isfile(folder / INDEX_FILE):  # the common case, without listing the folder
        return open_plain(folder / INDEX_FILE)
    path = text_index.index_file(folder)
    if path is None:
        return None
    if path.name == INDEX_FILE:
        return open_plain(path)
    if not keys:
        raise NeedsKey(_encrypted_to(folder, host) or f"{path.name} is encrypted")
    try:
        db = text_index.open_index(folder, host=host, keys=keys)
    except UsageError as exc:
        raise NeedsKey(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a wrong key, a damaged file: named, the other sessions searched
        raise IndexUnreadable(f"{path}: cannot be opened with the key given ({exc})") from None
    return None if db is None else checked(db, path)


def checked(db: sqlite3.Connection, path: Path) -> sqlite3.Connection:
    """``db``, once ``check`` says it is a text index; closed (and IndexUnreadable) otherwise."""
    try:
        check(db, path)
    except IndexUnreadable:
        db.close()
        raise
    return db


def _encrypted_to(folder: Path, host) -> str:
    from recorder.session import manifest as manifests, streams

    try:
        return "; ".join(streams.protected(manifests.read(folder), host))
    except Exception:  # noqa: BLE001 - only words for a message
        return ""
