"""One recorded session from start to seal: the library API behind ``recorder --profile``."""

from __future__ import annotations

import errno
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from recorder import catalog, journal, resume, saving
from recorder.assembly import build, folder_name
from recorder.components import SaveChoice
from recorder.errors import PluginError, RecorderError, UsageError, describe
from recorder.lock import ProfileLock
from recorder.manager import PluginSet
from recorder.manifest import write_manifest
from recorder.parts import Parts
from recorder.pipeline import Capture, CtrlCEnds, Encode, FrameQueue, wait_for_end
from recorder.profile import ResolvedProfile
from recorder.session import Session

log = logging.getLogger("recorder")
DISK_FULL = "disk-full"


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Recording:
    """Runs one session. ``run()`` returns the ended session; it raises only
    for errors found before anything was written."""

    def __init__(self, plugins: PluginSet, profile: ResolvedProfile, *, duration: float | None = None,
                 save_to: str | None = None, new_session: bool = False,
                 on_tick: Callable[["Recording"], None] | None = None):
        if not profile.settings.enabled:
            origin = profile.config.origin_of(profile.name, ("enabled",)) or "config"
            raise UsageError(f"recording is disabled for profile '{profile.name}' "
                             f"(enabled = false in {origin})")
        self.plugins, self.profile, self.duration = plugins, profile, duration
        self.on_tick = on_tick or (lambda rec: None)
        self.settings = profile.settings
        self.session = Session(profile=profile.name, role=self.settings.role,
                               output_dir=self.settings.output_dir, save_to=save_to or "")
        self.failure: BaseException | None = None
        self.new_session = new_session
        self.lock = ProfileLock(profile.name)
        self.recovered: list[str] = []  # what crash recovery kept, for the user
        self.closed_previous: tuple[Path, str] | None = None
        self.prepared = False
        self._sink_finishing = False
        self._manifest_lock = threading.Lock()
        self.parts: Parts | None = None

    # -- wiring -------------------------------------------------------------
    def _hook(self, name: str, **kwargs: Any) -> None:
        self.plugins.call(name, self._plugin_failed, session=self.session, **kwargs)

    def _plugin_failed(self, plugin: str, exc: BaseException, where: str = "a hook") -> None:
        log.debug("plugin %s failed", plugin, exc_info=exc)
        self.session.add_event("plugin-error", f'plugin "{plugin}" failed in {where}: {describe(exc)}',
                               level="error", by=plugin)

    def _on_session(self, kind: str, payload: Any) -> None:
        if kind == "event":
            if not self._sink_finishing:  # the sink may be moving the folder: core writes after
                self._write_manifest()  # and the journal: both are fsynced at every event
            if payload.kind != "plugin-error":  # a failing event hook must not loop
                self._hook("recorder_session_event", event=payload)
            else:
                self.plugins.call("recorder_session_event", lambda *a: None,
                                  session=self.session, event=payload)
        elif kind == "notification":
            self.built.each(self.built.notifiers, "notify", payload)

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        log.debug("pipeline failure", exc_info=exc)
        session = self.session
        if is_disk_full(exc):
            session.add_event("error", f"the disk is full: {describe(exc)}", level="error")
            session.notify("error", "The disk holding the recording is full: recording stopped; "
                                    "what was recorded up to the last second is kept.")
            session.request_end(DISK_FULL)
        else:
            session.add_event("error", describe(exc), level="error")
            session.request_end("error")

    # -- the run ------------------------------------------------------------
    def prepare(self) -> None:
        """Everything that can fail on bad input, before anything is written.
        ``record()`` calls it if the caller has not."""
        if self.prepared:
            return
        self.built = build(self.plugins, self.profile)
        self.built.on_error = self._plugin_failed
        self.lock.acquire()
        try:
            self._prepare()
        except BaseException:
            self.lock.release()
            raise
        self.prepared = True

    def _prepare(self) -> None:
        source = self.built.source
        try:
            self.format = source.open()
        except RecorderError:
            raise
        except Exception as exc:
            raise PluginError(self.built.owner(self.settings.source), f"source '{self.settings.source}'", exc)
        if self.session.save_to:
            problem = saving.check_destination(Path(self.session.save_to).expanduser().absolute(), 0)
            if problem:
                raise UsageError(f"--save-to: {problem}")
            self.session.save_to = str(Path(self.session.save_to).expanduser().absolute())
        if self._take_over_previous():
            self._places()
            return
        name = folder_name(self.session, self.settings.folder_template)
        try:
            self.session.folder = self.built.sink.prepare(self.session, name)
        except RecorderError:
            source.close()
            raise
        except OSError as exc:
            source.close()
            where = exc.filename or self.settings.output_dir or "the target folder"
            reason = exc.strerror
            if isinstance(exc, FileExistsError) and not os.path.isdir(where):
                reason = "it exists and is not a folder"
            raise UsageError(f"cannot create the session folder in {where}: {reason}") from None
        self._places()
        try:
            self._preflight()
        except BaseException:
            source.close()
            self.session.folder.rmdir()  # still empty: nothing is left behind
            raise

    def _places(self) -> None:
        destinations = getattr(self.built.sink, "destinations", None)
        self.session.places = [self.session.folder, *(destinations(self.session) if destinations else ())]

    def _take_over_previous(self) -> bool:
        """Recover a crashed run's session and continue the interrupted one; True if resuming."""
        outcome = resume.take_over(self.profile.name, self.settings, self.built.encoder.extension,
                                   new_session=self.new_session)
        self.recovered, self.closed_previous = outcome.recovered, outcome.closed
        if outcome.session is None:
            return False
        outcome.session.output_dir, outcome.session.save_to = self.session.output_dir, self.session.save_to
        self.session = outcome.session
        return True

    def _preflight(self) -> None:
        """Guards may refuse to start (e.g. the disk is already too full)."""
        for name, guard in self.built.guards:
            check = getattr(guard, "preflight", None)
            if check is None:
                continue
            try:
                check(self.session)
            except RecorderError:
                raise
            except Exception as exc:
                raise PluginError(self.built.owner(name), f"guard '{name}'", exc) from exc

    def run(self) -> Session:
        """Record, seal, and hand the session to the sink."""
        self.record()
        return self.finish()

    def record(self) -> Session:
        """Record until the session ends, and seal every part."""
        self.prepare()
        # From here on something is on disk: signals only ask for the end, so
        # that a second Ctrl-C cannot interrupt sealing.
        with CtrlCEnds(self.session):
            self._record()
        return self.session

    def _record(self) -> None:
        session = self.session
        session.subscribe(self._on_session)
        self.parts = Parts(session, self.built.encoder, self.format, self.settings.fps,
                           max_size=self.settings.max_part_size,
                           max_duration=self.settings.max_part_duration,
                           on_opened=self._part_opened, on_sealed=self._part_sealed)
        if not session.resumed:
            session.add_event("started", f"recording profile {session.profile}")
        self._write_manifest()
        catalog.remember(session)
        self.built.each(self.built.notifiers, "start", self.session)
        self._hook("recorder_session_started")
        self.built.each(self.built.guards, "start", self.session)
        frames = FrameQueue(self.settings.fps)
        capture = Capture(session, self.built.source, self.settings.fps, frames, self.duration, self._fail,
                          heartbeat=self.settings.heartbeat if self.settings.skip_unchanged else 0.0)
        encode = Encode(frames, self.parts, self._fail)
        encode.start()
        capture.start()
        wait_for_end(session, lambda: self.on_tick(self))
        capture.stop.set()
        capture.join()
        encode.join()
        self.built.call(self.settings.source, self.built.source.close)
        self.built.each(self.built.guards, "before_seal")  # e.g. a disk guard frees its reserve for sealing
        self._seal()
        self.built.each(self.built.guards, "stop")  # after sealing: shutdown handlers held until now

    def _part_opened(self, part) -> None:
        self._write_manifest()  # so that a crash leaves a manifest naming the part in progress
        self._hook("recorder_part_opened", part=part)

    def _part_sealed(self, part) -> None:
        self._write_manifest()
        sealed = getattr(self.built.sink, "part_sealed", None)
        if sealed is not None:
            self.built.call(self.settings.sink, lambda: sealed(self.session, part))
        self._hook("recorder_part_sealed", part=part)

    def _seal(self) -> None:
        session = self.session
        try:
            self.parts.seal()
        except BaseException as exc:
            self._fail(exc)
        session.frames = sum(part.frames for part in session.parts)
        session.add_event("stopped", session.end_reason or "")
        session.ended_at = datetime.now(timezone.utc).astimezone()
        self._write_manifest()
        session.mark_sealed()

    def finish(self) -> Session:
        """Hand the sealed session to the sink, which may ask where it goes and move it.

        Runs without the signal handlers of ``record()``: at a save prompt,
        Ctrl-C means "decide later"."""
        session = self.session
        session._asker = self._ask
        self._sink_finishing = True
        try:
            session.folder = self.built.sink.finish(session)
        except Exception as exc:
            self._plugin_failed(self.built.owner(self.settings.sink), exc, f"sink '{self.settings.sink}'")
        finally:
            self._sink_finishing = False
        self._write_manifest()
        catalog.remember(session)
        if session.end_reason != "interrupted":
            journal.clear(session.profile)
        self._hook("recorder_session_ended")
        self.built.each(self.built.notifiers, "stop")  # after the last notification has been handed over
        self.lock.release()
        return session

    def _ask(self, default: Path, prefer: str, timeout: float | None = None) -> SaveChoice:
        session = self.session

        def ask(suggested: Path, problem: str | None) -> SaveChoice | None:
            if session.save_to and problem is None:
                return SaveChoice(Path(session.save_to), "--save-to")
            return self.plugins.first(
                "recorder_prompt_save_location",
                lambda plugin, exc: self._plugin_failed(plugin, exc, "recorder_prompt_save_location"),
                session=session, default=suggested, problem=problem, prefer=prefer, timeout=timeout)

        return saving.choose(ask, default, saving.folder_size(session.folder), session.folder)

    def _write_manifest(self) -> None:
        with self._manifest_lock:  # the encoder and sealer threads write it too
            try:
                self._write_manifest_unlocked()
            except OSError as exc:
                # A full disk must not turn into a crash: the previous manifest stays.
                log.error("cannot write %s/session.json: %s", self.session.folder, exc)
                if not is_disk_full(exc):
                    raise

    def _write_manifest_unlocked(self) -> None:
        session = self.session
        if session.folder is None:
            return
        journal.write(session, "interrupted" if session.end_reason == "interrupted" and session.ended_at
                      else "recording")
        write_manifest(self.session,
                       video={"width": self.format.width, "height": self.format.height,
                              "fps": self.settings.fps, "encoder": self.settings.encoder},
                       components={"source": self.settings.source, "encoder": self.settings.encoder,
                                   "sink": self.settings.sink, "guards": self.settings.guards,
                                   "notifiers": self.settings.notifiers},
                       notifier_failures=self._notifier_failures())

    def _notifier_failures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in list(self.session.events):
            if event.kind == "notifier-failure":
                counts[event.by] = counts.get(event.by, 0) + 1
        return counts
