"""A plugin with hooks only (no source, sink or guard of its own), and options.

It copies every sealed part, and at the end the manifest, into a folder of
its own per session. Configure it per profile; without a ``directory`` it
does nothing::

    [profiles.rep.copycat]
    directory = "/mnt/backup/recordings"
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs

from recorder import hookimpl, make_private_dir, option


def _absolute_or_empty(instance, attribute, value):
    if value and not os.path.isabs(os.path.expanduser(value)):
        raise ValueError(f"must be an absolute folder path, got {value!r}")


@attrs.frozen
class CopycatOptions:
    directory: str = option("", "Folder that receives a copy of each session (empty: off).",
                            validator=_absolute_or_empty)


@hookimpl
def recorder_register_options(register):
    register("copycat", CopycatOptions, description="copies each sealed part to a folder")


def _target(session) -> Path | None:
    options = session.options_for("copycat")
    if options is None or not options.directory:
        return None
    target = Path(options.directory).expanduser() / session.id
    make_private_dir(target, exist_ok=True)
    return target


@hookimpl
def recorder_part_sealed(session, part):
    target = _target(session)
    if target is not None:
        shutil.copyfile(session.folder / part.file, target / part.file)
        os.chmod(target / part.file, 0o600)


@hookimpl
def recorder_session_ended(session):
    target = _target(session)
    if target is not None:
        shutil.copyfile(session.folder / "session.json", target / "session.json")
        os.chmod(target / "session.json", 0o600)
