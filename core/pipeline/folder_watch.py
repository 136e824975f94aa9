"""The session folder taken away while recording: deleted, replaced by another, or made
unwritable. Checked every tick; the recording then ends and is kept in a private folder of
recorder's own (``rescue``), with everything still readable."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from recorder.pipeline.ending import FOLDER_LOST, end_with
from recorder.pipeline.parts import Parts
from recorder.session import manifest as manifests
from recorder.session.model import Session
from recorder.disk.files import make_private_dir
from recorder.disk.state import data_dir


def identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class FolderWatch:
    def __init__(self) -> None:
        self.lost: str | None = None  # what became of the folder, once it is lost
        self._identity: tuple[int, int] | None = None
        self._touched = 0.0  # when a paused session's manifest was last touched

    def remember(self, folder: Path) -> None:
        """The folder as recording begins: another one in its place later is a loss."""
        self._identity = identity(folder)

    def problem(self, folder: Path) -> str | None:
        """Why the session folder can no longer take the recording."""
        now = identity(folder)
        if now is None:
            return "was deleted"
        if self._identity is not None and now != self._identity:
            return "was replaced by another folder"
        if not os.access(folder, os.W_OK):
            return "can no longer be written to"
        return None

    def check(self, session: Session) -> None:
        """Every tick: the folder lost ends the recording; while paused the manifest is touched."""
        if session.paused is not None:
            self._touch_manifest(session.folder)
        if not self.lost:
            problem = self.problem(session.folder)
            if problem:
                self.lose(session, problem)

    def _touch_manifest(self, folder: Path | None) -> None:
        """While paused nothing is written: the manifest's time says how long the pause
        lasted if the recorder is killed during it (crash recovery reads it)."""
        now = time.monotonic()
        if now - self._touched >= 1.0 and folder is not None:
            self._touched = now
            try:
                os.utime(folder / manifests.MANIFEST)
            except OSError:
                pass

    def lose(self, session: Session, problem: str) -> None:
        self.lost = f"{session.folder} {problem}"
        session.notify("error", f"The folder the recording is written to, {self.lost}: the "
                                "recording is ended, and what was recorded is kept in recorder's "
                                "own folder (recorder list shows where).",
                       audience=(session.role,), by="recorder")
        end_with(session, FOLDER_LOST, "recorder", self.lost)

    def rescue(self, session: Session, parts: Parts, manifest_lock: threading.Lock) -> None:
        """Go on in a private folder of recorder's own, with everything still readable."""
        if not self.lost:
            self.lose(session, self.problem(session.folder) or "was lost")
        rescue = data_dir() / "rescued" / session.folder.name
        make_private_dir(rescue.parent, exist_ok=True)
        make_private_dir(rescue)
        old = session.folder  # named in the event: recovery reconciles it with the copy when it is back
        with manifest_lock:
            lost = parts.relocate(rescue)
        session.places = [rescue]
        session.add_event("rescued", f"{self.lost}: the recording continues in {rescue}"
                          + (f"; lost with it: {', '.join(lost)}" if lost else ""), level="error",
                          by="recorder", lost=lost, folder=str(old))
