"""recorder: record remote-support sessions on the local machine.

This module is the whole API for plugin authors: everything a plugin needs
is importable from here, and nothing else in ``recorder`` is promised to
stay (built-in plugins are held to the same rule by a test). See
docs/plugins.md.
"""

from __future__ import annotations

from recorder.host.markers import hookimpl
from recorder.version import __version__

# Everything below is imported after ``hookimpl`` exists, so that a plugin
# imported while these load can already use it.
from recorder.config.options import option  # noqa: E402
from recorder.console import console  # noqa: E402
from recorder.errors import PluginError, RecorderError, UsageError  # noqa: E402
from recorder.privacy.keys import check_recipient as check_age_recipient  # noqa: E402
from recorder.playback.export import ExportJob  # noqa: E402
from recorder.playback.export import encode as encode_export  # noqa: E402
from recorder.playback.timeline import Timeline  # noqa: E402
from recorder.session.manifest import Manifest, ManifestError  # noqa: E402
from recorder.session.manifest import read as read_manifest  # noqa: E402
from recorder.session.model import Event, Part, Session  # noqa: E402
from recorder.store.catalog import Summary as SessionSummary  # noqa: E402
from recorder.store.catalog import forget as forget_session  # noqa: E402
from recorder.store.catalog import sessions as known_sessions  # noqa: E402
from recorder.store.files import (  # noqa: E402
    create_private_file,
    make_private_dir,
    sha256_file,
    write_private,
)
from recorder.store.saving import SaveError, move_session  # noqa: E402
from recorder.store.state import StateFile, documents_dir, plugin_state_dir, recordings_dir  # noqa: E402
from recorder.values import (  # noqa: E402
    ByteSize,
    Changes,
    Notification,
    PartStats,
    SaveChoice,
    VideoFormat,
    clock,
    human_size,
)

__all__ = [
    # writing a plugin
    "hookimpl", "option",
    # what plugins exchange with core
    "ByteSize", "Changes", "Notification", "PartStats", "SaveChoice", "VideoFormat",
    "Session", "Event", "Part", "Manifest", "read_manifest", "SessionSummary", "known_sessions",
    "forget_session",
    # privacy
    "check_age_recipient",
    # exporters
    "ExportJob", "Timeline", "encode_export",
    # errors
    "RecorderError", "UsageError", "PluginError", "ManifestError", "SaveError",
    # helpers: private files and folders, state of your own, moving a session, text
    "make_private_dir", "create_private_file", "write_private", "sha256_file", "plugin_state_dir",
    "StateFile", "documents_dir", "recordings_dir", "move_session", "console", "human_size", "clock",
    "__version__",
]
