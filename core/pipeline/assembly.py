"""The session's components, built from a profile, and the names they go by."""

from __future__ import annotations

from typing import Any

import attrs
from recorder import platform
from recorder.errors import PluginError, RecorderError, UsageError
from recorder.host.isolation import running
from recorder.host.manager import PluginHost
from recorder.config.profile import ResolvedProfile, TemplateLabels
from recorder.session.model import Session


@attrs.define
class Built:
    source: Any
    encoder: Any
    sink: Any
    guards: list[tuple[str, Any]]
    notifiers: list[tuple[str, Any]]
    host: PluginHost

    def each(self, components: list[tuple[str, Any]], method: str, *args: Any) -> None:
        """Call an optional ``method`` on each of ``components``; a failure is
        reported naming its plugin, and the others are still called."""
        for name, component in components:
            function = getattr(component, method, None)
            if function is not None:
                kind = self.host.registry.get(name).kind
                self.host.run(name, f"{kind} '{name}'", function, *args)


def make(host: PluginHost, profile: ResolvedProfile, name: str) -> Any:
    """One component of the profile, created with its options; a failure names its plugin."""
    component = host.registry.get(name)
    try:
        with running(component.plugin):
            return component.factory(profile.options.get(name))
    except RecorderError:
        raise
    except Exception as exc:
        raise PluginError(component.plugin, f"creating {component.kind} '{name}'", exc) from exc


def build(host: PluginHost, profile: ResolvedProfile) -> Built:
    s = profile.settings
    return Built(make(host, profile, s.source), make(host, profile, s.encoder), make(host, profile, s.sink),
                 [(n, make(host, profile, n)) for n in s.guards],
                 [(n, make(host, profile, n)) for n in s.notifiers], host)


def folder_name(session: Session, template: str) -> str:
    from recorder.config.profile import folder_name_from  # the check profile resolution made too

    # What the support tool sent (its session id, label values) may hold characters that
    # Windows or macOS refuse in a name (``:`` even opens an NTFS stream): replaced by ``_``.
    safe = {key: platform.safe_folder_name(value) if value else value for key, value in session.labels.items()}
    try:
        name = folder_name_from(template, start=session.started_at, profile=session.profile,
                                role=session.role, short_id=session.short_id, host=platform.safe_folder_name(session.host),
                                support_id=platform.safe_folder_name(session.support_id) if session.support_id else
                                session.support_id, label=TemplateLabels(safe))
    except ValueError as exc:
        raise UsageError(f"profile '{session.profile}': key 'folder_template': {exc}") from None
    why = platform.check_folder_name(name, f"profile '{session.profile}': key 'folder_template'")
    if why:
        raise UsageError(why)
    return name
