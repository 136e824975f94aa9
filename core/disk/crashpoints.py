"""Named instants inside recorder's multi-step writes, where the test suite makes
the process die, the way storage engines test atomic commit (a crash after
every step, not only at random moments).

Off unless ``RECORDER_TEST_CRASH_AT`` names a point (``seal:renamed``, or
``seal:renamed@2`` for its second time); reaching it then kills the process
with SIGKILL, exactly as ``kill -9`` or the OOM killer would. Every point is
listed here, so that the tests can go through all of them.
"""

from __future__ import annotations

import os
import sys
import signal
import threading

POINTS = {
    # a part's seal: writer closed -> renamed -> hashed -> in the manifest
    "seal:closed": "the part's writer is closed, the file still .partial",
    "seal:renamed": "the part has its final name, the manifest still says it is being written",
    "seal:hashed": "the part is hashed, the manifest not yet rewritten",
    "seal:recorded": "the manifest says the part is sealed, hooks not yet called",
    # a split: the next part is created and announced while the last one seals
    "split:created": "the next part's .partial exists, the manifest does not name it",
    "split:opened": "the manifest names the next part",
    # finishing a part (plugins/h264/finish.py, on sealing and in recovery): its index and chapters
    "finish:indexed": "the part's index (a moov, its chapters in it) is appended, the header not yet rewritten",
    # crash recovery of a part
    "recover:repaired": "the encoder repaired the part, still under its .partial name",
    "recover:renamed": "the repaired part has its final name, the manifest not yet rewritten",
    "recover:recorded": "the manifest says the part is sealed, the journal not yet updated",
    # a key holder joining an encrypted part with the tail a crash left (recover --identity)
    "rewrap:written": "the joined part is written beside the old one, the manifest still names the old",
    "rewrap:recorded": "the manifest names the joined part, still under its .rewrap name",
    "rewrap:renamed": "the joined part has replaced the old one, whose tail is not yet removed",
    # saving a session to another filesystem: copy -> verify -> rename -> delete
    "move:copied": "every file is copied into the hidden folder at the destination",
    "move:verified": "the copy's hashes are checked",
    "move:renamed": "the copy has its final name, the staged folder still exists",
    "move:deleted": "the staged folder is deleted, the manifest not yet rewritten",
    # a legal hold or its release on a finished session (recorder hold / release)
    "hold:noted": "the hold is noted as under way, session.json not yet rewritten",
    "hold:written": "session.json has the hold (or release) event, the plugins not yet told",
    "hold:told": "the plugins did their part (a signature, the archive), the note not yet removed",
    # any file written whole (manifest, journal, catalog)
    "write:temporary": "the temporary file is written and fsynced, not yet renamed over the file",
}

_TARGET, _, _NTH = os.environ.get("RECORDER_TEST_CRASH_AT", "").partition("@")
_counts: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die here if the test run asked for it."""
    if not _TARGET or name != _TARGET:
        return
    assert name in POINTS, name
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        if _counts[name] >= int(_NTH or 1):
            if sys.platform == "win32":
                os._exit(137)  # no SIGKILL there: as abrupt (no cleanup, no flush)
            else:
                os.kill(os.getpid(), signal.SIGKILL)
