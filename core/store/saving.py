"""Saving a finished session somewhere else: checking the place, asking, moving,
and the whole of ``recorder save`` (``save``) with what it records and announces.

A move within a filesystem is a rename. Across filesystems the folder is
copied under a temporary name, every part's hash is checked against the
manifest, and only then is the copy renamed into place and the staged folder
removed: a failure at any step leaves the staged copy as it was. A kill at any
step leaves a note of the move under way (``moves.json`` in the state folder):
the profile's next start finishes it, or removes the half copy
(``finish_cut_moves``).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from recorder import platform
from recorder.errors import RecorderError, UsageError
from recorder.host.manager import PluginHost
from recorder.session import journal, manifest as manifests
from recorder.store import catalog
from recorder.disk.crashpoints import crash_point
from recorder.disk.files import FILE_MODE, folder_size, fsync_folder, make_private_dir, sha256_file, \
    shared_with_others
from recorder.disk.state import StateFile, state_dir
from recorder.values import SaveChoice, human_size


class SaveError(Exception):
    pass


def missing_parent(path: Path) -> Path | None:
    """The folder that should hold ``path`` when it does not exist. recorder creates only the last
    component of a path it is given (save's DIR, export's FILE): a typo higher up is told, not
    silently made into a tree of folders nobody will look in."""
    parent = path.expanduser().absolute().parent
    return None if parent.is_dir() else parent


def check_destination(path: Path, needed: int, source: Path | None = None) -> str | None:
    """Why ``path`` cannot take ``needed`` bytes, or None if it can (creating it if need be)."""
    if not path.is_absolute():
        return f"{path} is not an absolute path"
    if path.exists() and not path.is_dir():
        return f"{path} is not a folder"
    if not path.exists():
        try:
            make_private_dir(path)
        except OSError as exc:
            return f"{path} does not exist and cannot be created: {exc.strerror}"
    shared = shared_with_others(path)
    if shared:
        return f"{shared}: choose a folder only you can write to"
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"cannot write to {path}: {exc.strerror}"
    same_filesystem = source is not None and source.stat().st_dev == path.stat().st_dev
    free = shutil.disk_usage(path).free
    if not same_filesystem and free < needed:
        return f"not enough free space in {path}: the recording needs {human_size(needed)}, {human_size(free)} free"
    return None


def choose(ask: Callable[[Path, str | None], SaveChoice | None], default: Path, needed: int,
           source: Path) -> SaveChoice:
    """Ask until the answer is usable or the user gives up (``SaveChoice(None, ...)``)."""
    problem: str | None = None
    while True:
        choice = ask(default, problem)
        if choice is None or choice.path is None:
            return choice or SaveChoice(None, "no prompt")
        path = Path(choice.path).expanduser()
        problem = check_destination(path, needed, source)
        if problem is None:
            return SaveChoice(path, choice.how)


def save(folder: Path, directory: Path, host: PluginHost, roots: list[Path]) -> Path:
    """Save the finished session in ``folder`` into ``directory`` (``recorder save``); returns
    where it now is. The manifest and the journal learn the new place and a ``saved`` event
    (when it moved, or had been left unsaved), the catalog follows it, copies a crashed
    earlier move left in ``roots`` go, and the plugins hear of the event and the save."""
    manifest = manifests.read(folder)
    target_dir = directory.expanduser().absolute()
    problem = check_destination(target_dir, folder_size(folder), folder)
    if problem:
        raise UsageError(problem)
    try:
        target = move_session(folder, target_dir)
    except SaveError as exc:
        raise RecorderError(str(exc)) from None
    saved = None
    if target != folder or manifest.unsaved:
        saved = manifest.add_event("saved", f"saved to {target_dir} (recorder save)", t=manifest.recorded_until())
        manifests.write(target, manifest)
        journal.update(manifest.profile, manifest.session_id, folder=str(target))  # an interrupted one resumes there
    catalog.moved(manifest.session_id, target)
    drop_stale_copies(manifest.session_id, target, roots)
    _forget_move(manifest.session_id)  # a move a crash cut short, finished here
    moved = manifests.to_session(manifest, target)
    if saved is not None:
        host.call("recorder_session_event", session=moved, event=saved)
    host.call("recorder_session_saved", session=moved)
    return target


def move_session(folder: Path, destination: Path) -> Path:
    """Move a session folder into ``destination``; returns where it now is."""
    if folder.parent.resolve() == destination.resolve():
        return folder  # already there (saved before a restart, resumed, saved again)
    session_id = manifests.read(folder).session_id
    if _already_copied(folder, destination / folder.name):  # a copy that a crash cut short of deleting
        catalog.moved(session_id, destination / folder.name)
        delete_session_folder(folder)  # or at a later try, if a file in it is in use
        return destination / folder.name
    target = _free_name(destination / folder.name)
    # The catalog learns the new place first: whenever a crash comes, the session is
    # found (where the catalog says, or, not there yet, by scanning staging).
    catalog.moved(session_id, target)
    try:
        platform.rename(folder, target)
        return target
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            catalog.moved(session_id, folder)
            raise SaveError(f"cannot move {folder} to {destination}: {exc.strerror}") from None
    _note_move(session_id, folder, target)
    try:
        return _copy_verify_delete(folder, target)
    except SaveError:
        catalog.moved(session_id, folder)
        raise
    finally:
        _forget_move(session_id)


def _free_name(target: Path) -> Path:
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}-{n}")
    return candidate


def drop_stale_copies(session_id: str, kept: Path, roots) -> None:
    """Delete what a crashed move left behind: other folders of the session that
    ``kept`` is a complete, verified copy of (one in use is left for a later call)."""
    for other in catalog.copies(session_id, roots):
        if other.resolve() != kept.resolve() and _already_copied(other, kept):
            delete_session_folder(other)


# Windows: a file another program holds open (an antivirus, the search indexer, `recorder
# list` reading the manifest) cannot be deleted or renamed, nor its folder renamed, until
# it is closed. ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION:
SHARING_VIOLATIONS = (5, 32, 33)
DELETE_ATTEMPTS, DELETE_DELAY = 10, 0.2  # about 2 s for a moment's hold to pass


def _retrying(call, path: Path) -> None:
    for attempt in range(DELETE_ATTEMPTS):
        try:
            call(path)
            return
        except PermissionError as exc:
            if getattr(exc, "winerror", None) not in SHARING_VIOLATIONS or attempt == DELETE_ATTEMPTS - 1:
                raise
        time.sleep(DELETE_DELAY)


def delete_session_folder(folder: Path, *, unless_held: bool = False) -> str | None:
    """Delete a session folder whole, or leave it whole: None, or why it was kept.

    Windows deletes no file, and renames no file or folder, that another program holds
    open. So the folder is renamed aside, then every file in it, before anything is
    deleted: a session in use is put back as it was (each rename retried for a few
    seconds first). Then the files go, the manifest last; if one still cannot be deleted
    (opened in between), the rest get their names back and the folder its own, so that
    what is left is still a session folder, found and deleted at a later try.

    ``unless_held`` (retention): a session under a legal hold is put back and kept. It is asked
    once the folder is aside, so that a hold written a moment before is seen, and one a moment
    after finds no folder to write to (and says so) rather than a folder about to go."""
    aside = folder.with_name(f".{folder.name}.deleting")
    try:
        platform.rename(folder, aside)
    except OSError as exc:
        return f"a file in it is in use ({exc.strerror or exc})"
    if unless_held and _held(aside):
        platform.rename(aside, folder)
        return "it is held (a legal hold: recorder release first)"
    renamed: list[tuple[Path, Path]] = []
    try:
        for path in sorted(aside.iterdir(), key=lambda p: (p.name == manifests.MANIFEST, p.name)):
            platform.rename(path, path.with_name(path.name + ".deleting"))
            renamed.append((path, path.with_name(path.name + ".deleting")))
        while renamed:
            _retrying(os.unlink, renamed[0][1])
            renamed.pop(0)
    except OSError as exc:
        for path, moved in renamed:
            os.rename(moved, path)
        platform.rename(aside, folder)
        return f"{Path(exc.filename or '?').name.removesuffix('.deleting')} is in use ({exc.strerror or exc})"
    try:
        _retrying(os.rmdir, aside)
    except OSError:
        pass  # the session is gone; an empty hidden folder is left to whoever holds it
    return None


def _held(folder: Path) -> bool:
    try:
        return manifests.read(folder).held is not None
    except manifests.ManifestError:
        return False


def _already_copied(folder: Path, target: Path) -> bool:
    """``target`` is a complete, verified copy of the session in ``folder``."""
    try:
        if manifests.read(target).session_id != manifests.read(folder).session_id:
            return False
        _verify_copy(target)
    except (manifests.ManifestError, SaveError, OSError):
        return False
    return True


def _copy_verify_delete(folder: Path, target: Path) -> Path:
    temporary = target.with_name(f".{target.name}.partial")
    shutil.rmtree(temporary, ignore_errors=True)  # left by a copy a crash interrupted
    try:
        make_private_dir(temporary)
        for source in sorted(folder.iterdir()):
            if source.is_file():
                copy_private(source, temporary / source.name)
        crash_point("move:copied")
        _verify_copy(temporary)
        crash_point("move:verified")
        fsync_folder(temporary)
        platform.rename(temporary, target)
        fsync_folder(target.parent)
        crash_point("move:renamed")
    except Exception as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SaveError(f"cannot copy the recording to {target.parent}: {reason}; "
                        f"it is still in {folder}") from None
    kept = delete_session_folder(folder)
    if kept:
        # The original cannot go now (a file of it is in use): the copy goes instead, so
        # that the recording stays in one place recorder knows, rather than in two.
        delete_session_folder(target)
        raise SaveError(f"cannot move the recording to {target.parent}: {kept}; it is still in {folder}")
    crash_point("move:deleted")
    return target


def copy_private(source: Path, target: Path) -> None:
    # Binary (Windows would otherwise write a CRLF for each LF), never through a link.
    fd = platform.open_binary(target, platform.nofollow(os.O_WRONLY | os.O_CREAT | os.O_EXCL), FILE_MODE)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        platform.fsync(dst.fileno())


def _verify_copy(copy: Path) -> None:
    for part in manifests.read(copy).sealed_parts:
        if sha256_file(copy / part.file) != part.sha256:
            raise SaveError(f"the copy of {part.file} does not match its SHA-256")




# -- a move a kill cut short ------------------------------------------------------

MOVES = "moves.json"


def _moves() -> StateFile:
    return StateFile(state_dir() / MOVES)


def _note_move(session_id: str, folder: Path, target: Path) -> None:
    profile = manifests.read(folder).profile
    with _moves().update() as moves:
        moves[session_id] = {"from": str(folder), "to": str(target), "profile": profile, "pid": os.getpid()}


def _forget_move(session_id: str) -> None:
    with _moves().update() as moves:
        moves.pop(session_id, None)


def finish_cut_moves(profile: str, host: PluginHost) -> list[str]:
    """Moves of ``profile``'s sessions to another filesystem that a kill cut short (the
    caller holds the profile's lock): each is finished where its copy is whole, or its
    half copy at the destination removed (the staged session then stays unsaved, as
    ``recorder list`` says); one line for each."""
    said = []
    for session_id, move in _moves().read().items():
        if not isinstance(move, dict) or move.get("profile") != profile:
            continue
        pid = move.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and platform.process_alive(pid):
            continue  # still under way (`recorder save` in another process)
        try:
            said.append(_finish_cut_move(session_id, Path(move["from"]), Path(move["to"]), host))
        except (OSError, KeyError, TypeError, manifests.ManifestError) as exc:
            said.append(f"{session_id[:8]}: a move cut short could not be finished: {exc}")
            continue
        _forget_move(session_id)
    return said


def _finish_cut_move(session_id: str, source: Path, target: Path, host: PluginHost) -> str:
    half = target.with_name(f".{target.name}.partial")
    staged = (source / manifests.MANIFEST).is_file()
    if not (target / manifests.MANIFEST).is_file():
        if half.is_dir() and _whole_copy(source, half):
            fsync_folder(half)
            platform.rename(half, target)
            fsync_folder(target.parent)
        elif staged:
            shutil.rmtree(half, ignore_errors=True)
            catalog.moved(session_id, source)
            manifest = manifests.read(source)
            manifest.add_event("unsaved", f"not saved: the move to {target.parent} was cut short; the recording "
                                          f"stays in {source}; save it with: recorder save {session_id[:8]} DIR",
                               t=manifest.recorded_until(), level="warning")
            manifests.write(source, manifest)
            return f"{session_id[:8]}: the move to {target.parent} was cut short; the recording stays in {source}"
        else:
            return f"{session_id[:8]}: neither {source} nor {target} holds the session; nothing done"
    if staged and _already_copied(source, target):
        delete_session_folder(source)
    manifest = manifests.read(target)
    catalog.moved(session_id, target)
    journal.update(manifest.profile, session_id, folder=str(target))
    if manifest.unsaved:
        event = manifest.add_event("saved", f"saved to {target.parent} (a move a crash cut short, finished by "
                                            "the next start)", t=manifest.recorded_until())
        manifests.write(target, manifest)
        moved = manifests.to_session(manifest, target)
        host.call("recorder_session_event", session=moved, event=event)
        host.call("recorder_session_saved", session=moved)
    return f"{session_id[:8]}: the move a crash cut short is finished: saved to {target}"


def _whole_copy(source: Path, copy: Path) -> bool:
    """``copy`` holds every file of ``source`` at its size, and its parts' hashes check."""
    try:
        sizes = {p.name: p.stat().st_size for p in source.iterdir() if p.is_file()}
        if any(not (copy / name).is_file() or (copy / name).stat().st_size != size for name, size in sizes.items()):
            return False
    except OSError:
        return False
    return _already_copied(source, copy)
