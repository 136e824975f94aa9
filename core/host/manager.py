"""The plugin host: loads built-ins and the ``recorder`` entry-point group, and calls hooks.

Hooks are called through pluggy with keyword arguments. Every implementation
is registered wrapped by ``Isolation`` so that one that raises is named and
the others still run. A plugin that cannot be loaded (import error,
misspelled hook, an unsupported hookimpl option, a registration hook that
raises) is left out and named in ``PluginHost.broken``; the rest keep working,
so one bad third-party plugin never stops a recording it has no part in.
"""

from __future__ import annotations

import importlib
import os
import types
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable

import pluggy
from recorder.components import Repairs, RepairsWithChapters
from recorder.console import warn
from recorder.errors import UsageError, describe
from recorder.host import specs
from recorder.host.isolation import BUDGET, Failure, Isolation, running, running_plugin
from recorder.host.markers import PROJECT
from recorder.host.registry import KINDS, Registry
from recorder.version import __version__

BUILTIN_PLUGINS = {
    "mss": "recorder.plugins.mss",
    "portal": "recorder.plugins.portal",
    "synthetic": "recorder.plugins.synthetic_source",
    "h264": "recorder.plugins.h264",
    "documents": "recorder.plugins.documents_sink",
    "console": "recorder.plugins.console_notifier",
    "prompt": "recorder.plugins.prompt",
    "terminal-prompt": "recorder.plugins.terminal_prompt",
    "dialog-prompt": "recorder.plugins.dialog_prompt",
    "remembered-prompt": "recorder.plugins.remembered_prompt",
    "retention": "recorder.plugins.retention",
    "disk-space": "recorder.plugins.disk_space_guard",
    "archive": "recorder.plugins.archive",
    "signing": "recorder.plugins.signing",
    "encrypt": "recorder.plugins.encrypt",
    "indicator": "recorder.plugins.indicator",
    "webhook": "recorder.plugins.webhook_notifier",
    "events-file": "recorder.plugins.events_file_notifier",
    "desktop": "recorder.plugins.desktop_notifier",
    "signals": "recorder.plugins.signals_guard",
    "logind": "recorder.plugins.logind_guard",
    "windows-shutdown": "recorder.plugins.windows_shutdown_guard",
    "window-events": "recorder.plugins.window_events",
    "mp4-export": "recorder.plugins.mp4_exporter",
    "wmv-export": "recorder.plugins.wmv_exporter",
    "webm-export": "recorder.plugins.webm_exporter",
    "gif-export": "recorder.plugins.gif_exporter",
    "tesseract": "recorder.plugins.tesseract",
}
ENTRY_POINT_GROUP = "recorder"
DISABLED_ENV = "RECORDER_DISABLED_PLUGINS"
# Old-style hookwrapper=True has no place for isolation to stand; optionalhook
# would let a misspelled hook go unnoticed. Both are refused at load.
UNSUPPORTED_OPTIONS = {"hookwrapper": "use @hookimpl(wrapper=True)",
                       "optionalhook": "recorder has no optional hooks; check the hook's name"}


def _warn(failure: Failure) -> None:
    warn(failure.message)


class PluginHost:
    """The loaded plugins, what they registered, and the way to call their hooks."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(specs)
        self.registry = Registry()
        self.versions: dict[str, str] = {}
        self.broken: dict[str, str] = {}
        self.order: list[str] = []  # plugin names in the order they were loaded
        # Where failures of plugin code go: a recording turns them into
        # ``plugin-error`` events; elsewhere (recover, save) they are warnings.
        self.on_failure: Callable[[Failure], None] = _warn
        self.isolation = Isolation(lambda failure: self.on_failure(failure), bounded=self.third_party)

    # -- calling ----------------------------------------------------------------
    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call a hook through pluggy; an implementation that raises is reported, never raised."""
        return getattr(self.pm.hook, hook)(**kwargs)

    def around(self, component: str, where: str):
        """A context for one call into a component: a failure is reported naming its plugin."""
        return self.isolation.around(self.owner(component), where)

    def run(self, component: str, where: str, function: Callable[..., Any], *args: Any,
            budget: float | None = BUDGET) -> Any:
        """Call a component's method: a failure is reported naming its plugin, and a
        third-party plugin is waited for at most ``budget`` seconds."""
        return self.isolation.run(self.owner(component), where, function, *args, budget=budget)

    def third_party(self, plugin: str) -> bool:
        """Built-ins are part of recorder; every other plugin is waited for within a budget."""
        return plugin in self.order and not self.versions.get(plugin, "").endswith("(built-in)")

    def owner(self, component: str) -> str:
        found = self.registry.get(component)
        return found.plugin if found else "recorder"

    def repairer(self, encoder: str) -> tuple[Callable | None, str]:
        """The ``repair(path, fps)`` of an encoder component, built with its default options,
        or None and why not (the plugin is not installed, or cannot repair)."""
        component = self.registry.get(encoder)
        if component is None or component.kind != "encoder":
            return None, f"encoder '{encoder}' is not installed"
        try:
            with running(component.plugin):
                instance = component.factory(component.options() if component.options else None)
        except Exception as exc:
            return None, f"encoder '{encoder}' could not be created: {describe(exc)}"
        if not isinstance(instance, Repairs):
            return None, f"encoder '{encoder}' has no repair()"

        def run(path, fps, chapters=()):
            """``chapters``: the part's, written into it by an encoder that can (RepairsWithChapters)."""
            with running(component.plugin):
                if chapters and isinstance(instance, RepairsWithChapters):
                    return instance.repair_with_chapters(path, fps, list(chapters))
                return instance.repair(path, fps)

        return run, ""

    # -- loading ----------------------------------------------------------------
    def add(self, name: str, plugin: object, version: str) -> None:
        """Register ``plugin`` under ``name``; a problem leaves it out, named in ``broken``."""
        if name in self.order:
            self.broken[name] = f'plugin "{name}" not loaded: another plugin is already called "{name}"'
            return
        problem = self._unsupported(plugin)
        if problem:
            self.broken[name] = f'plugin "{name}" not loaded: {problem}'
            return
        try:
            self.pm.register(self._isolated(plugin, name), name)
        except ValueError as exc:  # pluggy: this object is already registered
            self.broken[name] = f'plugin "{name}" not loaded: {str(exc).splitlines()[0][:200]}'
            return
        self.order.append(name)
        self.versions[name] = version

    def _unsupported(self, plugin: object) -> str | None:
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            for option, advice in UNSUPPORTED_OPTIONS.items():
                if opts and opts.get(option):
                    return f"{attr} uses @hookimpl({option}=True), which recorder does not support: {advice}"
        return None

    def _isolated(self, plugin: object, name: str) -> object:
        """A stand-in for ``plugin`` whose hook implementations are isolated;
        pluggy reads the same markers from it, so every hookimpl option holds."""
        proxy = types.SimpleNamespace(plugin=plugin, __name__=getattr(plugin, "__name__", name))
        for attr in dir(plugin):
            if self.pm.parse_hookimpl_opts(plugin, attr) is None:
                continue
            function = getattr(plugin, attr)
            setattr(proxy, attr, self.isolation.hookimpl(function, name, attr))
        return proxy

    def drop(self, name: str, why: str) -> None:
        self.broken[name] = why
        self.registry.remove_plugin(name)  # and refuses what it registers later (from a late thread)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)

    def check_hooks(self) -> None:
        """A misspelled hook leaves its plugin out, named (pluggy's check_pending)."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin)
                self.drop(name, f'plugin "{name}" not loaded: {exc}')

    def register_components(self) -> None:
        failed: dict[str, str] = {}

        def note(failure: Failure) -> None:
            failed.setdefault(failure.plugin, failure.message)

        self.on_failure, previous = note, self.on_failure
        try:
            for kind in (*KINDS, "options"):
                hook = f"recorder_register_{kind}s" if kind != "options" else "recorder_register_options"
                self.call(hook, register=self.registry.register_for(kind, running_plugin.get))
        finally:
            self.on_failure = previous
        clash = self.registry.first_clash(self.order)
        if clash:
            raise UsageError(clash)
        for name, why in failed.items():
            self.drop(name, why)


def disabled_from_env() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLED_ENV, "").split(",") if name.strip()}


def load_plugins(*, entry_points_too: bool = True, extra: Iterable[tuple[str, object]] = (),
                 disabled: Iterable[str] = ()) -> PluginHost:
    """Built-in plugins, then installed ones, then ``extra`` (tests); minus the disabled."""
    host = PluginHost()
    for name in {*disabled, *disabled_from_env()}:
        host.pm.set_blocked(name)
    for name, module in BUILTIN_PLUGINS.items():
        if not host.pm.is_blocked(name):
            host.add(name, importlib.import_module(module), f"{__version__} (built-in)")
    if entry_points_too:
        _load_entry_points(host)
    for name, obj in extra:
        if not host.pm.is_blocked(name):
            host.add(name, obj, "")
    host.check_hooks()
    host.register_components()
    return host


def _load_entry_points(host: PluginHost) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if host.pm.is_blocked(ep.name):
            continue
        version = ep.dist.version if ep.dist else ""
        try:
            obj = ep.load()
        except Exception as exc:
            host.broken[ep.name] = f'Error importing plugin "{ep.name}": {describe(exc)}'
            host.versions[ep.name] = version
            continue
        host.add(ep.name, obj, version)
