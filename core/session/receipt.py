"""A session's receipt: what the support tool keeps, outside the session folder,
to prove later that the recording is whole.

The receipt lists every part with its SHA-256 and the session's totals, and a
head hash over all of it. ``recorder verify SESSION --receipt FILE`` checks the
folder against it, naming a part deleted (with its manifest entry), a part
changed, or a total edited; with only the head hash it says whether it matches.

A session with files a part stream keeps beside a part gets a version 2
receipt, which lists them (``sidecars``, name to SHA-256); version 1 named the
one such file there was, an encrypted part's tail, by its hash only
(``tail_sha256``), and is still issued for every other session. A receipt is
checked in the version it was issued in.

A receipt also says how the session ended: ``end_reason`` (as in session.json), ``why``
in words, and ``end_session_requested``, whether the support tool was asked to end the
support session (the disk filling; with ``require_recording``, any failure the
recording could not go on after). The head covers them when they are there: a
receipt issued before they existed is checked without them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from recorder.session.manifest import Manifest

RECEIPT_VERSION = 2
ENDING = ("end_reason", "why", "end_session_requested")


def _sidecars(part, version: int) -> dict[str, Any]:
    if not part.sidecars:
        return {}
    if version == 1:
        return {"tail_sha256": next(iter(part.sidecars.values()))}
    return {"sidecars": dict(part.sidecars)}


def ending(manifest: Manifest) -> dict[str, Any]:
    """How the session ended, from its timeline: what the support tool was told when it was
    asked to end the support session (words for everyone), else why the end was asked for."""
    if not manifest.end_reason:
        return {}
    asked = [e for e in manifest.events if e.kind == "notification" and e.data.get("notice") == "end-session-requested"]
    ended = [e for e in manifest.events if e.kind in ("end-requested", "end-reason")]
    why = asked[-1].text if asked else ended[-1].text if ended else manifest.end_reason
    return {"end_reason": manifest.end_reason, "why": why, "end_session_requested": bool(asked)}


def receipt(manifest: Manifest, version: int | None = None, with_ending: bool = True) -> dict[str, Any]:
    if version is None:
        version = RECEIPT_VERSION if any(p.sidecars for p in manifest.sealed_parts) else 1
    body = {
        "receipt_version": version,
        "session_id": manifest.session_id,
        "support_session_id": manifest.support_session_id,
        "labels": dict(manifest.labels),
        "parts": [{"file": p.file, "sha256": p.sha256, "frames": p.frames, "duration": p.duration,
                   "size": p.size, **_sidecars(p, version)}
                  for p in manifest.sealed_parts],
        "frames": manifest.frames,
        "duration": manifest.duration,
        **(ending(manifest) if with_ending else {}),
    }
    # The text index (when written by the time of the receipt) is listed, outside the head: it is
    # read from the recording, not part of it, and recorder index may complete it later.
    listed = {"text_index": {"file": manifest.text_index.file, "sha256": manifest.text_index.sha256,
                             "size": manifest.text_index.size, "complete": manifest.text_index.complete}} \
        if manifest.text_index is not None else {}
    return {**body, "head": head_of(body), **listed}


CONTENT = ("receipt_version", "session_id", "support_session_id", "labels", "parts", "frames", "duration")


def head_of(body: dict[str, Any]) -> str:
    """SHA-256 over the receipt's content in a canonical form (sorted keys, no spaces); what
    a carrier adds around it (an events file's kind and time) is not part of it."""
    content = {key: body.get(key) for key in CONTENT}
    if "end_reason" in body:  # receipts issued before these fields existed are hashed without them
        content.update({key: body.get(key) for key in ENDING})
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check(folder: Path, manifest: Manifest, expected: dict[str, Any] | str, sha256_of) -> list[str]:
    """What differs between the session on disk and the receipt (nothing: it matches).
    ``sha256_of(path)`` hashes a part as it is on disk."""
    if isinstance(expected, str):
        heads = {_on_disk(folder, manifest, version, sha256_of, with_ending)["head"]
                 for version in (1, RECEIPT_VERSION) for with_ending in (True, False)}
        return [] if expected in heads else ["the session does not match the receipt's head hash"]
    version = expected.get("receipt_version")
    actual = _on_disk(folder, manifest, version if version in (1, RECEIPT_VERSION) else RECEIPT_VERSION,
                      sha256_of)
    problems = []
    if head_of(expected) != expected.get("head"):
        problems.append("the receipt itself was changed (its head hash does not match its content)")
    listed = {p["file"]: p for p in actual["parts"]}
    for index, part in enumerate(expected.get("parts", []), 1):
        here = listed.get(part["file"])
        if here is None or not here["sha256"]:
            where = "last" if index == len(expected["parts"]) else f"number {index}"
            problems.append(f"{part['file']} (part {where} of {len(expected['parts'])}) is missing")
        elif here["sha256"] != part["sha256"] and _made_whole(manifest, part):
            problems.append(f"{part['file']} was made whole by a key holder after the receipt was issued "
                            "(recover --identity): the receipt names the part and what the crash left beside it")
        elif here["sha256"] != part["sha256"]:
            problems.append(f"{part['file']} is not the part the receipt names (SHA-256 differs)")
        elif (here.get("tail_sha256"), here.get("sidecars")) != (part.get("tail_sha256"), part.get("sidecars")):
            problems.append(f"{part['file']}: the files beside it are not the ones the receipt names")
    for name in sorted(set(listed) - {p["file"] for p in expected.get("parts", [])}):
        problems.append(f"{name} is not in the receipt")
    for total in ("frames", "duration"):
        if expected.get(total) != actual[total]:
            problems.append(f"the manifest's {total} ({actual[total]}) is not the receipt's ({expected.get(total)})")
    for key in ("session_id", "support_session_id"):
        if expected.get(key) != actual[key]:
            problems.append(f"{key} differs from the receipt's")
    if "end_reason" in expected and expected["end_reason"] != actual.get("end_reason"):
        problems.append(f"the manifest's end reason ({actual.get('end_reason')}) is not the receipt's "
                        f"({expected['end_reason']})")
    return problems


def _on_disk(folder: Path, manifest: Manifest, version: int, sha256_of, with_ending: bool = True) -> dict[str, Any]:
    """The receipt of the session as it is on disk: the hashes of its files, not the manifest's."""
    actual = receipt(manifest, version, with_ending)
    by_name = {p.file: p for p in manifest.sealed_parts}
    for part in actual["parts"]:
        path = folder / part["file"]
        part["sha256"] = sha256_of(path) if path.is_file() else ""
        sidecars = {name: sha256_of(folder / name) if (folder / name).is_file() else ""
                    for name in by_name[part["file"]].sidecars}
        if sidecars and version == 1:
            part["tail_sha256"] = next(iter(sidecars.values()))
        elif sidecars:
            part["sidecars"] = sidecars
    actual["head"] = head_of(actual)
    return actual


def _made_whole(manifest: Manifest, part: dict[str, Any]) -> bool:
    """The manifest says a key holder replaced this part, as the receipt names it, with its tail joined."""
    return any(e.kind == "made-whole" and e.data.get("part") == part["file"]
               and isinstance(e.data.get("was"), dict) and e.data["was"].get("sha256") == part["sha256"]
               for e in manifest.events)
