"""A session folder lost while recording (deleted, or made unwritable) and found again later.

The recorder went on in a copy of its own (``rescued`` in its data folder,
core/pipeline/folder_watch.py), so the folder it left is no crash to recover: the
copy is the session. What the copy holds goes from the folder, which is then one
session again, in one place, with nothing reported lost that the copy kept. Called by
crash recovery of the folder and by the profile's next start.
"""

from __future__ import annotations

from pathlib import Path

from recorder.session import manifest as manifests
from recorder.session.manifest import MANIFEST, Manifest, ManifestError
from recorder.session.model import Event
from recorder.disk.state import data_dir

PARTIAL = ".partial"
RESCUED = "rescued"  # in recorder's data folder: sessions whose folder was lost while recording
OWN_WORKING_FILES = ".recorder-"  # recorder's and its plugins' working files (a disk guard's reserve)


def rescued_copy(folder: Path, manifest: Manifest) -> Path | None:
    """The copy the recorder went on in when ``folder`` was lost while recording, or None."""
    copy = data_dir() / RESCUED / folder.name
    try:
        theirs = manifests.read(copy)
        if copy.resolve() == folder.resolve() or theirs.session_id != manifest.session_id:
            return None
    except (ManifestError, OSError):
        return None
    return copy if any(event.kind == "rescued" for event in theirs.events) else None


def reconcile_with_rescued(folder: Path, copy: Path, manifest: Manifest) -> list[str] | None:
    """``folder``, writable again, and the copy its recording went on in: the copy is the
    session, so what it holds of ``folder`` (every part, whole or longer there) goes from
    ``folder``, its manifest last, and the folder too if nothing else is in it. None (and
    nothing touched) if the copy lacks any of it: then ``folder`` is recovered as it is."""
    theirs = {p.file: p for p in manifests.read(copy).parts if p.state == "sealed"}
    names = {p.file.removesuffix(PARTIAL) for p in manifest.parts}
    names |= {p.name.removesuffix(PARTIAL) for p in folder.glob(f"*{PARTIAL}")}
    mine = {p.file.removesuffix(PARTIAL): p for p in manifest.parts}
    files: list[Path] = []
    for name in sorted(names):
        kept, part = theirs.get(name), mine.get(name)
        for path in (folder / name, folder / (name + PARTIAL)):
            if not path.exists():
                continue
            if kept is None or path.stat().st_size > kept.size:
                return None
            if part is not None and part.state == "sealed" and path.name == name and part.sha256 != kept.sha256:
                return None
            files.append(path)
        files += [folder / side for side in (part.sidecars if part else {}) if (folder / side).exists()]
    files += [*folder.glob(f"{OWN_WORKING_FILES}*"), *folder.glob(f".{OWN_WORKING_FILES}*"),
              *folder.glob(f".{MANIFEST}.*.tmp")]
    for path in files:
        path.unlink(missing_ok=True)
    (folder / MANIFEST).unlink()
    try:
        folder.rmdir()
    except OSError:
        pass  # something that is not the session's: left where it is
    return [f"{folder}: its recording went on in {copy} when the folder was lost, and is whole there; "
            f"the {len(files)} file(s) it had copied from here are removed (nothing lost)"]


def reconcile_lost_folders(profile: str | None) -> list[str]:
    """Folders of ``profile``'s sessions (None: every profile's) lost while recording and
    writable again, each reconciled with the copy its recording went on in."""
    said: list[str] = []
    place = data_dir() / RESCUED
    for copy in sorted(place.iterdir()) if place.is_dir() else ():
        try:
            theirs = manifests.read(copy)
        except (ManifestError, OSError):
            continue
        for event in theirs.events if profile in (None, theirs.profile) else ():
            original = _lost_folder(event, copy)
            if original is None or original == copy or not (original / MANIFEST).is_file():
                continue
            try:
                manifest = manifests.read(original)
                if manifest.session_id == theirs.session_id and manifest.state == "recording":
                    said += reconcile_with_rescued(original, copy, manifest) or []
            except (ManifestError, OSError) as exc:
                said.append(f"{original}: not reconciled with {copy}: {exc}")
    return said


def _lost_folder(event: Event, copy: Path) -> Path | None:
    """The folder a ``rescued`` event says was lost: its data, or the text, which starts with
    the folder's path (whose name is the copy's) and then says what happened to it."""
    if event.kind != "rescued":
        return None
    if isinstance(event.data.get("folder"), str):
        return Path(event.data["folder"])
    cut = event.text.find(f"{copy.name} ")
    return Path(event.text[:cut + len(copy.name)]) if cut > 0 else None
