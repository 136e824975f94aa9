"""A legal hold placed or released with ``recorder hold`` / ``recorder release`` on a session
the archive serves (``recorder_session_hold``): the changed session.json and its signature go
up, and every version of every object of the session gets the S3 Object Lock legal hold (ON),
or loses it (OFF), now, in the foreground, so that the command says whether the bucket holds
it. What cannot be done now stays in the upload queue (``recorder archive --status``) and is
done at the next start or ``recorder archive --drain``."""

from __future__ import annotations

from pathlib import Path

from recorder.plugins.archive import ledger, queue
from recorder.plugins.archive.guard import enqueue_legal_hold, find_session, reconcile
from recorder.plugins.archive.uploader import LEGAL_HOLD, Uploader

Said = tuple[bool, str]


def index_changed(session) -> None:
    """``recorder index`` changed a served session's session.json and its text index: both (and
    session.json's new signature) are queued, to go up at the next start or ``archive --drain``."""
    if session.id in ledger.sessions():
        reconcile()


def hold_changed(session, event) -> list[Said]:
    served = ledger.sessions().get(session.id)
    if served is None:
        return []  # never uploaded by this machine's archive: nothing in a bucket to hold
    on = event.kind == "hold"
    # Queued before the ledger says so: the ledger is what the next start's reconciliation
    # compares with session.json, so a crash in between leaves a difference it finds.
    enqueue_legal_hold(session.id, str(Path(session.folder)), served["prefix"], served["target"], on)
    ledger.set_held(session.id, on)  # whatever is uploaded from now on follows it
    reconcile()  # the changed session.json and its signature, queued
    problems: list[str] = []
    uploader = Uploader(chunk_size=16 * 2**20, max_rate=0, verify="auto", find=find_session,
                        report=lambda entry, problem: problems.append(f"{entry.name}: {problem}"),
                        uploaded=lambda entry: ledger.arrived(entry.session_id, entry.name, entry.sha256),
                        held=ledger.held)
    mine = [entry for entry in queue.entries() if entry.session_id == session.id]
    # the files first, the legal hold last: it then covers every version they added
    for entry in sorted(mine, key=lambda entry: entry.kind == LEGAL_HOLD):
        if not uploader.upload(entry):
            problems.append(f"{entry.name}: {entry.last_error}")
    bucket = served["target"].get("bucket", "")
    if problems:
        return [(False, f"archive: the legal hold in bucket '{bucket}' is not {'placed' if on else 'released'} "
                        f"yet ({problems[-1]}); it waits in the upload queue (recorder archive --status)")]
    count = sum(n for entry, n in uploader.legal_holds if entry.status == ("ON" if on else "OFF"))
    return [(True, f"archive: legal hold {'ON' if on else 'OFF'} on {count} object version(s) under "
                   f"{served['prefix']}/ in bucket '{bucket}'")]
