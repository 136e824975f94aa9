"""recorder: record remote-support sessions on the local machine.

This module is the whole API for plugin authors: everything a plugin needs
is importable from here, and nothing else in ``recorder`` is promised to
stay (built-in plugins are held to the same rule by a test). See
docs/plugins.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from recorder.host.markers import hookimpl
from recorder.version import __version__

# Imported here, not on first use: importing the submodule recorder.console would
# otherwise replace the package's ``console`` (the function) with the module.
from recorder.console import console  # noqa: E402

# The component protocols (recorder.components): the kinds first, then the capabilities.
_INTERFACES = ("Source", "Encoder", "PartWriter", "Sink", "Guard", "Notifier", "Exporter", "PartStream",
               "PartStreamWriter", "Protects", "BindsSession", "Paced", "RanksForAuto", "Repairs", "WritesToStream",
               "CountsFrames", "ProjectsSize", "TakesChangedRows", "TakesChangedRects", "TakesChapters",
               "RepairsWithChapters",
               "NamesDestinations", "AsksWhereToSave", "Preflights", "RequiresPreflight", "EndsSupportSession",
               "BeforeSeal", "StartsWithSession", "Stops", "KeepsReceipt", "HearsPartSealed",
               "HearsSessionEvent", "HearsSessionReceipt", "HearsSessionEnded", "Indexer")

# Where each name lives. They are imported when first used, not with the
# package: every ``recorder`` command imports this package, and most of them
# (``--version``, ``status``, ``mark``, ``stop``) need none of PyAV, the
# manifest model or the config machinery these bring in.
_WHERE = {
    "option": ("recorder.config.options", "option"),
    "PluginError": ("recorder.errors", "PluginError"),
    "RecorderError": ("recorder.errors", "RecorderError"),
    "UsageError": ("recorder.errors", "UsageError"),
    "SourceUnavailable": ("recorder.errors", "SourceUnavailable"),
    "RecoveredPart": ("recorder.session.streams", "RecoveredPart"),
    "ExportJob": ("recorder.playback.export", "ExportJob"),
    "encode_export": ("recorder.playback.export", "encode"),
    "Timeline": ("recorder.playback.timeline", "Timeline"),
    "Manifest": ("recorder.session.manifest", "Manifest"),
    "ManifestError": ("recorder.session.manifest", "ManifestError"),
    "read_manifest": ("recorder.session.manifest", "read"),
    "Event": ("recorder.session.model", "Event"),
    "Part": ("recorder.session.model", "Part"),
    "Session": ("recorder.session.model", "Session"),
    "SessionSummary": ("recorder.store.catalog", "Summary"),
    "forget_session": ("recorder.store.catalog", "forget"),
    "session_files": ("recorder.store.catalog", "session_files"),
    "known_sessions": ("recorder.store.catalog", "sessions"),
    "create_private_file": ("recorder.disk.files", "create_private_file"),
    "make_private_dir": ("recorder.disk.files", "make_private_dir"),
    "sha256_file": ("recorder.disk.files", "sha256_file"),
    "crash_point": ("recorder.disk.crashpoints", "crash_point"),
    "write_private": ("recorder.disk.files", "write_private"),
    "SaveError": ("recorder.store.saving", "SaveError"),
    # plugin commands (recorder_register_commands): the configuration, session ids and labels, notes
    "profiles_using": ("recorder.config.configured", "profiles_using"),
    "check_support_id": ("recorder.session.identity", "check_support_id"),
    "parse_labels": ("recorder.session.identity", "parse_labels"),
    "SessionNote": ("recorder.values", "SessionNote"),
    "move_session": ("recorder.store.saving", "move_session"),
    "delete_session_folder": ("recorder.store.saving", "delete_session_folder"),
    "StateFile": ("recorder.disk.state", "StateFile"),
    "documents_dir": ("recorder.disk.state", "documents_dir"),
    "plugin_state_dir": ("recorder.disk.state", "plugin_state_dir"),
    "recordings_dir": ("recorder.disk.state", "recordings_dir"),
    # what each kind of component has, and what only some have (docs/plugins.md)
    **{name: ("recorder.components", name) for name in _INTERFACES},
    **{name: ("recorder.values", name) for name in ("ByteSize", "Changes", "Chapter", "Notification", "PartStats",
                                                    "SaveChoice", "VideoFormat", "clock", "human_size",
                                                    "Screen", "TextSeen")},
}


# Modules of the API, imported on first use too: ``from recorder import platform``.
_MODULES = {"platform": "recorder.platform"}


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])  # which also binds it here
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'recorder' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE) | set(_MODULES))


if TYPE_CHECKING:  # what type checkers and editors see: the same names, imported
    from recorder import platform
    from recorder.config.options import option
    from recorder.components import (Source, Encoder, PartWriter, Sink, Guard, Notifier, Exporter,
                                     PartStream, PartStreamWriter, Protects, BindsSession, Paced, RanksForAuto,
                                     Repairs, TakesChapters, RepairsWithChapters,
                                     WritesToStream, CountsFrames, ProjectsSize, TakesChangedRows,
                                     TakesChangedRects, NamesDestinations, AsksWhereToSave, Preflights,
                                     RequiresPreflight,
                                     EndsSupportSession, BeforeSeal, StartsWithSession, Stops, KeepsReceipt,
                                     HearsPartSealed, HearsSessionEvent, HearsSessionReceipt,
                                     HearsSessionEnded, Indexer)
    from recorder.errors import PluginError, RecorderError, SourceUnavailable, UsageError
    from recorder.playback.export import ExportJob
    from recorder.playback.export import encode as encode_export
    from recorder.playback.timeline import Timeline
    from recorder.session.streams import RecoveredPart
    from recorder.session.manifest import Manifest, ManifestError
    from recorder.session.manifest import read as read_manifest
    from recorder.session.model import Event, Part, Session
    from recorder.store.catalog import Summary as SessionSummary
    from recorder.store.catalog import forget as forget_session
    from recorder.store.catalog import sessions as known_sessions
    from recorder.store.catalog import session_files
    from recorder.disk.files import create_private_file, make_private_dir, sha256_file, write_private
    from recorder.disk.crashpoints import crash_point
    from recorder.store.saving import SaveError, delete_session_folder, move_session
    from recorder.config.configured import profiles_using
    from recorder.session.identity import check_support_id, parse_labels
    from recorder.values import SessionNote
    from recorder.disk.state import StateFile, documents_dir, plugin_state_dir, recordings_dir
    from recorder.values import (ByteSize, Changes, Chapter, Notification, PartStats, SaveChoice, VideoFormat,
                                 clock, human_size)
    from recorder.values import Screen, TextSeen

__all__ = [
    # writing a plugin
    "hookimpl", "option",
    # what plugins exchange with core
    "ByteSize", "Changes", "Chapter", "Notification", "PartStats", "SaveChoice", "VideoFormat",
    "Screen", "TextSeen",
    "Session", "Event", "Part", "Manifest", "read_manifest", "SessionSummary", "known_sessions",
    "forget_session", "session_files",
    # plugin commands
    "profiles_using", "check_support_id", "parse_labels", "SessionNote",
    # part streams (recorder_register_part_streams)
    "RecoveredPart",
    # exporters
    "ExportJob", "Timeline", "encode_export",
    # what each kind of component has (the kinds), and what only some have (the capabilities)
    *_INTERFACES,
    # errors
    "RecorderError", "UsageError", "PluginError", "ManifestError", "SaveError", "SourceUnavailable",
    # helpers: private files and folders, state of your own, moving a session, text
    "make_private_dir", "create_private_file", "write_private", "sha256_file", "plugin_state_dir",
    "StateFile", "documents_dir", "recordings_dir", "move_session", "delete_session_folder", "console",
    "human_size", "clock",
    # multi-step writes: where the crash tests kill the process (RECORDER_TEST_CRASH_AT)
    "crash_point",
    # the operating system: its own __all__ says what plugins may use (docs/plugins.md)
    "platform",
    "__version__",
]
