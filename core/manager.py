"""Build the plugin manager: built-ins, then the ``recorder`` entry-point group.

A plugin that cannot be loaded (import error, misspelled hook, a registration
hook that raises) is left out and named in ``PluginSet.broken``; the rest keep
working, so one bad third-party plugin never stops a recording it has no part in.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any, Iterable

import attrs
import pluggy
import recorder
from recorder import hookspecs
from recorder.errors import UsageError, describe
from recorder.registry import KINDS, DuplicateName, Registry

DEFAULT_PLUGINS = {
    "mss": "recorder.plugins.mss_source",
    "synthetic": "recorder.plugins.synthetic_source",
    "h264": "recorder.plugins.h264_encoder",
    "documents": "recorder.plugins.documents_sink",
    "console": "recorder.plugins.console_notifier",
    "prompt": "recorder.plugins.prompt_sink",
    "terminal-prompt": "recorder.plugins.terminal_prompt",
    "dialog-prompt": "recorder.plugins.dialog_prompt",
    "remembered-prompt": "recorder.plugins.remembered_prompt",
    "retention": "recorder.plugins.retention",
    "disk-space": "recorder.plugins.disk_space_guard",
    "webhook": "recorder.plugins.webhook_notifier",
    "events-file": "recorder.plugins.events_file_notifier",
    "desktop": "recorder.plugins.desktop_notifier",
    "signals": "recorder.plugins.signals_guard",
    "logind": "recorder.plugins.logind_guard",
    "windows-shutdown": "recorder.plugins.windows_shutdown_guard",
    "mp4-export": "recorder.plugins.mp4_exporter",
    "wmv-export": "recorder.plugins.wmv_exporter",
    "webm-export": "recorder.plugins.webm_exporter",
    "gif-export": "recorder.plugins.gif_exporter",
}
ENTRY_POINT_GROUP = "recorder"
DISABLED_ENV = "RECORDER_DISABLED_PLUGINS"


@attrs.define
class PluginSet:
    pm: pluggy.PluginManager
    registry: Registry
    versions: dict[str, str]
    broken: dict[str, str]

    def call(self, hook_name: str, on_error, **kwargs: Any) -> None:
        """Call every implementation of a lifecycle hook, isolating failures.

        ``on_error(plugin_name, exc)`` is told about each implementation that
        raises; the others still run.
        """
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                on_error(impl.plugin_name, exc)


    def first(self, hook_name: str, on_error, **kwargs: Any) -> Any:
        """Call a firstresult hook, skipping implementations that raise (named via ``on_error``)."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                result = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                on_error(impl.plugin_name, exc)
                continue
            if result is not None:
                return result
        return None


def disabled_from_env() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLED_ENV, "").split(",") if name.strip()}


def load_plugins(*, entry_points_too: bool = True, extra: Iterable[tuple[str, object]] = (),
                 disabled: Iterable[str] | None = None) -> PluginSet:
    pm = pluggy.PluginManager("recorder")
    pm.add_hookspecs(hookspecs)
    for name in disabled_from_env() if disabled is None else disabled:
        pm.set_blocked(name)
    plugins = PluginSet(pm, Registry(), {}, {})

    for name, module in DEFAULT_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module), name)
            plugins.versions[name] = f"{recorder.__version__} (built-in)"
    if entry_points_too:
        _load_entry_points(plugins)
    for name, obj in extra:
        _register(plugins, name, obj, "")
    _drop_invalid(plugins)
    _register_components(plugins)
    return plugins


def _load_entry_points(plugins: PluginSet) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if plugins.pm.is_blocked(ep.name):
            continue
        version = ep.dist.version if ep.dist else ""
        try:
            obj = ep.load()
        except Exception as exc:
            plugins.broken[ep.name] = f'Error importing plugin "{ep.name}": {describe(exc)}'
            continue
        _register(plugins, ep.name, obj, version)


def _register(plugins: PluginSet, name: str, obj: object, version: str) -> None:
    try:
        plugins.pm.register(obj, name)
    except ValueError as exc:  # pluggy: name or object already registered
        plugins.broken[name] = f'plugin "{name}" not loaded: {exc}'
        return
    plugins.versions[name] = version


def _drop_invalid(plugins: PluginSet) -> None:
    while True:
        try:
            plugins.pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = plugins.pm.get_name(exc.plugin)
            plugins.broken[name] = f'plugin "{name}" not loaded: {exc}'
            plugins.pm.unregister(exc.plugin)


def _register_components(plugins: PluginSet) -> None:
    for kind in KINDS:
        hook_name = f"recorder_register_{kind}s"
        # Registration order (built-ins first) so a clash names the newcomer last.
        for impl in getattr(plugins.pm.hook, hook_name).get_hookimpls():
            name = impl.plugin_name
            if name in plugins.broken:
                continue
            try:
                impl.function(register=plugins.registry.register_for(kind, name))
            except DuplicateName as exc:
                raise UsageError(str(exc)) from None
            except Exception as exc:
                plugins.broken[name] = f'plugin "{name}" failed in {hook_name}: {describe(exc)}'
    for name in plugins.broken:
        plugins.registry.remove_plugin(name)
        plugin = plugins.pm.get_plugin(name)
        if plugin is not None:
            plugins.pm.unregister(plugin)
