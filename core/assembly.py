"""The session's components, built from a profile and called safely.

Every call into a component goes through ``Built.call``, so a component that
raises is reported (naming its plugin) instead of costing the recording.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
from recorder.errors import PluginError, RecorderError, UsageError, describe
from recorder.manager import PluginSet
from recorder.profile import ResolvedProfile
from recorder.session import Session


@attrs.define
class Built:
    source: Any
    encoder: Any
    sink: Any
    guards: list[tuple[str, Any]]
    notifiers: list[tuple[str, Any]]
    plugins: PluginSet | None = None
    on_error: Callable[[str, BaseException, str], None] = lambda plugin, exc, where: None

    def owner(self, component: str) -> str:
        return self.plugins.registry.get(component).plugin

    def kind(self, component: str) -> str:
        return self.plugins.registry.get(component).kind

    def call(self, component: str, call: Callable[[], Any]) -> None:
        """Run one call into ``component``; a failure is reported with its plugin, never raised."""
        try:
            call()
        except Exception as exc:
            self.on_error(self.owner(component), exc, f"{self.kind(component)} '{component}'")

    def each(self, components: list[tuple[str, Any]], method: str, *args: Any) -> None:
        """Call an optional ``method`` on each of ``components``."""
        for name, component in components:
            function = getattr(component, method, None)
            if function is not None:
                self.call(name, lambda: function(*args))


def build(plugins: PluginSet, profile: ResolvedProfile) -> Built:
    def make(name: str):
        component = plugins.registry.get(name)
        options = profile.options.get(name)
        try:
            return component.factory(options) if component.options else component.factory(None)
        except RecorderError:
            raise
        except Exception as exc:
            raise PluginError(component.plugin, f"creating {component.kind} '{name}'", exc) from exc

    s = profile.settings
    return Built(make(s.source), make(s.encoder), make(s.sink),
                 [(n, make(n)) for n in s.guards], [(n, make(n)) for n in s.notifiers], plugins)


def folder_name(session: Session, template: str) -> str:
    try:
        name = template.format(start=session.started_at, profile=session.profile, role=session.role,
                               short_id=session.short_id, host=session.host)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise UsageError(f"profile '{session.profile}': key 'folder_template': cannot use "
                         f"{template!r}: {describe(exc)}") from None
    if not name or "/" in name or name in (".", ".."):
        raise UsageError(f"profile '{session.profile}': key 'folder_template' gives {name!r}, "
                         "not a folder name")
    return name


