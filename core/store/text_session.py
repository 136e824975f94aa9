"""``recorder index`` for one session: read its sealed parts into its text index, from where
the last run stopped, and list the index in session.json when every part is read.

A plaintext session's index is the SQLite file itself (each step a transaction: a kill
-9 loses at most the step it cut). An encrypted session needs the key (its parts are
read with it); its index is decrypted into memory, added to, and written whole,
encrypted, every ``FLUSH_EVERY`` seconds and at the end: a kill loses at most that.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from recorder.errors import UsageError
from recorder.host.isolation import running
from recorder.session import manifest as manifests
from recorder.session import streams
from recorder.store import text_crypt, text_index
from recorder.store.text_offline import PartIndexer, index_parts
from recorder.store.text_writer import IndexWriter

FLUSH_EVERY = 20.0  # seconds: an encrypted index is written whole this often while it grows
DEFAULT_INDEXER = "tesseract"


def make_indexer(host, name: str):
    component = host.registry.get(name)
    if component is None or component.kind != "indexer":
        available = ", ".join(sorted(c.name for c in host.registry.of_kind("indexer"))) or "none"
        raise UsageError(f"--indexer {name!r} is not a registered indexer (available: {available})")
    options = component.options() if component.options else None
    with running(component.plugin):
        return component.factory(options), component.plugin, str(getattr(options, "languages", "") or "")


def index_session(folder: Path, host, *, indexer_name: str | None, identity: str | None,
                  keys: dict[str, Any] | None = None) -> tuple[bool, str]:
    """Index the session in ``folder``; (complete, a line saying what was done)."""
    manifest = manifests.read(folder)
    found = text_crypt.protecting_stream(host, manifest.parts)
    existing = text_index.index_file(folder)
    if found is not None and not (identity or keys):
        _, stream, parts = found
        raise UsageError(f"session {manifest.session_id[:8]} is {stream.describe(parts)}: indexing it reads "
                         "its parts: give --identity FILE")
    if found is not None and keys is None:
        keys = streams.load_keys(manifest, host, identity)
    keys = keys or {}
    serialized = None
    if found is not None and existing is not None:
        serialized = text_crypt.decrypt(folder, existing, identity, host=host, keys=keys)
    name = indexer_name or (manifest.text_index.engine if manifest.text_index else "") or DEFAULT_INDEXER
    indexer, plugin, languages = make_indexer(host, name)
    protect = (found[1], found[2]) if found is not None else None
    writer = IndexWriter.open(folder, name, languages, protect=protect, serialized=serialized)
    flushed = [time.monotonic()]

    def on_screen(offset: float) -> None:
        if protect is not None and time.monotonic() - flushed[0] > FLUSH_EVERY:
            writer.flush()
            flushed[0] = time.monotonic()

    try:
        index_parts(folder, manifest.parts, host, PartIndexer(writer, indexer, plugin), keys=keys,
                    fps=manifest.fps, on_screen=on_screen)
        sealed = [p.file for p in manifest.parts if p.state == "sealed"]
        complete = writer.complete_parts(sealed)
        entry = writer.entry(complete)
    finally:
        writer.close()
        with running(plugin):
            indexer.close()
    manifest = manifests.read(folder)  # as it is now: nothing else of it changes
    if manifest.text_index != entry:
        manifest.text_index = entry
        manifests.write(folder, manifest)
        # session.json changed after its session ended: the signing plugin signs it again,
        # the archive sends it and the index again
        host.call("recorder_session_indexed", session=manifests.to_session(manifest, folder))
    lines = writer_lines(folder, entry.file)
    return complete, f"session {manifest.session_id[:8]}: {'indexed' if complete else 'partly indexed'} ({lines})"


def writer_lines(folder: Path, file: str) -> str:
    if file != text_index.INDEX_FILE:
        return f"{file}, encrypted"
    db = text_index.open_index(folder)
    try:
        count = db.execute("SELECT count(*) FROM seen").fetchone()[0]
    finally:
        db.close()
    return f"{count} line(s) of text"
