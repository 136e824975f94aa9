"""A recording's text index: started with the recording when the profile names an indexer,
fed by the encoder thread (pipeline/text_live.py), caught up and listed in session.json
when the recording ends, within ``index_catch_up`` seconds (the receipt waits for it).

Nothing here may cost the recording: an indexer that cannot be created, fails or
is too slow is named in one line and the recording goes on without it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from recorder.errors import describe
from recorder.host.isolation import running
from recorder.session import streams
from recorder.session.model import Session
from recorder.store.text_crypt import protecting_stream
from recorder.store.text_offline import PartIndexer, index_parts
from recorder.store.text_writer import IndexWriter

log = logging.getLogger("recorder")


def languages_of(options: Any) -> str:
    return str(getattr(options, "languages", "") or "")


class SessionIndexing:
    def __init__(self, host, session: Session, name: str, plugin: str, indexer: Any, writer: IndexWriter,
                 live, catch_up: float):
        self.host, self.session, self.name, self.plugin = host, session, name, plugin
        self.indexer, self.writer, self.live, self.catch_up = indexer, writer, live, catch_up
        self.deadline: float | None = None

    @classmethod
    def attach(cls, recording) -> "SessionIndexing | NoIndexing":
        """Indexing for ``recording`` (a Recording whose parts are open), fed by its parts."""
        settings = recording.settings
        found = cls.start(recording.host, recording.session, settings, recording.profile.options.get(
            settings.indexer), recording.format.width, recording.format.height) if settings.indexer else None
        if found is None:
            return NoIndexing()
        recording.parts.observer = found.see
        return found

    @classmethod
    def start(cls, host, session: Session, settings, options: Any, width: int, height: int):
        """Indexing for this recording, or None (no indexer, or one that cannot start: said in one line)."""
        from recorder.pipeline.text_live import LiveIndexer

        name = settings.indexer
        if not name:
            return None
        component = host.registry.get(name)
        plugin = component.plugin if component else "recorder"
        try:
            with running(plugin):
                indexer = component.factory(options)
            protect = None
            if session.part_wrap is not None:
                stream = streams.require(host, session.part_wrap.stream)
                if stream.protects:  # the index is kept in memory and written encrypted, as the parts are
                    protect = (stream, lambda: [p for p in session.parts if p.stream] or
                               [_planned_part(session)])
            writer = IndexWriter.open(session.folder, name, languages_of(options), protect=protect)
        except Exception as exc:  # noqa: BLE001 - the recording goes on without an index
            line = f"indexer '{name}' could not start: {describe(exc)}; the recording goes on without a text index"
            log.warning("%s", line)
            session.add_event("indexing-stopped", line, level="warning", by=plugin)
            return None
        live = LiveIndexer(session, name, plugin, indexer, writer, width, height, settings.index_cpu_share)
        return cls(host, session, name, plugin, indexer, writer, live, settings.index_catch_up)

    # -- while recording ---------------------------------------------------------------
    def see(self, picture, pts: float, rows, rects, part: str) -> None:
        self.live.see(picture, pts, rows, rects, part)

    def part_sealed(self, part) -> None:
        self.live.part_sealed(part.file, round(part.start + part.duration, 3))

    # -- the end -----------------------------------------------------------------------
    def capture_ended(self) -> None:
        """Capture has stopped: the live reader finishes what it has, without its budget."""
        self.deadline = time.monotonic() + (self.catch_up if self.regular_end() else 0.0)
        self.live.end(self.deadline)

    def regular_end(self) -> bool:
        """Stopped, or its --duration reached: time to catch up. Not a shutdown, a full disk or a
        failure, where sealing must be quick: recorder index reads the rest later."""
        return self.session.end_reason in ("duration", "user")

    def sealed(self) -> None:
        """Every part is sealed: read what live indexing skipped from the parts themselves (not
        for an encrypted session: this machine has no key), then list the index in session.json."""
        session = self.session
        deadline = self.deadline or time.monotonic() + self.catch_up
        parts = [p.file for p in session.parts if p.state == "sealed"]
        try:
            if not self.live.failed and not self.live.thread.is_alive() and self.writer.protect is None \
                    and self.regular_end():
                index_parts(session.folder, session.parts, self.host, PartIndexer(self.writer, self.indexer,
                                                                                  self.plugin),
                            keys={}, fps=0.0, deadline=deadline)
            alive = self.live.thread.is_alive()  # still reading: its index is not listed (verify knows it)
            complete = not self.live.failed and not alive and self.writer.complete_parts(parts)
            if not alive:
                session.text_index = self.writer.entry(complete)
            if not complete:
                session.add_event("index-incomplete", "the text index does not cover the whole recording yet: "
                                  "recorder index completes it", by="recorder")
        except Exception as exc:  # noqa: BLE001
            line = f"indexer '{self.name}' failed at the end: {describe(exc)}; recorder index reads the session later"
            log.warning("%s", line)
            session.add_event("indexing-stopped", line, level="warning", by=self.plugin)
        finally:
            if not self.live.thread.is_alive():
                self.writer.close()
                with running(self.plugin):
                    try:
                        self.indexer.close()
                    except Exception:  # noqa: BLE001
                        pass


class NoIndexing:
    """No indexer in the profile (or one that could not start): nothing to do."""

    def part_sealed(self, part) -> None:
        pass

    def capture_ended(self) -> None:
        pass

    def sealed(self) -> None:
        pass


def _planned_part(session: Session):
    """A part as the session's part stream will write it (its meta names the recipients)."""
    from recorder.session.model import Part

    return Part(index=0, file="", start=0.0, stream=session.part_wrap.stream,
                stream_meta=dict(session.part_wrap.meta))
