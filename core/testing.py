"""Fixtures and helpers for testing recorder and its plugins.

Use from a conftest.py with ``pytest_plugins = ["recorder.testing"]``. Every
plugin host built here is fresh and ignores installed entry points, so a test
sees exactly the plugins it names.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import attrs
import av
import pytest
from recorder import hookimpl, make_private_dir, option
from recorder.config.layers import Layer, builtin_layer, flatten, merge
from recorder.config.profile import ResolvedProfile, resolve_profile
from recorder.host.manager import PluginHost, load_plugins
from recorder.pipeline.recording import Recording
from recorder.session.model import Session


def make_host(*extra: object, disabled: tuple[str, ...] = ()) -> PluginHost:
    """Built-ins plus ``extra`` plugins, no entry points.

    Each extra is an object with ``@hookimpl`` methods (named by its ``name``
    attribute or its class) or a ``(name, plugin)`` pair.
    """
    named = [p if isinstance(p, tuple) else (getattr(p, "name", None) or type(p).__name__.lower(), p)
             for p in extra]
    return load_plugins(entry_points_too=False, extra=named, disabled=disabled)


def make_profile(host: PluginHost, settings: dict[str, Any], name: str = "test") -> ResolvedProfile:
    """A profile from a plain table, on top of the built-in defaults."""
    config = merge([builtin_layer(), Layer("test settings", flatten({"profiles": {name: settings}}))])
    return resolve_profile(config, host.registry, name)


def record(host: PluginHost, settings: dict[str, Any], duration: float, name: str = "test") -> Session:
    """Record a session through the library API and return it once sealed."""
    return Recording(host, make_profile(host, settings, name), duration=duration).run()


@attrs.frozen
class TmpSinkOptions:
    directory: str = option("", "Where sessions go.")


class TmpSink:
    """A sink that keeps each session under a test's temporary folder."""

    def __init__(self, options: TmpSinkOptions):
        self.root = Path(options.directory)

    def prepare(self, session, folder_name: str) -> Path:
        make_private_dir(self.root, exist_ok=True)
        folder = self.root / folder_name
        make_private_dir(folder)
        return folder

    def finish(self, session) -> Path:
        return session.folder


class TmpSinkPlugin:
    name = "tmp-sink"

    @hookimpl
    def recorder_register_sinks(self, register):
        register("tmp", TmpSink, options=TmpSinkOptions, description="sessions in a temporary folder")


@attrs.frozen
class VideoInfo:
    codec: str
    container: str
    width: int
    height: int
    frames: int
    duration: float  # as the container declares it (else: last frame's time plus one frame interval)
    times: list[float]


def decode(path: Path) -> VideoInfo:
    """Decode every frame of a video file: the real check that a file plays."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(frame.time) for frame in container.decode(stream)]
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 1.0
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        name = container.format.name
        declared = container.duration
    step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 1 / rate
    # the container's own duration is right for variable frame rates too
    duration = declared / 1_000_000 if declared else (times[-1] + step if times else 0.0)
    return VideoInfo(codec, name, width, height, len(times), duration, times)


@pytest.fixture
def host() -> PluginHost:
    """Built-in plugins plus the temporary-folder sink ``tmp``."""
    return make_host(TmpSinkPlugin())


@pytest.fixture
def tmp_settings(tmp_path) -> dict[str, Any]:
    """Profile settings that record the synthetic source into ``tmp_path/sessions``."""
    return {"source": "synthetic", "sink": "tmp", "fps": 15.0,
            "synthetic": {"width": 320, "height": 240},
            "tmp": {"directory": str(tmp_path / "sessions")}}


def xvfb_available() -> bool:
    return shutil.which("Xvfb") is not None
