"""``recorder recover --identity``: a key holder makes each protected part a crash cut short whole.

The part stream that wrote the part reads it back (joined with what it kept
beside it), in memory; the part's encoder repairs it (its complete fragments
kept, finished into a regular file), and the stream protects it again as it
did the part. The steps, each safe to die after:

1. the new file is written beside the part as ``PART.rewrap`` and fsynced;
2. the manifest is rewritten to name the new hash, size and length (the
   commit point; an event keeps the hashes the part and its side files had);
3. ``PART.rewrap`` is renamed over the part, and the side files removed.

A crash before 2 leaves the old part and side files, and a leftover
``.rewrap`` that the next run deletes; after 2, the next run finishes the rename.
"""

from __future__ import annotations

from pathlib import Path

from recorder import platform
from recorder.session import manifest as manifests, streams
from recorder.disk.crashpoints import crash_point
from recorder.disk.files import fsync_folder, sha256_file
from recorder.disk.memory import release

REWRAP = ".rewrap"


def settle(folder: Path, manifest, stale_sidecars) -> None:
    """Finish or undo what an interrupted run of ``make_whole`` left. ``stale_sidecars(part)``:
    the side files a made-whole part may have left (from its ``made-whole`` event)."""
    for part in manifest.parts:
        leftover = folder / (part.file + REWRAP)
        if leftover.exists():
            if not part.sidecars and sha256_file(leftover) == part.sha256:
                platform.replace(leftover, folder / part.file)  # the manifest already names it
            else:
                leftover.unlink()
        for name in stale_sidecars(part):
            stale = folder / name
            if not part.sidecars and stale.exists() and sha256_file(folder / part.file) == part.sha256:
                stale.unlink()
    fsync_folder(folder)


def _left_by_make_whole(manifest):
    def stale(part) -> list[str]:
        return [name for event in manifest.events if event.kind == "made-whole" and event.data.get("part") == part.file
                for name in (event.data.get("was") or {}).get("sidecars") or {}
                if isinstance(name, str) and manifests.plain_name(name)]

    return stale


def make_whole(folder: Path, keys: dict, host, manifest=None) -> list[str]:
    """Join every protected part of the session in ``folder`` with its side files (``keys``: what
    ``--identity`` is to each part stream; ``manifest``: its manifest, if the caller has read it);
    one line per part."""
    manifest = manifest or manifests.read(folder)
    settle(folder, manifest, _left_by_make_whole(manifest))
    report = []
    for part in manifest.parts:
        stream = streams.find(host, part.stream) if part.stream else None
        if part.state != "sealed" or stream is None or not stream.protects or not stream.needs_whole(part):
            continue
        repair, _ = host.repairer(part.encoder)
        plain, stats = streams.materialize(host, folder, part, keys.get(part.stream), repair, manifest.fps)
        if plain is None:
            continue
        before = (part.duration, part.sha256, dict(part.sidecars))
        rewrap = folder / (part.file + REWRAP)
        stream.protect(plain, rewrap, [part])
        release(plain)
        crash_point("rewrap:written")
        if stats is not None:
            part.frames, part.duration = stats.frames, round(stats.duration, 3)
        part.size, part.sha256 = rewrap.stat().st_size, sha256_file(rewrap)
        sidecars, part.sidecars = part.sidecars, {}
        previous = ""
        for each in manifest.parts:  # the hash chain, from this part on
            if each.state == "sealed":
                each.previous_sha256, previous = previous, each.sha256
        manifest.totals_from_parts()
        joined = ", ".join(sidecars) or "nothing"
        manifest.add_event("made-whole", f"{part.file}: joined with what a crash left beside it ({joined}), by a "
                                         f"key holder: {part.frames} frames, {part.duration:.1f} s",
                           t=manifest.recorded_until(), by="recorder", part=part.file,
                           was={"sha256": before[1], "sidecars": before[2], "duration": before[0]})
        manifests.write(folder, manifest)
        crash_point("rewrap:recorded")
        platform.replace(rewrap, folder / part.file)
        crash_point("rewrap:renamed")
        for name in sidecars:
            (folder / name).unlink(missing_ok=True)
        fsync_folder(folder)
        report.append(f"{part.file}: whole, {part.frames} frames, {part.duration:.1f} s "
                      f"(was about {before[0]:.1f} s)")
    return report
