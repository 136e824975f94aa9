"""Sink ``documents``: each session in a folder of its own under the user's Documents.

Where Documents is synced to a cloud service (OneDrive folder redirection on
Windows, iCloud Desktop & Documents on macOS), recordings would leave the machine,
the opposite of why they are made locally: unless the administrator allows it
(``allow_cloud_folder``), sessions then go to a local folder, said in one line.
"""

from __future__ import annotations

import errno
from pathlib import Path

import attrs
import platformdirs
from recorder import console, documents_dir, hookimpl, make_private_dir, option, platform


def _plain_name(instance, attribute, value):
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise ValueError(f"must be a single folder name, got {value!r}")
    why = platform.check_folder_name(value, "folder_name")
    if why:
        raise ValueError(why.removeprefix("folder_name: "))


@attrs.frozen
class DocumentsOptions:
    folder_name: str = option("SessionRecordings", "Folder inside Documents that holds the sessions.",
                              validator=_plain_name)
    allow_cloud_folder: bool = option(False, "Save under Documents even when a cloud service (OneDrive, "
                                             "iCloud) syncs it; by default recordings then go to a local folder.")


def local_recordings() -> Path:
    """The local folder used instead of a cloud-synced Documents (never synced: LOCALAPPDATA
    on Windows, ~/Library/Application Support on macOS, XDG_DATA_HOME elsewhere)."""
    return platformdirs.user_data_path("recorder", appauthor=False, roaming=False) / "recordings"


class DocumentsSink:
    # Sessions stay where they are recorded: nobody is asked, so --save-to (the answer
    # to that question, given in advance) is refused rather than ignored.
    asks_where_to_save = False

    def __init__(self, options: DocumentsOptions):
        self.options = options

    def root(self, session) -> Path:
        if session.output_dir:
            return Path(session.output_dir).expanduser()  # chosen explicitly: taken as it is
        documents = documents_dir()
        cloud = None if self.options.allow_cloud_folder else platform.cloud_synced(documents)
        if cloud:
            local = local_recordings()
            console().print(f"recorder: {documents} is synced by {cloud}: recording to {local} instead "
                            "(documents.allow_cloud_folder = true to allow it)", markup=False, highlight=False)
            return local
        return documents / self.options.folder_name

    def prepare(self, session, folder_name: str) -> Path:
        root = self.root(session)
        try:
            return _session_folder(root, folder_name)
        except PermissionError as exc:
            if session.output_dir or root == local_recordings() or not _refused_by_macos_privacy(exc):
                raise
        # macOS asks the user once whether this terminal app may use Documents; until it is
        # allowed, every write there fails with EPERM. The recording is not lost for that.
        local = local_recordings()
        console().print(f"recorder: macOS does not let this app write in {root.parent}: recording to {local} "
                        "instead (allow it in System Settings > Privacy & Security > Files and Folders)",
                        markup=False, highlight=False)
        return _session_folder(local, folder_name)

    def finish(self, session) -> Path:
        return session.folder


def _session_folder(root: Path, folder_name: str) -> Path:
    make_private_dir(root, exist_ok=True)
    folder = root / folder_name
    make_private_dir(folder)
    return folder


def _refused_by_macos_privacy(exc: PermissionError) -> bool:
    """macOS's privacy control (TCC) refuses with EPERM ("Operation not permitted");
    a folder's own mode bits refuse with EACCES, which stays an error."""
    return platform.is_macos() and exc.errno == errno.EPERM


@hookimpl
def recorder_register_sinks(register):
    register("documents", DocumentsSink, options=DocumentsOptions,
             description="a folder per session under Documents/SessionRecordings (a local one if Documents "
                         "is cloud-synced)")
