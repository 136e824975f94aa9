"""One recorded session from start to seal: the library API behind ``recorder --profile``."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import attrs

from recorder.config.profile import ResolvedProfile
from recorder.control import protocol
from recorder.control.server import ControlServer
from recorder.errors import NoConsent, PluginError, RecorderError, UsageError, describe
from recorder.host.isolation import BUDGET, Failure, NotResponding, running
from recorder.host.manager import PluginHost
from recorder.pipeline.assembly import build, folder_name
from recorder.pipeline.capture import Capture, CtrlCEnds, Encode, FrameQueue, wait_for_end
from recorder.pipeline.parts import Parts
from recorder.session import consent, journal, manifest as manifests, receipt as receipts, recovery
from recorder.session.lock import ProfileLock, runtime_dir
from recorder.session.model import Session
from recorder.store import catalog, saving
from recorder.store.crashpoints import crash_point
from recorder.store.files import folder_size, make_private_dir, shared_with_others
from recorder.store.state import data_dir
from recorder.values import SaveChoice

log = logging.getLogger("recorder")
# Lifecycle hooks also delivered to the session's guards as methods of the same name
# without the prefix (``guard.part_sealed(session, part)``), when the guard has one.
GUARD_LIFECYCLE = ("recorder_session_event", "recorder_part_sealed", "recorder_session_receipt",
                   "recorder_session_ended")
DISK_FULL = "disk-full"
FOLDER_LOST = "folder-lost"
ENDS_SUPPORT_SESSION = ("disk-space", DISK_FULL)
PASSED = object()  # a guard's preflight let the recording start  # the support session must end with the recording


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Recording:
    """Runs one session. ``run()`` returns the ended session; it raises only
    for errors found before anything was written."""

    def __init__(self, host: PluginHost, profile: ResolvedProfile, *, duration: float | None = None,
                 save_to: str | None = None, new_session: bool = False, resume: bool = False,
                 support_id: str = "", labels: dict[str, str] | None = None,
                 on_tick: Callable[["Recording"], None] | None = None):
        if not profile.settings.enabled:
            origin = profile.config.origin_of(profile.name, ("enabled",)) or "config"
            raise UsageError(f"recording is disabled for profile '{profile.name}' "
                             f"(enabled = false in {origin})")
        self.host, self.profile, self.duration = host, profile, duration
        self.on_tick = on_tick or (lambda rec: None)
        self.settings = profile.settings
        self.support_id, self.labels, self.resume = support_id, dict(labels or {}), resume
        self.session = self._new_session(save_to)
        self.failure: BaseException | None = None
        self.new_session = new_session
        self.lock = ProfileLock(profile.name)
        self.recovered: list[str] = []  # what crash recovery kept, for the user
        self.closed_previous: tuple[Path, str] | None = None
        self.resumed_gap: dict[str, Any] | None = None
        self.prepared = False
        self._sink_finishing = False
        self._manifest_lock = threading.Lock()
        self._quiet = threading.local()  # set while a plugin-error event is delivered
        self.parts: Parts | None = None
        self.receipt: dict[str, Any] | None = None  # issued when the session ends (not when interrupted)
        self.folder_lost: str | None = None  # the session folder was deleted or made unwritable
        self._folder_id: tuple[int, int] | None = None
        self.control: ControlServer | None = None
        self._control_tried = False
        self._notifiers_started = False
        self._subscribed = False
        # Until recording begins, events are only published and notified, never written
        # (a declined consent leaves nothing); from which event on, for the hooks later.
        self._holding = False
        self._held_from = 0
        self._asking = False  # the consent question is open
        self._touched = 0.0  # when a paused session's manifest was last touched

    def _new_session(self, save_to: str | None) -> Session:
        session = Session(profile=self.profile.name, role=self.settings.role,
                          output_dir=self.settings.output_dir, save_to=save_to or "")
        session._options = dict(self.profile.options)
        session.support_id, session.labels = self.support_id, dict(self.labels)
        return session

    # -- wiring -------------------------------------------------------------
    def _hook(self, name: str, **kwargs: Any) -> Any:
        result = self.host.call(name, session=self.session, **kwargs)
        if name in GUARD_LIFECYCLE:  # guards hear their own session's lifecycle: no state keyed by session id
            self.built.each(self.built.guards, name.removeprefix("recorder_"), self.session, *kwargs.values())
        return result

    def _plugin_failed(self, failure: Failure) -> None:
        if getattr(self._quiet, "active", False):  # a failing event hook must not loop
            log.warning("%s", failure.message)
            return
        self.session.add_event("plugin-slow" if failure.slow else "plugin-error", failure.message,
                               level="warning" if failure.slow else "error", by=failure.plugin)

    def _on_session(self, kind: str, payload: Any) -> None:
        if self._holding:  # not recording yet: the support tool and the notifiers hear of it, the disk does not
            self._publish(kind, payload)
            if kind == "notification":
                self.built.each(self.built.notifiers, "notify", payload)
            return
        if kind == "event" and payload.kind == "end-requested" and self.session.end_reason in ENDS_SUPPORT_SESSION:
            self._end_support_session()
        self._publish(kind, payload)
        if kind == "event":
            if not self._sink_finishing:  # the sink may be moving the folder: core writes after
                self._write_manifest()  # and the journal: both are fsynced at every event
            self._quiet.active = payload.kind in ("plugin-error", "plugin-slow")
            try:
                self._hook("recorder_session_event", event=payload)
            finally:
                self._quiet.active = False
        elif kind == "notification":
            self.built.each(self.built.notifiers, "notify", payload)

    def _fail(self, exc: BaseException, component: str) -> None:
        """The source or the encoder failed: the session ends, and is sealed."""
        if self.failure is None:
            self.failure = exc
        log.debug("pipeline failure", exc_info=exc)
        session = self.session
        # A failure decides the end reason even when the end was already asked for
        # (the disk can fill while the last frames are written): exit status and
        # manifest must say what happened.
        if is_disk_full(exc):
            session.add_event("error", f"the disk is full: {describe(exc)}", level="error", by="recorder")
            session.notify("error", "The disk holding the recording is full: recording stopped; "
                                    "what was recorded up to the last second is kept.", by="recorder")
            self._end_with(DISK_FULL, "recorder", "the disk filled up")
        else:
            by = self.host.owner(component)
            what = f"{self.host.registry.get(component).kind} '{component}' failed"
            session.add_event("error", f"{what}: {describe(exc)}", level="error", by=by)
            self._end_with("error", by, what)

    def _end_with(self, reason: str, by: str, text: str) -> None:
        if self.session.end_reason in (None, reason):
            self.session.request_end(reason, by=by)
        elif self.session.end_reason != DISK_FULL:  # the disk filling is the truest account
            self.session.overrule_end(reason, by=by, text=text)

    # -- the run ------------------------------------------------------------
    def prepare(self) -> None:
        """Everything that can fail on bad input, before anything is written.
        ``record()`` calls it if the caller has not."""
        if self.prepared:
            return
        self.built = build(self.host, self.profile)
        self.lock.acquire()
        try:
            self._prepare()
        except BaseException as exc:
            self._abandon(consent.END_REASON if isinstance(exc, NoConsent) else "not-started")
            self.lock.release()
            raise
        self.prepared = True

    def _prepare(self) -> None:
        source = self.built.source
        name = self.settings.source
        try:
            with running(self.host.owner(name)):
                bind = getattr(source, "bind", None)
                if bind is not None:  # optional: the session the source records for
                    bind(self.session)
                self.format = source.open()
        except RecorderError:
            raise
        except Exception as exc:
            raise PluginError(self.host.owner(name), f"source '{name}'", exc) from None
        if self.session.save_to:
            problem = saving.check_destination(Path(self.session.save_to).expanduser().absolute(), 0)
            if problem:
                raise UsageError(f"--save-to: {problem}")
            self.session.save_to = str(Path(self.session.save_to).expanduser().absolute())
        resuming = self._take_over_previous()
        try:
            self._ask_consent()  # before the session folder exists: a no leaves nothing behind
        except BaseException:
            source.close()
            raise
        if resuming:
            self._places()
            self._preflight()  # a resumed session's guards may refuse too (and set its encryption)
            return
        name = folder_name(self.session, self.settings.folder_template)
        try:
            with running(self.host.owner(self.settings.sink)):
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
        shared = shared_with_others(self.session.folder.parent)
        if shared:  # others could plant links or files where recorder writes
            self.session.folder.rmdir()
            source.close()
            raise UsageError(f"refusing to record into {self.session.folder.parent}: {shared}; "
                             "choose a folder only you can write to (--output-dir)")
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
        outcome = recovery.take_over(self.profile.name, self.settings, self.settings.encoder, self.host,
                                     new_session=self.new_session, resume=self.resume,
                                     support_id=self.support_id)
        self.recovered, self.closed_previous = outcome.recovered, outcome.closed
        if outcome.session is None:
            return False
        resumed = outcome.session
        resumed.output_dir, resumed.save_to = self.session.output_dir, self.session.save_to
        resumed._options = self.session._options
        resumed.labels = {**resumed.labels, **self.labels}  # labels given now are added
        self.session, self.resumed_gap = resumed, outcome.gap
        return True

    def _ask_consent(self) -> None:
        """The profile requires consent: ask before anything is written. The control
        channel and the notifiers are up meanwhile, so the support tool learns the answer."""
        if self.settings.consent != "required":
            return
        session = self.session
        self._holding, self._held_from = True, len(session.events)
        session.subscribe(self._on_session)
        self._subscribed = True
        self._open_control()
        self._start_notifiers()
        self._asking = True
        try:
            answer = consent.ask(lambda **kw: self._hook("recorder_prompt_consent", **kw), session,
                                 self.settings.consent_prompt, self.settings.consent_timeout)
        finally:
            self._asking = False
        if not answer.given:
            raise NoConsent(answer.answer, consent.declined(session.role, answer, self.settings.consent_timeout))

    def _abandon(self, reason: str) -> None:
        """Nothing will be recorded (no consent, or refused after it): the support tool
        is told the session is over, and the notifiers deliver what they hold."""
        self._holding = True
        self._close_control(reason)
        if self._notifiers_started:
            self.built.each(self.built.notifiers, "stop")

    def _start_notifiers(self) -> None:
        if not self._notifiers_started:
            self._notifiers_started = True
            self.built.each(self.built.notifiers, "start", self.session)

    def _preflight(self) -> None:
        """Guards may refuse to start (e.g. the disk is already too full)."""
        for name, guard in self.built.guards:
            check = getattr(guard, "preflight", None)
            if check is None:
                continue
            def attempt(check=check):
                try:
                    check(self.session)
                except Exception as exc:  # a refusal is the answer: carried back, not reported
                    return exc
                return PASSED

            refused = self.host.run(name, f"guard '{name}'", attempt)  # None if it is overdue
            if refused is None and getattr(guard, "preflight_required", False):
                # e.g. encrypt: recording without its answer would write the screen in the clear
                raise UsageError(f"guard '{name}' did not finish its checks in time: nothing is recorded")
            if isinstance(refused, RecorderError):
                raise refused
            if refused is not None and refused is not PASSED:
                raise PluginError(self.host.owner(name), f"guard '{name}'", refused) from refused
        if self.session.encrypt_to and not getattr(self.built.encoder, "writes_to_stream", False):
            raise UsageError(f"encoder '{self.settings.encoder}' cannot write encrypted parts (it writes "
                             "files, not a stream): choose another encoder or turn encryption off")

    def run(self) -> Session:
        """Record, seal, and hand the session to the sink."""
        self.record()
        return self.finish()

    def record(self) -> Session:
        """Record until the session ends, and seal every part."""
        self.prepare()
        # From here on something is on disk: signals only ask for the end, so
        # that a second Ctrl-C cannot interrupt sealing.
        self.host.on_failure, previous = self._plugin_failed, self.host.on_failure
        self._previous_on_failure = previous
        self._late_plugins = self.host.isolation.overdue()  # late since preparing: on the timeline too
        with CtrlCEnds(self.session):
            self._record()
        return self.session

    def _record(self) -> None:
        session = self.session
        held = list(session.events)[self._held_from:] if self._holding else []
        self._holding = False
        if not self._subscribed:
            session.subscribe(self._on_session)
        if not self._control_tried:
            self._open_control()
        self.parts = Parts(session, self.built.encoder, self.format, self.settings.fps,
                           encoder_name=self.settings.encoder,
                           max_size=self.settings.max_part_size,
                           max_duration=self.settings.max_part_duration,
                           on_opened=self._part_opened, on_sealed=self._part_sealed,
                           on_failed=lambda exc: self._fail(exc, self.settings.encoder))
        if self.resumed_gap is not None:
            for early in held:  # the consent asked before the resumption is announced
                self._hook("recorder_session_event", event=early)
            recovery.announce_resumption(session, self.resumed_gap)
        else:
            for early in list(session.events):  # noted while preparing (the sink's "staged")
                self._hook("recorder_session_event", event=early)
            session.add_event("started", f"recording profile {session.profile}", by="recorder")
        self._write_manifest()
        catalog.remember(session)
        for late in self._late_plugins:
            self._plugin_failed(late)
        self._start_notifiers()
        if self.resumed_gap is not None:  # both sides learn that recording goes on, not why or where
            session.notify("info", "Recording has resumed after an interruption, in a new part.", by="recorder")
        self._hook("recorder_session_started")
        self.built.each(self.built.guards, "start", self.session)
        frames = FrameQueue(self.settings.fps)
        capture = Capture(session, self.built.source, self.settings.fps, frames, self.duration,
                          lambda exc: self._fail(exc, self.settings.source),
                          heartbeat=self.settings.heartbeat if self.settings.skip_unchanged else 0.0)
        encode = Encode(frames, self.parts, lambda exc: self._fail(exc, self.settings.encoder))
        encode.start()
        capture.start()
        self._folder_id = _identity(session.folder)
        wait_for_end(session, self._tick)
        capture.stop.set()
        capture.join(BUDGET)
        if capture.is_alive():  # a source stuck in grab(): seal what was captured without it
            name = self.settings.source
            self._plugin_failed(Failure(self.host.owner(name), f"source '{name}'", NotResponding(
                f"within {BUDGET:g} s of the end: the recording is sealed without waiting for it")))
            frames.put(None)
        encode.join()
        self.built.each([(self.settings.source, self.built.source)], "close")
        self.built.each(self.built.guards, "before_seal")  # e.g. a disk guard frees its reserve for sealing
        if self.folder_lost or self._folder_problem():
            self._rescue()
        self._seal()
        self.built.each(self.built.guards, "stop")  # after sealing: shutdown handlers held until now

    # -- the control channel ------------------------------------------------------
    def _open_control(self) -> None:
        self._control_tried = True
        server = ControlServer(protocol.socket_path(runtime_dir(), self.profile.name), self._control,
                               hello=lambda: {"profile": self.profile.name, "session_id": self.session.id,
                                              "pid": os.getpid()},
                               history=self._history)
        try:
            server.start()
        except OSError as exc:  # the support tool loses its channel; the recording goes on
            self.session.add_event("error", f"no control channel: {describe(exc)}", level="warning",
                                   by="recorder")
            return
        self.control = server

    def _history(self) -> list[dict]:
        return [{"type": "event", "seq": seq, "event": attrs.asdict(event)}
                for seq, event in enumerate(list(self.session.events))]

    def _publish(self, kind: str, payload: Any) -> None:
        if self.control is None:
            return
        if kind == "event":
            events = self.session.events
            seq = next((i for i in range(len(events) - 1, -1, -1) if events[i] is payload), None)
            self.control.publish({"type": "event", "seq": seq, "event": attrs.asdict(payload)})
        elif kind == "notification":
            self.control.publish({"type": "notification", "notification": attrs.asdict(payload)})
            if payload.kind == "end-session-requested":
                self.control.publish({"type": "end-session-requested", "reason": self.session.end_reason,
                                      "text": payload.text, "session_id": self.session.id,
                                      "support_session_id": self.session.support_id})

    def _control(self, command: str, args: dict) -> Any:
        """One request from the control channel (already parsed; its fields are checked here)."""
        session = self.session
        if command == "status":
            return self.status()
        if self._holding:
            raise protocol.BadRequest("the recording has not started: consent to record is asked first "
                                      f"(at most {self.settings.consent_timeout:g} s)")
        if command == "stop":
            by, reason = protocol.who(args), protocol.text(args, "reason")
            session.request_end("user", by=by, text=reason or f"stopped by {by}")
            return {"ending": True}
        if command == "pause":
            done = session.pause(protocol.who(args), protocol.text(args, "reason"))
            if not done and session.ending:
                raise protocol.BadRequest("the session is ending: nothing to pause")
            return {"paused": True, "already": not done}
        if command == "resume":
            done = session.unpause(protocol.who(args))
            return {"paused": False, "already": not done}
        if command == "mark":
            if session.ended_at is not None:
                raise protocol.BadRequest("the session has ended: its timeline is closed")
            event = session.mark(protocol.kind(args), protocol.text(args, "text"), protocol.who(args),
                                 protocol.data(args))
            return {"t": event.t, "time": event.time}
        raise protocol.BadRequest(f"command: {command!r} is not handled")

    def status(self) -> dict[str, Any]:
        session = self.session
        pause = session.paused
        if self._asking:
            state = "waiting-for-consent"
        elif self._holding:
            state = "starting"
        elif session.ended_at is not None:
            state = "ended"
        elif session.ending:
            state = "ending"
        else:
            state = "paused" if pause else "recording"
        return {
            "state": state, "profile": session.profile, "role": session.role, "session_id": session.id,
            "support_session_id": session.support_id, "labels": session.labels, "pid": os.getpid(),
            "started_at": session.started_at.isoformat(), "elapsed": round(session.offset(), 3),
            "paused": {"by": pause.by, "reason": pause.reason, "since": pause.since} if pause else None,
            "parts": len(session.parts), "frames_captured": session.captured, "dropped": session.dropped,
            "bytes_written": self.parts.bytes_written() if self.parts else 0,
            "folder": str(session.folder) if session.folder else None, "end_reason": session.end_reason,
        }

    def _close_control(self, reason: str | None = None) -> None:
        """``reason``: the session ended before recording began (nothing of it was written)."""
        if self.control is None:
            return
        session = self.session
        if reason is not None:
            last = {"type": "ended", "session_id": session.id, "end_reason": reason, "folder": "", "parts": 0}
        else:
            last = {"type": "ended", "session_id": session.id, "end_reason": session.end_reason,
                    "folder": str(session.folder), "parts": len(session.parts)}
        self.control.close(last)
        self.control = None

    # -- the folder taken away while recording ----------------------------------
    def _tick(self) -> None:
        if self.session.paused is not None:
            self._touch_manifest()
        if not self.folder_lost:
            problem = self._folder_problem()
            if problem:
                self._folder_is_lost(problem)
        self.on_tick(self)

    def _touch_manifest(self) -> None:
        """While paused nothing is written: the manifest's time says how long the pause
        lasted if the recorder is killed during it (crash recovery reads it)."""
        now = time.monotonic()
        if now - self._touched >= 1.0 and self.session.folder is not None:
            self._touched = now
            try:
                os.utime(self.session.folder / manifests.MANIFEST)
            except OSError:
                pass

    def _folder_problem(self) -> str | None:
        """Why the session folder can no longer take the recording (checked every half second)."""
        folder = self.session.folder
        identity = _identity(folder)
        if identity is None:
            return "was deleted"
        if self._folder_id is not None and identity != self._folder_id:
            return "was replaced by another folder"
        if not os.access(folder, os.W_OK):
            return "can no longer be written to"
        return None

    def _folder_is_lost(self, problem: str) -> None:
        self.folder_lost = f"{self.session.folder} {problem}"
        self.session.notify("error", f"The folder the recording is written to, {self.folder_lost}: the "
                                     "recording is ended, and what was recorded is kept in recorder's "
                                     "own folder (recorder list shows where).",
                            audience=(self.session.role,), by="recorder")
        self._end_with(FOLDER_LOST, "recorder", self.folder_lost)

    def _rescue(self) -> None:
        """Go on in a private folder of recorder's own, with everything still readable."""
        if not self.folder_lost:
            self._folder_is_lost(self._folder_problem() or "was lost")
        rescue = data_dir() / "rescued" / self.session.folder.name
        make_private_dir(rescue.parent, exist_ok=True)
        make_private_dir(rescue)
        with self._manifest_lock:
            lost = self.parts.relocate(rescue)
        self.session.places = [rescue]
        self.session.add_event("rescued", f"{self.folder_lost}: the recording continues in {rescue}"
                               + (f"; lost with it: {', '.join(lost)}" if lost else ""), level="error",
                               by="recorder", lost=lost)

    def _part_opened(self, part) -> None:
        self._write_manifest()  # so that a crash leaves a manifest naming the part in progress
        self._hook("recorder_part_opened", part=part)

    def _part_sealed(self, part) -> None:
        self._write_manifest()
        crash_point("seal:recorded")
        if getattr(self.built.sink, "part_sealed", None) is not None:
            self.built.each([(self.settings.sink, self.built.sink)], "part_sealed", self.session, part)
        self._hook("recorder_part_sealed", part=part)

    def _seal(self) -> None:
        session = self.session
        try:
            self.parts.seal()
        except BaseException as exc:
            self._fail(exc, self.settings.encoder)
        session.frames = sum(part.frames for part in session.parts)
        session.add_event("stopped", session.end_reason or "", by="recorder")
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
        sink = self.settings.sink
        try:
            with self.host.around(sink, f"sink '{sink}'"):
                session.folder = self.built.sink.finish(session)
        finally:
            self._sink_finishing = False
        self._write_manifest()
        catalog.remember(session)
        if session.end_reason != "interrupted":
            self._issue_receipt()
            journal.clear(session.profile)
        self._hook("recorder_session_ended")
        self._close_control()
        self.built.each(self.built.notifiers, "stop")  # after the last notification has been handed over
        self.host.on_failure = getattr(self, "_previous_on_failure", self.host.on_failure)
        self.lock.release()
        return session

    def _end_support_session(self) -> None:
        """The recording had to stop for a reason the support session must end for too:
        the support tool is asked to end it, as the product it replaces does."""
        self.session.notify("error", "The support session needs to end: the recording had to stop "
                                     "(not enough disk space where it is recorded).",
                            by="recorder", kind="end-session-requested")

    def _issue_receipt(self) -> None:
        """What the support tool keeps to prove later that the recording is whole."""
        try:
            issued = receipts.receipt(manifests.read(self.session.folder))
        except (OSError, manifests.ManifestError) as exc:
            log.error("no receipt: %s", exc)
            return
        self.receipt = issued  # not on the timeline: it is for keeping outside the folder
        self.built.each(self.built.notifiers, "receipt", issued)
        self._hook("recorder_session_receipt", receipt=issued)
        if self.control is not None:
            self.control.publish({"type": "receipt", "receipt": issued})

    def _ask(self, default: Path, prefer: str, timeout: float | None = None) -> SaveChoice:
        session = self.session

        def ask(suggested: Path, problem: str | None) -> SaveChoice | None:
            if session.save_to and problem is None:
                return SaveChoice(Path(session.save_to), "--save-to")
            return self._hook("recorder_prompt_save_location", default=suggested, problem=problem,
                              prefer=prefer, timeout=timeout)

        return saving.choose(ask, default, folder_size(session.folder), session.folder)

    def _write_manifest(self) -> None:
        full = lost = None
        with self._manifest_lock:  # the encoder and sealer threads write it too
            try:
                self._write_manifest_unlocked()
            except OSError as exc:
                # A full disk must not turn into a crash: the previous manifest stays
                # (crash recovery reads it), and the session ends as disk-full.
                if is_disk_full(exc):
                    full = exc
                else:
                    lost = self.folder_lost or self._folder_problem()  # rescued before sealing
                    if lost is None:
                        raise
                if not self.folder_lost:
                    log.error("cannot write %s/session.json: %s", self.session.folder, exc)
        if lost is not None and not self.folder_lost:
            self._folder_is_lost(lost)
        if full is not None and self.session.end_reason != DISK_FULL:
            self._end_with(DISK_FULL, "recorder", "the disk filled up: session.json could not be written")

    def _write_manifest_unlocked(self) -> None:
        session = self.session
        if session.folder is None:
            return
        # Written before the manifest: a crash between the two must never make a
        # complete session look like one to recover and resume.
        journal.write(session, manifests.state_of(session))
        s = self.settings
        manifests.write(session.folder, manifests.from_session(
            session,
            video=manifests.Video(self.format.width, self.format.height, s.fps, s.encoder),
            components=manifests.Components(s.source, s.encoder, s.sink, list(s.guards), list(s.notifiers)),
            notifier_failures=self._notifier_failures()))

    def _notifier_failures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in list(self.session.events):
            if event.kind == "notifier-failure":
                counts[event.by] = counts.get(event.by, 0) + 1
        return counts
