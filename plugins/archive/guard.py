"""The ``archive`` guard: options, the prefix of a session's objects, queueing what
its session seals, and the uploader beside the recording."""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path

import attrs
from recorder import (ByteSize, ManifestError, UsageError, console, known_sessions, make_private_dir, option,
                      read_manifest, session_files)

from recorder.plugins.archive import fetching, ledger, queue, s3
from recorder.plugins.archive.uploader import LEGAL_HOLD, CpuBudget, Uploader

PREFIX_FIELDS = {"profile", "role", "date", "year", "month", "day", "session_id", "short_id", "support_id",
                 "label"}


def _check_prefix(instance, attribute, value: str) -> None:
    try:
        fields = {name.split("[")[0].split(".")[0] for _, name, _, _ in string.Formatter().parse(value) if name}
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from None
    unknown = fields - PREFIX_FIELDS
    if unknown:
        raise ValueError(f"unknown field {{{sorted(unknown)[0]}}} (known: {', '.join(sorted(PREFIX_FIELDS))})")


@attrs.frozen
class ArchiveOptions:
    bucket: str = option("", "The bucket sessions are uploaded to (required).")
    endpoint: str = option("", "The S3 endpoint URL (MinIO, Ceph RGW...); empty: AWS S3.")
    region: str = option("", "The bucket's region; empty: from the AWS configuration.")
    aws_profile: str = option("", "Credentials: this profile of the shared AWS files; empty: the standard "
                                  "chain (AWS_ACCESS_KEY_ID..., ~/.aws/credentials, instance role). "
                                  "Never written here.")
    prefix: str = option("{profile}/{year}/{month}/{day}/{session_id}",
                         "Where a session's objects go; fields: " + ", ".join(sorted(PREFIX_FIELDS))
                         + " (label[ticket]).", validator=_check_prefix)
    multipart_chunk: ByteSize = option(ByteSize(16 * 2**20), "Parts larger than this are uploaded in pieces "
                                                             "of this size (at least 5 MiB).")
    max_rate: ByteSize = option(ByteSize(0), "At most this many bytes a second (0: no limit).")
    verify: str = option("auto", "How an upload is checked: etag (the server's MD5), read-back (download "
                                 "and SHA-256), auto (etag where the server gives an MD5).",
                         validator=attrs.validators.in_(("auto", "etag", "read-back")))
    recording_share: float = option(0.05, "While a session records, uploading uses at most this share of "
                                          "the CPU recording uses (0.05: 5%); afterwards, no limit.",
                                    validator=[attrs.validators.gt(0), attrs.validators.le(10)])
    drain_at_end: float = option(10.0, "Seconds to keep uploading after the session ended; the rest waits "
                                       "for the next start or 'recorder archive --drain'.",
                                 validator=[attrs.validators.ge(0), attrs.validators.le(3600)])

    def __attrs_post_init__(self):
        if not self.bucket:
            raise ValueError("bucket: required (the bucket sessions are uploaded to)")
        if int(self.multipart_chunk) < 5 * 2**20:
            raise ValueError("multipart_chunk: at least 5MiB (S3's smallest part)")


class _Labels(dict):
    def __missing__(self, key):
        return ""


def _clean(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-=" else "_" for c in text) or "_"


def find_session(session_id: str) -> Path | None:
    for row in known_sessions():
        if row.id == session_id:
            return Path(row.folder)
    return None


class ArchiveGuard:
    def __init__(self, options: ArchiveOptions):
        self.options = options
        self.target = {"endpoint": options.endpoint, "bucket": options.bucket, "region": options.region,
                       "aws_profile": options.aws_profile}
        self.session = None
        self.uploader: Uploader | None = None

    # -- the guard's part: refuse what can be known to fail, then run beside the recording
    def preflight(self, session) -> None:
        self.prefix(session)  # a label that cannot be part of a key refuses the session now
        try:
            s3.check(s3.client(self.target), self.target)
        except s3.StoreError as exc:
            if exc.permanent:
                raise UsageError(f"archive: {exc}") from None
            session.add_event("archive-waiting", f"uploads are queued: {exc}", level="warning")

    def start(self, session) -> None:
        self.session = session
        ledger.serve(session.id, self.prefix(session), self.target)
        reconcile()
        self.uploader = self._uploader(report=self._report)
        self.uploader.start()  # also finishes what earlier runs left in the queue
        if any(event.kind == "archive-waiting" for event in session.events):
            session.notify("warning", "The archive cannot be reached: recordings are kept here and uploaded "
                                      "when it can be.", audience=(session.role,))

    def stop(self) -> None:
        pass  # the final manifest and the receipt come after the guards stop: see session_ended

    # -- its session's lifecycle (recorder calls these on the guard of that session)
    def part_sealed(self, session, part) -> None:
        self.enqueue(session, "part", part.file, sha256=part.sha256, size=part.size)

    def session_receipt(self, session, receipt) -> None:
        self.enqueue(session, "receipt", "receipt.json", snapshot=json.dumps(receipt, indent=2).encode())

    def session_event(self, session, event) -> None:
        """A legal hold placed (or released) over the control channel while recording: what is
        already in the bucket gets it now, and every object uploaded from here on."""
        if event.kind in ("hold", "release"):  # queued first: a crash in between is reconciled
            enqueue_legal_hold(session.id, str(session.folder), self.prefix(session), self.target,
                               event.kind == "hold")
            ledger.set_held(session.id, event.kind == "hold")
            if self.uploader is not None:
                self.uploader.poke()

    def session_ended(self, session) -> None:
        folder = Path(session.folder)
        self.enqueue(session, "manifest", "session.json", snapshot=(folder / "session.json").read_bytes())
        for name in plugin_files(folder):  # a signature, say (a plugin's: recorder_session_files)
            self.enqueue(session, "file", name, snapshot=(folder / name).read_bytes())
        if self.uploader is not None:
            self.uploader.stop(self.options.drain_at_end)

    # -- the queue
    def prefix(self, session) -> str:
        """The key prefix of the session's objects; UsageError (one line naming the label or
        field) if a value would make a segment ``.`` or ``..``: S3 keeps such a key as it is, but
        whatever maps keys to paths or URLs (a sync to disk, a proxy, a console) climbs a level."""
        start = session.started_at
        values = {"profile": session.profile, "role": session.role, "date": start.strftime("%Y-%m-%d"),
                  "year": start.strftime("%Y"), "month": start.strftime("%m"), "day": start.strftime("%d"),
                  "session_id": session.id, "short_id": session.short_id, "support_id": session.support_id,
                  "label": _Labels(session.labels)}
        formatted = self.options.prefix.format(**values)
        pieces = [_clean(piece) for piece in formatted.split("/") if piece]
        for piece in pieces:
            if piece in (".", ".."):
                named = [f"label {key!r}" for key, value in session.labels.items() if value == piece] + \
                        [f"{{{name}}}" for name, value in values.items() if value == piece]
                raise UsageError(f"archive: {' and '.join(named) or 'the prefix'} is {piece!r}, which cannot "
                                 f"name a folder in the bucket (prefix {self.options.prefix!r} would give "
                                 f"'{'/'.join(pieces)}'): give another value")
        return "/".join(pieces)

    def enqueue(self, session, kind: str, name: str, *, sha256: str = "", size: int = 0,
                snapshot: bytes | None = None) -> None:
        enqueue(session.id, str(session.folder), self.prefix(session), self.target, kind, name,
                sha256=sha256, size=size, snapshot=snapshot)
        if self.uploader is not None:
            self.uploader.poke()

    def _uploader(self, report) -> Uploader:
        return Uploader(chunk_size=int(self.options.multipart_chunk), max_rate=int(self.options.max_rate),
                        verify=self.options.verify, find=find_session, report=report,
                        uploaded=lambda entry: ledger.arrived(entry.session_id, entry.name, entry.sha256),
                        budget=CpuBudget(self.options.recording_share, self._recording), held=ledger.held)

    def _recording(self) -> bool:
        """Capture and encoding are running (not yet ending: sealing comes first, then uploads)."""
        return self.session is not None and self.session.ended_at is None

    def _report(self, entry: queue.Entry, problem: str) -> None:
        session = self.session
        if session is None or session.ended_at is not None:
            # The timeline is closed: the person at this machine is told here, and the queue
            # keeps the error for 'recorder archive --status'.
            console().print(f"recorder: warning: archive: {entry.name}: {problem} (kept in the queue, retried)",
                            markup=False, highlight=False)
            return
        session.add_event("archive-failed", f"{entry.name}: {problem} (kept in the queue, retried)",
                          level="warning")
        if entry.attempts == 1:
            session.notify("warning", "Uploading the recording to the archive failed; it stays here and is "
                                      "retried.", audience=(session.role,))

    # -- what the archive's commands call (commands.py)
    def archive_status(self) -> list[queue.Entry]:
        return list(queue.entries())

    def archive_drain(self, say) -> int:
        """Upload everything queued now, in the foreground; returns what is left."""
        reconcile()
        uploader = self._uploader(report=lambda entry, problem: say(f"failed: {entry.name}: {problem}"))
        arrived = uploader.uploaded

        def uploaded(entry):
            arrived(entry)
            say(f"uploaded {entry.key}")

        uploader.uploaded = uploaded
        uploader.drain_once()
        return len(list(queue.entries()))

    def archive_sessions(self) -> list[s3.ArchivedSession]:
        client = s3.client(self.target)
        try:
            return list(s3.manifests(client, self.target))
        except s3.StoreError:
            raise
        except Exception as exc:
            raise s3.explain(exc, self.target) from None

    def archive_fetch_index(self, session: s3.ArchivedSession, cache: Path) -> Path | None:
        """Only the session.json and text index of an archived session into ``cache``/its id
        (for ``recorder search --archive``); None when it has no index."""
        into = cache / session.session_id  # letters and digits only (ArchivedSession)
        make_private_dir(into, exist_ok=True)
        try:
            found = fetching.download_index(s3.client(self.target), self.target["bucket"], session.key, into)
        except Exception as exc:
            raise s3.explain(exc, self.target) from None
        return into if found else None

    def archive_fetch(self, session_id: str, cache: Path) -> Path | None:
        """Fetch an archived session (an id or its prefix) into a private folder under ``cache``
        named by its id, its receipt beside it; None if the bucket has no such session."""
        found = [row for row in self.archive_sessions() if row.session_id.startswith(session_id)]
        if len(found) != 1:
            return None
        session = found[0]  # its id is letters and digits only: it names no path of ours but its own
        into = cache / session.session_id
        make_private_dir(into, exist_ok=True)
        try:
            fetching.download(s3.client(self.target), self.target["bucket"], session.key, into,
                              receipt=cache / f"{session.session_id}.receipt.json")
        except Exception as exc:
            if not any(into.iterdir()):
                into.rmdir()  # an empty folder would look like a session fetched before
            raise s3.explain(exc, self.target) from None
        return into


def enqueue(session_id: str, folder: str, prefix: str, target: dict[str, str], kind: str, name: str, *,
            sha256: str = "", size: int = 0, snapshot: bytes | None = None) -> None:
    path = ""
    if snapshot is not None:
        path = queue.snapshot(snapshot)
        sha256, size = hashlib.sha256(snapshot).hexdigest(), len(snapshot)
    queue.put(queue.Entry(session_id, kind, name, folder, f"{prefix}/{name}", sha256, size, target,
                          snapshot=path))


def enqueue_legal_hold(session_id: str, folder: str, prefix: str, target: dict[str, str], on: bool) -> None:
    """The session's objects to get the legal hold (or lose it); one still queued the other way is dropped."""
    for entry in queue.entries():
        if entry.session_id == session_id and entry.kind == LEGAL_HOLD:
            queue.done(entry)
    queue.put(queue.Entry(session_id, LEGAL_HOLD, LEGAL_HOLD, folder, prefix, "", 0, target,
                          status="ON" if on else "OFF"))


def plugin_files(folder: Path) -> list[str]:
    """The files plugins keep in the session folder (``recorder.session_files``) that are there,
    besides what its manifest lists (uploaded as parts and the manifest)."""
    manifest = read_manifest(folder)
    listed = {"session.json"} | {p.file for p in manifest.parts} | {n for p in manifest.parts for n in p.sidecars}
    return sorted(name for name in session_files(folder) - listed if (folder / name).is_file())


def reconcile() -> None:
    """Queue what a crash left out: sealed parts of served sessions neither uploaded nor queued,
    the manifest of a session recovered, held or released since (it changed), the files plugins
    keep beside it (a signature written after the upload), and a legal hold the bucket lacks."""
    queued = {(entry.session_id, entry.name) for entry in queue.entries()}
    served_sessions = ledger.sessions()
    # The catalog once (it reads every session's manifest), not once per served session
    folders = {row.id: Path(row.folder) for row in known_sessions() if row.id in served_sessions}
    for session_id, served in served_sessions.items():
        folder = folders.get(session_id)
        if folder is None:
            continue
        try:
            manifest = read_manifest(folder)
        except (OSError, ManifestError):
            continue
        uploaded = {tuple(item) for item in served["uploaded"] if isinstance(item, list)}
        for part in manifest.parts:
            if part.state == "sealed" and (part.file, part.sha256) not in uploaded \
                    and (session_id, part.file) not in queued:
                enqueue(session_id, str(folder), served["prefix"], served["target"], "part", part.file,
                        sha256=part.sha256, size=part.size)
        if manifest.state == "recording":
            continue
        for kind, name in [("manifest", "session.json"), *(("file", name) for name in plugin_files(folder))]:
            data = (folder / name).read_bytes()
            if (name, hashlib.sha256(data).hexdigest()) not in uploaded and (session_id, name) not in queued:
                enqueue(session_id, str(folder), served["prefix"], served["target"], kind, name, snapshot=data)
        if (manifest.held is not None) != served.get("held", False) and (session_id, LEGAL_HOLD) not in queued:
            enqueue_legal_hold(session_id, str(folder), served["prefix"], served["target"], manifest.held is not None)
            ledger.set_held(session_id, manifest.held is not None)  # a hold a crash cut short, finished
