"""``recorder verify``: is a session folder exactly what its manifest says?"""

from __future__ import annotations

from pathlib import Path

import av
from recorder.session import manifest as manifests
from recorder.session.manifest import MANIFEST, ManifestError
from recorder.store.files import sha256_file


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def verify(folder: Path) -> tuple[list[str], list[str]]:
    """Returns (what checked out, what is wrong); nothing wrong means verified."""
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
        try:
            frames = count_frames(path)
        except (av.FFmpegError, IndexError) as exc:
            problems.append(f"{name} does not decode: {exc}")
            continue
        if frames != part.frames:
            problems.append(f"{name}: {frames} frames decode, the manifest says {part.frames}")
            continue
        ok.append(f"{name}: {frames} frames, {part.duration:.1f} s, SHA-256 ok, decodes")
    for extra in sorted(p.name for p in folder.iterdir() if p.name not in expected):
        problems.append(f"unexpected file in the session folder: {extra}")
    return ok, problems
