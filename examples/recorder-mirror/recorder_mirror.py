"""Sink ``mirror``: the Documents sink, plus a copy of every sealed part in a second folder.

An example of a third-party recorder plugin, installed through the
``recorder`` entry-point group. Configure it in a profile::

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

from recorder import hookimpl, option
from recorder.manifest import MANIFEST, make_private_dir
from recorder.plugins.documents_sink import DocumentsOptions, DocumentsSink


def _absolute(instance, attribute, value):
    if not os.path.isabs(os.path.expanduser(value)):
        raise ValueError(f"must be an absolute folder path, got {value!r}")


@attrs.frozen
class MirrorOptions:
    directory: str = option(help="Second folder that receives a copy of each sealed part.",
                            validator=_absolute)
    folder_name: str = option("SessionRecordings", "Folder inside Documents for the primary copy.")


class MirrorSink(DocumentsSink):
    def __init__(self, options: MirrorOptions):
        super().__init__(DocumentsOptions(folder_name=options.folder_name))
        self.mirror_root = Path(options.directory).expanduser()

    def prepare(self, session, folder_name: str) -> Path:
        folder = super().prepare(session, folder_name)
        make_private_dir(self.mirror_root, exist_ok=True)
        make_private_dir(self.mirror_root / folder_name)
        return folder

    def _copy(self, session, name: str) -> None:
        target = self.mirror_root / session.folder.name / name
        shutil.copyfile(session.folder / name, target)
        os.chmod(target, 0o600)

    def part_sealed(self, session, part) -> None:
        self._copy(session, part.file)

    def finish(self, session) -> Path:
        self._copy(session, MANIFEST)
        return session.folder


@hookimpl
def recorder_register_sinks(register):
    register("mirror", MirrorSink, options=MirrorOptions,
             description="Documents, plus a copy of each sealed part in a second folder")
