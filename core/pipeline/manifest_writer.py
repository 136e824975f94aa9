"""Writing a recording's session.json (and its journal line) at every event, part and end.

The encoder and sealer threads write it as well as the main thread, hence one lock.
A write that fails must not crash the recording: a full disk ends it as disk-full,
a lost folder as folder-lost, and the previous manifest stays for crash recovery.
"""

from __future__ import annotations

import logging
import threading

from recorder.config.profile import ProfileSettings
from recorder.pipeline.ending import DISK_FULL, end_with, is_disk_full
from recorder.pipeline.folder_watch import FolderWatch
from recorder.session import journal, manifest as manifests
from recorder.session.model import Session
from recorder.values import VideoFormat

log = logging.getLogger("recorder")


class ManifestWriter:
    def __init__(self, settings: ProfileSettings, watch: FolderWatch):
        self.settings, self.watch = settings, watch
        self.lock = threading.Lock()

    def write(self, session: Session, video: VideoFormat) -> None:
        full = lost = None
        with self.lock:
            try:
                self._write(session, video)
            except OSError as exc:
                if is_disk_full(exc):
                    full = exc
                else:
                    lost = self.watch.lost or self.watch.problem(session.folder)  # rescued before sealing
                    if lost is None:
                        raise
                if not self.watch.lost:
                    log.error("cannot write %s/session.json: %s", session.folder, exc)
        if lost is not None and not self.watch.lost:
            self.watch.lose(session, lost)
        if full is not None and session.end_reason != DISK_FULL:
            end_with(session, DISK_FULL, "recorder", "the disk filled up: session.json could not be written")

    def _write(self, session: Session, video: VideoFormat) -> None:
        if session.folder is None:
            return
        # Written before the manifest: a crash between the two must never make a
        # complete session look like one to recover and resume.
        journal.write(session, manifests.state_of(session))
        s = self.settings
        manifests.write(session.folder, manifests.from_session(
            session,
            video=manifests.Video(video.width, video.height, s.fps, s.encoder),
            components=manifests.Components(s.source, s.encoder, s.sink, list(s.guards), list(s.notifiers)),
            notifier_failures=notifier_failures(session)))


def notifier_failures(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in list(session.events):
        if event.kind == "notifier-failure":
            counts[event.by] = counts.get(event.by, 0) + 1
    return counts
