"""Where a recording's events go: the control channel, the notifiers, session.json, the
hooks and the session's own guards. Until recording begins they are only published and
notified, never written (a declined consent leaves nothing)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from recorder.control.channel import Channel
from recorder.errors import describe
from recorder.host.isolation import Failure
from recorder.pipeline.ending import ask_to_end_support_session, support_session_ends
from recorder.pipeline.phase import Phase

if TYPE_CHECKING:
    from recorder.pipeline.recording import Recording

log = logging.getLogger("recorder")
# Lifecycle hooks also delivered to the session's guards as methods of the same name
# without the prefix (``guard.part_sealed(session, part)``), when the guard has one.
GUARD_LIFECYCLE = ("recorder_session_event", "recorder_part_sealed", "recorder_session_receipt",
                   "recorder_session_ended")


class Fanout:
    def __init__(self, recording: "Recording"):
        self.recording, self.host = recording, recording.host
        self.channel = Channel(recording.profile.name, recording)
        # Not a phase of the recording: a re-entrancy guard of the thread delivering a
        # plugin-error event, so that a hook failing on it is logged instead of looping,
        # while another thread's failures meanwhile still reach the timeline.
        self._quiet = threading.local()
        self._ends_support_session: dict[str, str] = {}

    def hook(self, name: str, **kwargs: Any) -> Any:
        rec = self.recording
        result = self.host.call(name, session=rec.session, **kwargs)
        if name in GUARD_LIFECYCLE:  # guards hear their own session's lifecycle: no state keyed by session id
            rec.built.each(rec.built.guards, name.removeprefix("recorder_"), rec.session, *kwargs.values())
        return result

    def plugin_failed(self, failure: Failure) -> None:
        if getattr(self._quiet, "active", False):  # a failing event hook must not loop
            log.warning("%s", failure.message)
            return
        self.recording.session.add_event("plugin-slow" if failure.slow else "plugin-error", failure.message,
                                         level="warning" if failure.slow else "error", by=failure.plugin)

    def open(self) -> None:
        """Hear the session, and let the support tool reach it (the notifiers start separately)."""
        rec = self.recording
        self._ends_support_session = support_session_ends(rec.built.guards, strict=rec.settings.require_recording)
        rec.session.subscribe(self._on_session)
        try:
            self.channel.open()
        except OSError as exc:  # the support tool loses its channel; the recording goes on
            rec.session.add_event("error", f"no control channel: {describe(exc)}", level="warning",
                                  by="recorder")

    def notifiers(self, method: str, *args: Any) -> None:
        self.recording.built.each(self.recording.built.notifiers, method, *args)

    def _on_session(self, kind: str, payload: Any) -> None:
        rec = self.recording
        if rec.phase.holding:  # not recording yet: the support tool and the notifiers hear of it, the disk does not
            self.channel.publish(kind, payload)
            if kind == "notification":
                self.notifiers("notify", payload)
            return
        if kind == "event" and payload.kind == "end-requested":
            why = self._ends_support_session.get(rec.session.end_reason or "")
            if why:
                ask_to_end_support_session(rec.session, why, payload.text)
        self.channel.publish(kind, payload)
        if kind == "event":
            if rec.phase is not Phase.HANDING_OVER:  # the sink may be moving the folder: core writes after
                rec.write_manifest()  # and the journal: both are fsynced at every event
            self._quiet.active = payload.kind in ("plugin-error", "plugin-slow")
            try:
                self.hook("recorder_session_event", event=payload)
            finally:
                self._quiet.active = False
        elif kind == "notification":
            self.notifiers("notify", payload)
