"""``recorder recover --identity``: a key holder makes each encrypted part a crash cut short whole.

The part and its tail are decrypted in memory, joined, repaired by the part's
encoder (its complete fragments kept, finished into a regular MP4), and
encrypted again to the same recipients. The steps, each safe to die after:

1. the new file is written beside the part as ``PART.rewrap`` and fsynced;
2. the manifest is rewritten to name the new hash, size and length (the
   commit point; an event keeps the hashes the part and its tail had);
3. ``PART.rewrap`` is renamed over the part, and the tail removed.

A crash before 2 leaves the old part and tail, and a leftover ``.rewrap``
that the next run deletes; after 2, the next run finishes the rename.
"""

from __future__ import annotations

from recorder import platform
from pathlib import Path

from recorder.privacy import plaintext
from recorder.privacy.stream import TAIL
from recorder.session import manifest as manifests
from recorder.store.crashpoints import crash_point
from recorder.store.files import fsync_folder, sha256_file

REWRAP = ".rewrap"


def settle(folder: Path, manifest) -> None:
    """Finish or undo what an interrupted run of ``make_whole`` left."""
    for part in manifest.parts:
        leftover = folder / (part.file + REWRAP)
        if leftover.exists():
            if not part.tail and sha256_file(leftover) == part.sha256:
                platform.replace(leftover, folder / part.file)  # the manifest already names it
            else:
                leftover.unlink()
        stale = folder / (part.file + TAIL)
        if not part.tail and stale.exists() and sha256_file(folder / part.file) == part.sha256:
            stale.unlink()
    fsync_folder(folder)


def make_whole(folder: Path, identities: list, host, manifest=None) -> list[str]:
    """Join every encrypted part of the session in ``folder`` with its tail (``manifest``: its
    manifest, if the caller has read it); one line per part."""
    manifest = manifest or manifests.read(folder)
    settle(folder, manifest)
    report = []
    for part in manifest.parts:
        # a tail to join, or a part sealed by crash recovery without the key (its length unknown)
        if part.state != "sealed" or not part.encrypted_to or not (part.tail or not part.frames):
            continue
        repair, _ = host.repairer(part.encoder)
        plain, stats = plaintext.materialize(folder, part, identities, repair, manifest.fps)
        before = (part.duration, part.sha256, part.tail_sha256)
        rewrap = folder / (part.file + REWRAP)
        plaintext.encrypt_to_file(plain, rewrap, part.encrypted_to)
        crash_point("rewrap:written")
        if stats is not None:
            part.frames, part.duration = stats.frames, round(stats.duration, 3)
        part.size, part.sha256 = rewrap.stat().st_size, sha256_file(rewrap)
        tail, part.tail, part.tail_sha256 = part.tail, "", ""
        previous = ""
        for each in manifest.parts:  # the hash chain, from this part on
            if each.state == "sealed":
                each.previous_sha256, previous = previous, each.sha256
        manifest.totals_from_parts()
        manifest.add_event("made-whole", f"{part.file}: joined with the tail a crash left, by a key holder: "
                                         f"{part.frames} frames, {part.duration:.1f} s",
                           t=manifest.recorded_until(), by="recorder", part=part.file,
                           was={"sha256": before[1], "tail_sha256": before[2], "duration": before[0]})
        manifests.write(folder, manifest)
        crash_point("rewrap:recorded")
        platform.replace(rewrap, folder / part.file)
        crash_point("rewrap:renamed")
        if tail:
            (folder / tail).unlink(missing_ok=True)
        fsync_folder(folder)
        report.append(f"{part.file}: whole, {part.frames} frames, {part.duration:.1f} s "
                      f"(was about {before[0]:.1f} s)")
    return report
