"""Part streams: plugins that carry a part's bytes from the encoder to its file.

A part stream is a component (``recorder_register_part_streams``); a plugin
turns it on for a session with ``Session.wrap_parts(name, meta)`` before
recording starts. Core then knows the part only through the stream's methods
(docs/plugins.md lists them and the thread each runs on) and what the
manifest records: which stream wrote the part (``Part.stream``), what it said
about it (``Part.stream_meta``) and the files it keeps beside it
(``Part.sidecars``, hashed and verified by core like the part itself).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, Callable

import attrs
from recorder import platform
from recorder.components import WritesToStream
from recorder.errors import UsageError
from recorder.host.isolation import running
from recorder.session.model import Part
from recorder.disk.memory import memory_file, write_new
from recorder.values import PartStats

KIND = "part_stream"
_BUILT: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()  # per plugin host


@attrs.frozen
class RecoveredPart:
    """What a part stream keeps of a part a crash left unsealed (``recover(folder, part, path)``).

    ``keep`` False: nothing readable, the part is dropped. ``sidecars``: files beside the part
    that belong to it from now on. ``note``: the report line after the part's name."""
    keep: bool
    note: str
    frames: int = 0
    duration: float = 0.0
    sidecars: list[str] = attrs.Factory(list)


class _Attributed:
    """A part stream object whose calls run as its plugin's (events it adds are by it)."""

    def __init__(self, stream: Any, plugin: str):
        self._stream, self._plugin = stream, plugin

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._stream, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            with running(self._plugin):
                return value(*args, **kwargs)

        return call


def find(host, name: str) -> Any | None:
    """The part stream registered as ``name`` (built once per host), or None."""
    built = _BUILT.setdefault(host, {})
    if name not in built:
        component = host.registry.get(name)
        if component is None or component.kind != KIND:
            return None
        with running(component.plugin):
            built[name] = _Attributed(component.factory(component.options() if component.options else None),
                                      component.plugin)
    return built[name]


def require(host, name: str) -> Any:
    stream = find(host, name)
    if stream is None:
        raise UsageError(f"part stream '{name}' is not installed (the plugin that wrote these parts)")
    return stream


def check_for_recording(host, session, encoder_name: str, encoder) -> None:
    """Before recording: the session's part stream exists and the encoder can write into it."""
    wrap = session.part_wrap
    if wrap is None:
        return
    stream = wrap.writer = require(host, wrap.stream)
    if not (isinstance(encoder, WritesToStream) and encoder.writes_to_stream):
        raise UsageError(f"encoder '{encoder_name}' cannot write {stream.label} parts (it writes files, not a "
                         f"stream): choose another encoder or leave out what turns on part stream '{wrap.stream}'")


def streams_of(manifest) -> dict[str, list[Part]]:
    """The part streams a session's parts went through, with their parts."""
    found: dict[str, list[Part]] = {}
    for part in manifest.parts:
        if part.stream:
            found.setdefault(part.stream, []).append(part)
    return found


def protected(manifest, host) -> list[str]:
    """How each protecting stream describes its parts ("encrypted to ..."); empty: none needs a key."""
    said = []
    for name, parts in streams_of(manifest).items():
        stream = require(host, name)
        if stream.protects:
            said.append(stream.describe(parts))
    return said


def refuse_without_key(manifest, host, command: str) -> None:
    said = protected(manifest, host)
    if said:
        raise UsageError(f"session {manifest.session_id[:8]} is {'; '.join(said)}: {command} needs the key: "
                         "give --identity FILE")


def load_keys(manifest, host, reference: str | None) -> dict[str, Any]:
    """``--identity``, as each part stream of the session reads it. This process then holds
    a key and the content it opens: it never dumps core, whatever stream reads the key."""
    if not reference:
        return {}
    platform.no_core_dumps()
    return {name: require(host, name).load_key(reference) for name in streams_of(manifest)
            if require(host, name).protects}


def materialize(host, folder: Path, part: Part, key: Any, repairer: Callable | None, fps: float,
                into: Path | None = None) -> tuple[Path | None, PartStats | None]:
    """The part's bytes as its encoder wrote them, in memory (or as a file in ``into``, a
    folder from ``memory_folder``) and repaired if its encoder can; returns the path and what
    the repair found, or (None, None) if the file on disk already holds those bytes."""
    data = require(host, part.stream).read(folder, part, key)
    if data is None:
        return None, None
    if into is None:
        path = memory_file(data, part.file)
    else:
        stream = require(host, part.stream)
        path = into / (part.file.removesuffix(stream.suffix) if stream.suffix else part.file)
        write_new(path, data)
    stats = None
    if repairer is not None:
        try:
            stats = repairer(path, fps)
        except Exception:  # noqa: BLE001 - the part plays as it is
            stats = None
    return path, stats


def read_back(line, host, keys: dict[str, Any], into: Path | None = None):
    """``line`` (a Timeline) with each part its stream must read back replaced by those bytes
    (in memory, or files in ``into``), repaired by its encoder: what play and export read."""
    by_name = {part.file: part for part in line.manifest.parts}
    segments = []
    for seg in line.segments:
        part = by_name.get(seg.path.name)
        if part is not None and part.stream:
            repair, _ = host.repairer(part.encoder)
            path, _ = materialize(host, line.folder, part, keys.get(part.stream), repair, line.manifest.fps, into)
            if path is not None:
                seg = attrs.evolve(seg, path=path)
        segments.append(seg)
    return attrs.evolve(line, segments=segments)


def export_protection(manifest, host) -> tuple[str, Callable[[Path, Path], None]] | None:
    """(suffix, write) of the part stream that protects the session's parts, for its exports."""
    for name, parts in streams_of(manifest).items():
        stream = require(host, name)
        if stream.protects:
            return stream.suffix, lambda source, target, stream=stream, parts=parts: stream.protect(source, target,
                                                                                                    parts)
    return None


def load_every_key(host, reference: str | None) -> dict[str, Any]:
    """``--identity`` as every installed part stream that protects its parts reads it (read once:
    it may be standard input), for commands that go through many sessions; no core dump after."""
    if not reference:
        return {}
    platform.no_core_dumps()
    keys = {}
    for component in host.registry.of_kind(KIND):
        stream = find(host, component.name)
        if stream is not None and stream.protects:
            keys[component.name] = stream.load_key(reference)
    return keys
