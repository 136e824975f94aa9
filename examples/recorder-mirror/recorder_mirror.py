"""Sink ``mirror``: each session in Documents, plus a copy of every sealed
part and of the final manifest in a second folder (a network share, say).

An example of a third-party recorder plugin, written on the public API only
(``import recorder``) and installed through the ``recorder`` entry-point
group. Configure it in a profile::

    [profiles.rep]
    sink = "mirror"

    [profiles.rep.mirror]
    directory = "/mnt/share/recordings"
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs

from recorder import documents_dir, hookimpl, make_private_dir, option

MANIFEST = "session.json"


def _absolute(instance, attribute, value):
    if not os.path.isabs(os.path.expanduser(value)):
        raise ValueError(f"must be an absolute folder path, got {value!r}")


@attrs.frozen
class MirrorOptions:
    directory: str = option(help="Second folder that receives a copy of each sealed part.",
                            validator=_absolute)
    folder_name: str = option("SessionRecordings", "Folder inside Documents for the primary copy.")


def _copy(session, name: str, mirror_root: Path) -> None:
    target = mirror_root / session.folder.name / name
    shutil.copyfile(session.folder / name, target)
    os.chmod(target, 0o600)


class MirrorSink:
    def __init__(self, options: MirrorOptions):
        self.options = options
        self.mirror_root = Path(options.directory).expanduser()

    def prepare(self, session, folder_name: str) -> Path:
        root = Path(session.output_dir).expanduser() if session.output_dir else \
            documents_dir() / self.options.folder_name
        make_private_dir(root, exist_ok=True)
        folder = root / folder_name
        make_private_dir(folder)
        make_private_dir(self.mirror_root, exist_ok=True)
        make_private_dir(self.mirror_root / folder_name)
        return folder

    def part_sealed(self, session, part) -> None:
        _copy(session, part.file, self.mirror_root)

    def finish(self, session) -> Path:
        return session.folder


@hookimpl
def recorder_session_ended(session):
    # The manifest is final only now (after the sink's finish()).
    options = session.options_for("mirror")
    if options is not None and (Path(options.directory).expanduser() / session.folder.name).is_dir():
        _copy(session, MANIFEST, Path(options.directory).expanduser())


@hookimpl
def recorder_register_sinks(register):
    register("mirror", MirrorSink, options=MirrorOptions,
             description="Documents, plus a copy of each sealed part in a second folder")
