"""Sink ``documents``: each session in a folder of its own under the user's Documents."""

from __future__ import annotations

from pathlib import Path

import attrs
from recorder import documents_dir, hookimpl, make_private_dir, option


def _plain_name(instance, attribute, value):
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise ValueError(f"must be a single folder name, got {value!r}")


@attrs.frozen
class DocumentsOptions:
    folder_name: str = option("SessionRecordings", "Folder inside Documents that holds the sessions.",
                              validator=_plain_name)


class DocumentsSink:
    def __init__(self, options: DocumentsOptions):
        self.options = options

    def root(self, session) -> Path:
        if session.output_dir:
            return Path(session.output_dir).expanduser()
        return documents_dir() / self.options.folder_name

    def prepare(self, session, folder_name: str) -> Path:
        root = self.root(session)
        make_private_dir(root, exist_ok=True)
        folder = root / folder_name
        make_private_dir(folder)
        return folder

    def finish(self, session) -> Path:
        return session.folder


@hookimpl
def recorder_register_sinks(register):
    register("documents", DocumentsSink, options=DocumentsOptions,
             description="a folder per session under Documents/SessionRecordings")
