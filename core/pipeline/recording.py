"""One recorded session from start to seal: the library API behind ``recorder --profile``.

``Recording`` runs the session's life: prepare, record, seal, hand over to the sink.
What happens around it has modules of its own: where the session's events go
(``fanout``, with the control channel's commands and status in control/), the end
decided on failures (``ending``), the folder watched and rescued (``folder_watch``),
session.json written (``manifest_writer``), the guards' preflight and the session
folder (``preflight``), the data path (``capture``, ``parts``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from recorder.components import BindsSession, HearsPartSealed, NamesDestinations
from recorder.config.profile import ResolvedProfile
from recorder.errors import NoConsent, PluginError, RecorderError, UsageError
from recorder.host.isolation import BUDGET, Failure, NotResponding, running
from recorder.host.manager import PluginHost
from recorder.pipeline.assembly import build, folder_name
from recorder.pipeline.capture import capture_until_end
from recorder.pipeline.ctrl_c import CtrlC
from recorder.pipeline.ending import DISK_FULL, FOLDER_LOST, failed, is_disk_full
from recorder.pipeline.fanout import GUARD_LIFECYCLE, Fanout
from recorder.pipeline.folder_watch import FolderWatch
from recorder.pipeline.manifest_writer import ManifestWriter
from recorder.pipeline.indexing import SessionIndexing
from recorder.pipeline.parts import Parts
from recorder.pipeline.phase import Phase
from recorder.pipeline.preflight import check_guards, checked_save_to, make_session_folder, refuse_unasked_save_to
from recorder.session import consent, journal, manifest as manifests, receipt as receipts, recovery
from recorder.session.lock import ProfileLock
from recorder.session.model import Session
from recorder.session import streams as part_streams
from recorder.store import catalog, holds, saving
from recorder.disk.crashpoints import crash_point
from recorder.disk.files import folder_size
from recorder.values import SaveChoice

__all__ = ["DISK_FULL", "FOLDER_LOST", "GUARD_LIFECYCLE", "Recording", "is_disk_full"]
log = logging.getLogger("recorder")


def session_for(profile: ResolvedProfile, save_to: str, support_id: str, labels: dict[str, str]) -> Session:
    session = Session(profile=profile.name, role=profile.settings.role,
                      output_dir=profile.settings.output_dir, save_to=save_to)
    session._options = dict(profile.options)
    session.support_id, session.labels = support_id, dict(labels)
    return session


def save_location_asker(session: Session, hook: Callable[..., Any], ctrl_c: CtrlC) -> Callable[..., SaveChoice]:
    """How a sink asks where the sealed session goes (``session.ask_save_location``): --save-to
    first, else the prompt hook, until the answer is a usable folder or the user gives up.
    Ctrl-C at the prompt means "decide later", whichever prompt asks."""
    def asker(default: Path, prefer: str, timeout: float | None = None) -> SaveChoice:
        def ask(suggested: Path, problem: str | None) -> SaveChoice | None:
            if session.save_to and problem is None:
                return SaveChoice(Path(session.save_to), "--save-to")
            try:
                with ctrl_c.prompting():
                    return hook("recorder_prompt_save_location", default=suggested, problem=problem,
                                prefer=prefer, timeout=timeout)
            except KeyboardInterrupt:
                return SaveChoice(None, "asked")

        return saving.choose(ask, default, folder_size(session.folder), session.folder)

    return asker


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
        self.consent_timeout = self.settings.consent_timeout
        self.support_id, self.labels, self.resume = support_id, dict(labels or {}), resume
        self.session = session_for(profile, save_to or "", support_id, self.labels)
        self.phase = Phase.PREPARING
        self.failure: BaseException | None = None
        self.new_session = new_session
        self.lock = ProfileLock(profile.name)
        self.recovered: list[str] = []  # what crash recovery kept, for the user
        self.tidied: list[str] = []  # moves a kill cut short finished, lost folders reconciled: for the user
        self.closed_previous: tuple[Path, str] | None = None
        self.resumed_gap: dict[str, Any] | None = None
        self.parts: Parts | None = None
        self.receipt: dict[str, Any] | None = None  # issued when the session ends (not when interrupted)
        self.watch = FolderWatch()
        self.manifest = ManifestWriter(self.settings, self.watch)
        self.fanout = Fanout(self)
        self.ctrl_c = CtrlC(lambda: self.session)  # from record() until the caller's report is out
        # Where the events noted since the consent question began start (they are held
        # until recording begins); None when no consent was asked, so nothing was announced early.
        self._held_from: int | None = None

    # -- what the control channel sees (control/status.py, Recorder) ------------
    def not_recording_yet(self) -> str | None:
        return self.phase.published

    def bytes_written(self) -> int:
        return self.parts.bytes_written() if self.parts else 0

    def _fail(self, exc: BaseException, component: str) -> None:
        """The source or the encoder failed: the session ends, and is sealed."""
        if self.failure is None:
            self.failure = exc
        log.debug("pipeline failure", exc_info=exc)
        failed(self.session, exc, self.host.owner(component),
               f"{self.host.registry.get(component).kind} '{component}' failed")

    # -- before anything is written ------------------------------------------
    def prepare(self) -> None:
        """Everything that can fail on bad input, before anything is written.
        ``record()`` calls it if the caller has not."""
        if self.phase is Phase.READY:
            return
        self.built = build(self.host, self.profile)
        refuse_unasked_save_to(self.session.save_to, self.settings.sink, self.built.sink, self.session.output_dir)
        self.lock.acquire()
        try:
            self._prepare()
        except BaseException as exc:
            self._abandon(consent.END_REASON if isinstance(exc, NoConsent) else "not-started")
            self.lock.release()
            raise
        self.phase = Phase.READY

    def _prepare(self) -> None:
        source, name = self.built.source, self.settings.source
        try:
            with running(self.host.owner(name)):
                if isinstance(source, BindsSession):  # optional: the session the source records for
                    source.bind(self.session)
                self.format = source.open()
        except RecorderError:
            raise
        except Exception as exc:
            raise PluginError(self.host.owner(name), f"source '{name}'", exc) from None
        try:
            if self.session.save_to:
                self.session.save_to = checked_save_to(self.session.save_to)
            resuming = self._take_over_previous()
            self._ask_consent()  # before the session folder exists: a no leaves nothing behind
            if not resuming:
                self.session.folder = make_session_folder(
                    self.host, self.settings.sink, self.built.sink, self.session,
                    folder_name(self.session, self.settings.folder_template), self.settings.output_dir)
        except BaseException:
            source.close()
            raise
        sink = self.built.sink
        self.session.places = [self.session.folder,
                               *(sink.destinations(self.session) if isinstance(sink, NamesDestinations) else ())]
        try:
            self._preflight()  # a resumed session's guards may refuse too (and set its encryption)
        except BaseException:
            if not resuming:
                source.close()
                self.session.folder.rmdir()  # still empty: nothing is left behind
            raise

    def _take_over_previous(self) -> bool:
        """Recover a crashed run's session and continue the interrupted one; True if resuming."""
        # a kill while the sink moved the last session to another disk: that move is finished first
        finished = saving.finish_cut_moves(self.profile.name, self.host)
        finished += holds.finish_cut_holds(self.host)  # a hold's plugins not yet told of it (store/holds.py)
        outcome = recovery.take_over(self.profile.name, self.settings, self.settings.encoder, self.host,
                                     new_session=self.new_session, resume=self.resume,
                                     support_id=self.support_id)
        self.recovered, self.closed_previous = outcome.recovered, outcome.closed
        self.tidied = finished + outcome.tidied
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
        self._held_from = len(session.events)
        self.phase = Phase.ASKING
        self.fanout.open()
        self.fanout.notifiers("start", session)
        try:
            answer = consent.ask(lambda **kw: self.fanout.hook("recorder_prompt_consent", **kw), session,
                                 self.settings.consent_prompt, self.settings.consent_timeout)
        finally:
            self.phase = Phase.PREPARING
        if not answer.given:
            raise NoConsent(answer.answer, consent.declined(session.role, answer, self.settings.consent_timeout))

    def _abandon(self, reason: str) -> None:
        """Nothing will be recorded (no consent, or refused after it): the support tool
        is told the session is over, and the notifiers deliver what they hold."""
        self.phase = Phase.ABANDONED
        self.fanout.channel.close(reason)
        if self._held_from is not None:  # the notifiers were started for the consent question
            self.fanout.notifiers("stop")

    def _preflight(self) -> None:
        """Guards may refuse to start (e.g. the disk is already too full)."""
        check_guards(self.host, self.built.guards, self.session)
        part_streams.check_for_recording(self.host, self.session, self.settings.encoder, self.built.encoder)

    # -- the run ------------------------------------------------------------
    def run(self) -> Session:
        """Record, seal, and hand the session to the sink."""
        self.prepare()  # until recording begins, Ctrl-C is a KeyboardInterrupt (at a consent question: no)
        with self.ctrl_c.held():
            self.record()
            return self.finish()

    def record(self) -> Session:
        """Record until the session ends, and seal every part."""
        self.prepare()
        # From here on something is on disk: Ctrl-C only asks for the end, so that
        # pressing it again cannot interrupt sealing (ctrl_c.py).
        self.host.on_failure, previous = self.fanout.plugin_failed, self.host.on_failure
        self._previous_on_failure = previous
        self._late_plugins = self.host.isolation.overdue()  # late since preparing: on the timeline too
        with self.ctrl_c.held():
            self._record()
        return self.session

    def _record(self) -> None:
        session, hook, early = self.session, self.fanout.hook, self._held_from is not None
        held = list(session.events)[self._held_from:] if early else []
        self.phase = Phase.RECORDING
        if not early:  # else heard and announced already, for the consent question
            self.fanout.open()
        self.parts = Parts(session, self.built.encoder, self.format, self.settings.fps,
                           encoder_name=self.settings.encoder,
                           max_size=self.settings.max_part_size,
                           max_duration=self.settings.max_part_duration,
                           on_opened=self._part_opened, on_sealed=self._part_sealed,
                           on_failed=lambda exc: self._fail(exc, self.settings.encoder), plugins=self.host.order)
        self.text = SessionIndexing.attach(self)  # the text index: fed by the parts, a no-op when off
        if self.resumed_gap is not None:
            for event in held:  # the consent asked before the resumption is announced
                hook("recorder_session_event", event=event)
            recovery.announce_resumption(session, self.resumed_gap)
        else:
            for event in list(session.events):  # noted while preparing (the sink's "staged")
                hook("recorder_session_event", event=event)
            session.add_event("started", f"recording profile {session.profile}", by="recorder")
        self.write_manifest()
        catalog.remember(session)
        for late in self._late_plugins:
            self.fanout.plugin_failed(late)
        if not early:
            self.fanout.notifiers("start", session)
        if self.resumed_gap is not None:  # both sides learn that recording goes on, not why or where
            session.notify("info", "Recording has resumed after an interruption, in a new part.", by="recorder")
        hook("recorder_session_started")
        self.built.each(self.built.guards, "start", session)
        self.watch.remember(session.folder)
        s = self.settings
        capture_until_end(session, self.built.source, self.parts, fps=s.fps, duration=self.duration,
                          heartbeat=s.heartbeat if s.skip_unchanged else 0.0,
                          source_failed=lambda exc: self._fail(exc, s.source),
                          encoder_failed=lambda exc: self._fail(exc, s.encoder),
                          tick=self._tick, budget=BUDGET, source_stuck=self._source_stuck)
        self.built.each([(s.source, self.built.source)], "close")
        self.built.each(self.built.guards, "before_seal")  # e.g. a disk guard frees its reserve for sealing
        self.text.capture_ended()  # the last screens read, within index_catch_up
        if self.watch.lost or self.watch.problem(session.folder):
            self.watch.rescue(session, self.parts, self.manifest.lock)
        self._seal()
        self.built.each(self.built.guards, "stop")  # after sealing: shutdown handlers held until now

    def _tick(self) -> None:
        self.watch.check(self.session)
        self.on_tick(self)

    def _source_stuck(self) -> None:
        name = self.settings.source
        self.fanout.plugin_failed(Failure(self.host.owner(name), f"source '{name}'", NotResponding(
            f"within {BUDGET:g} s of the end: the recording is sealed without waiting for it")))

    def _part_opened(self, part) -> None:
        self.write_manifest()  # so that a crash leaves a manifest naming the part in progress
        self.fanout.hook("recorder_part_opened", part=part)

    def _part_sealed(self, part) -> None:
        self.text.part_sealed(part)
        self.write_manifest()
        crash_point("seal:recorded")
        if isinstance(self.built.sink, HearsPartSealed):
            self.built.each([(self.settings.sink, self.built.sink)], "part_sealed", self.session, part)
        self.fanout.hook("recorder_part_sealed", part=part)

    def _seal(self) -> None:
        session = self.session
        try:
            self.parts.seal()
        except BaseException as exc:
            self._fail(exc, self.settings.encoder)
        self.text.sealed()  # before the last manifest: it lists the index, and so does the receipt
        session.frames = sum(part.frames for part in session.parts)
        session.add_event("stopped", session.end_reason or "", by="recorder")
        session.ended_at = datetime.now(timezone.utc).astimezone()
        self.write_manifest()
        session.mark_sealed()

    # -- after the seal -------------------------------------------------------
    def finish(self) -> Session:
        """Hand the sealed session to the sink, which may ask where it goes and move it.

        Ctrl-C still only asks for the end (a press says what is happening, the next
        quits at once), but at a save prompt it means "decide later"."""
        with self.ctrl_c.held():
            return self._finish()

    def _finish(self) -> Session:
        session = self.session
        session._asker = save_location_asker(session, self.fanout.hook, self.ctrl_c)
        self.phase = Phase.HANDING_OVER
        sink = self.settings.sink
        try:
            with self.host.around(sink, f"sink '{sink}'"):
                session.folder = self.built.sink.finish(session)
        finally:
            self.phase = Phase.FINISHED
        self.write_manifest()
        catalog.remember(session)
        if session.end_reason != "interrupted":
            self._issue_receipt()
            journal.clear(session.profile)
        self.fanout.hook("recorder_session_ended")
        self.fanout.channel.close()
        self.fanout.notifiers("stop")  # after the last notification has been handed over
        self.host.on_failure = getattr(self, "_previous_on_failure", self.host.on_failure)
        self.lock.release()
        return session

    def _issue_receipt(self) -> None:
        """What the support tool keeps to prove later that the recording is whole."""
        try:
            issued = receipts.receipt(manifests.read(self.session.folder))
        except (OSError, manifests.ManifestError) as exc:
            log.error("no receipt: %s", exc)
            return
        self.receipt = issued  # not on the timeline: it is for keeping outside the folder
        # Plugins and guards hear it first: one may add to it, outside its head (a signature),
        # for the notifiers and the support tool to carry.
        self.fanout.hook("recorder_session_receipt", receipt=issued)
        self.fanout.notifiers("receipt", issued)
        self.fanout.channel.receipt(issued)

    def write_manifest(self) -> None:
        """session.json and the journal, as the session is now."""
        self.manifest.write(self.session, self.format)
