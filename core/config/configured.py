"""Which profiles use a component, and with which options: what a plugin's own
command (``recorder archive``) needs to know of the configuration."""

from __future__ import annotations

from typing import Any

from recorder.config import layers
from recorder.config.profile import resolve_profile
from recorder.errors import UsageError


def profiles_using(name: str, profile: str | None = None) -> dict[str, Any]:
    """Profile name -> the options of component (or options-only plugin) ``name``, for each
    profile that runs it, or only for ``profile``. A profile that cannot be resolved is
    left out (its mistake is said when that profile is used), unless it is the one asked for."""
    from recorder.host.manager import load_plugins  # here: only a command that asks loads plugins

    if profile:
        layers.check_profile_name(profile, "--profile")
    host = load_plugins()
    component = host.registry.get(name)
    config = layers.load_config()
    found: dict[str, Any] = {}
    for each in [profile] if profile else config.profiles():
        try:
            resolved = resolve_profile(config, host.registry, each)
        except UsageError:
            if profile:
                raise
            continue
        settings = resolved.settings
        runs = name in (settings.source, settings.encoder, settings.sink, *settings.guards, *settings.notifiers)
        if runs or (component is not None and component.kind == "options" and name in resolved.options):
            found[each] = resolved.options.get(name)
    return found
