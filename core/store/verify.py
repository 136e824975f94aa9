"""``recorder verify``: is a session folder exactly what its manifest says?

A part written through a part stream (a plugin) is checked by that stream,
which alone knows what can be read of it without a key; core checks its hash
and the hashes of the files the stream keeps beside it, as for every part."""

from __future__ import annotations

import re
from pathlib import Path

import av
from recorder import platform
from recorder.session import manifest as manifests, streams
from recorder.session.manifest import MANIFEST, ManifestError
from recorder.store import catalog, results, text_index
from recorder.disk.files import sha256_file


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def cross_check(manifest) -> list[str]:
    """The manifest against itself: its totals and the events that name parts must agree
    with the parts it lists (a part removed together with its entry shows here)."""
    problems = []
    parts = manifest.parts
    duration, frames = sum(p.duration for p in parts), sum(p.frames for p in parts)
    if abs(manifest.duration - duration) > 0.002:
        problems.append(f"the manifest's duration ({manifest.duration:.3f} s) disagrees with its parts "
                        f"({duration:.3f} s)")
    if manifest.frames != frames:
        problems.append(f"the manifest's frame count ({manifest.frames}) disagrees with its parts ({frames})")
    indexes = [p.index for p in parts]
    if indexes != list(range(1, len(parts) + 1)):
        problems.append(f"the parts are numbered {indexes}, not 1 to {len(parts)} (one was removed?)")
    files = {p.file for p in parts}
    for event in manifest.events:
        named = _part_named(event)
        if isinstance(named, int) and named > len(parts):
            problems.append(f"the {event.kind} event at {event.t:.1f} s names part {named}, "
                            f"but the manifest lists {len(parts)}")
        elif isinstance(named, str) and named not in files:
            problems.append(f"the {event.kind} event at {event.t:.1f} s names {named}, which the manifest "
                            "does not list")
    return problems


def _part_named(event) -> int | str | None:
    """The part an event refers to: its number (a resumption) or its file (a repair)."""
    if event.kind == "resumed":
        found = re.search(r"in part (\d+)", event.text)
        return event.data.get("part") if isinstance(event.data.get("part"), int) else (
            int(found[1]) if found else None)
    if event.kind == "part-repaired":
        found = re.match(r"(part-\d{3}\.[a-z0-9]+)", event.text)
        return found[1] if found else None
    return None


def _check_sidecars(folder: Path, part, expected: set[str]) -> list[str]:
    problems = []
    for name, digest in part.sidecars.items():
        expected.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing (kept beside {part.file} by part stream '{part.stream}')")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: SHA-256 does not match the manifest (the file was changed)")
    return problems


def _check_through_stream(folder: Path, part, expected: set[str], host) -> tuple[str, list[str]]:
    """What the part's stream says of it (without a key), and the files it keeps beside it."""
    problems = _check_sidecars(folder, part, expected)
    stream = streams.find(host, part.stream) if host is not None else None
    if stream is None:
        return f"SHA-256 ok (written through part stream '{part.stream}', not installed here)", problems
    said, found = stream.verify(folder, part)
    return f"SHA-256 ok, {said}", problems + list(found)


def verify(folder: Path, host=None) -> tuple[list[str], list[str]]:
    """Returns (what checked out, what is wrong); nothing wrong means verified. ``host``: the
    plugins, whose part streams check the parts written through them."""
    ok: list[str] = []
    problems: list[str] = []
    try:
        manifest = manifests.read(folder)
    except ManifestError as exc:
        return ok, [str(exc)]
    if manifest.state != "complete":
        problems.append(f"the session is not complete (state {manifest.state!r})")
    previous = ""
    expected = {MANIFEST}
    for part in manifest.parts:
        name = part.file
        expected.add(name)
        path = folder / name
        if part.previous_sha256 != previous:
            problems.append(f"{name}: hash chain broken (the part before it was removed or reordered)")
        previous = part.sha256
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        if sha256_file(path) != part.sha256:
            problems.append(f"{name}: SHA-256 does not match the manifest (the file was changed)")
            continue
        if part.stream:
            said, found = _check_through_stream(folder, part, expected, host)
            if found:
                problems += found
            else:
                ok.append(f"{name}: {said}")
            continue
        try:
            frames = count_frames(path)
        except (av.FFmpegError, IndexError) as exc:
            problems.append(f"{name} does not decode: {exc}")
            continue
        if frames != part.frames:
            problems.append(f"{name}: {frames} frames decode, the manifest says {part.frames}")
            continue
        ok.append(f"{name}: {frames} frames, {part.duration:.1f} s, SHA-256 ok, decodes")
    listed_ok, listed_problems, names = text_index.check_listed(folder, manifest.text_index)
    ok, problems, expected = ok + listed_ok, problems + listed_problems, expected | names
    if host is not None:  # files plugins keep beside the parts (a signature): theirs, not unexpected
        expected |= {name for names in host.call("recorder_session_files", folder=folder) or []
                     for name in names or []}
    # Finder and Explorer write .DS_Store, ._*, Thumbs.db, desktop.ini into folders a user
    # opens: not the session's, and no sign of tampering (a plain file, never a link).
    for extra in sorted(p.name for p in folder.iterdir() if p.name not in expected
                        and not (platform.is_os_metadata(p.name) and p.is_file() and not p.is_symlink())):
        problems.append(f"unexpected file in the session folder: {extra}")
    problems += cross_check(manifest)
    if not problems:
        ok.append(f"totals agree: {len(manifest.parts)} part(s), {manifest.frames} frames, "
                  f"{manifest.duration:.1f} s")
    if not catalog.held_by_its_recorder(manifest):  # a live session's problems are its recorder's work in progress
        results.record(manifest.session_id, problems)
    return ok, problems
