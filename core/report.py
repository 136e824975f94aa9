"""What ``recorder plugins`` and ``recorder config`` show."""

from __future__ import annotations

from typing import Any

import attrs
import tomli_w

from recorder.config import Key
from recorder.manager import PluginSet
from recorder.profile import ProfileSettings, ResolvedProfile


def describe_plugins(plugins: PluginSet) -> list[dict[str, Any]]:
    rows = []
    for name, plugin in sorted(plugins.pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:  # blocked
            continue
        hooks = sorted(caller.name for caller in plugins.pm.get_hookcallers(plugin) or ()
                       if not caller.name.startswith("recorder_register_"))
        rows.append({
            "name": name,
            "version": plugins.versions.get(name, ""),
            "components": [{"kind": c.kind, "name": c.name, "description": c.description}
                           for c in plugins.registry.by_plugin(name)],
            "hooks": hooks,
        })
    for name, error in sorted(plugins.broken.items()):
        rows.append({"name": name, "version": plugins.versions.get(name, ""), "components": [],
                     "hooks": [], "error": error})
    return rows


def _line(key: str, value: Any, origin: str) -> str:
    text = tomli_w.dumps({key: value}).strip()
    return f"{text}  # {origin}" if origin else text


def describe_config(profile: ResolvedProfile) -> str:
    config, name = profile.config, profile.name
    prefix = f"profiles.{name}"

    def origin(key: Key, default: str) -> str:
        where = config.origin_of(name, key) or default
        holder = config.locked.get(("profiles", name, *key))
        return f"{where} (locked by {holder})" if holder else where

    out = [f"# Effective configuration of profile '{name}'; each value's layer is in its comment.",
           f"[{prefix}]"]
    for field in attrs.fields(ProfileSettings):
        out.append(_line(field.name, getattr(profile.settings, field.name), origin((field.name,), "default")))
    for component, options in profile.options.items():
        if options is None:
            continue
        out.append(f"\n[{prefix}.{component}]")
        for field in attrs.fields(type(options)):
            value = getattr(options, field.name)
            out.append(_line(field.name, value,
                             origin((component, field.name), f"default of {component}")))
    return "\n".join(out) + "\n"
