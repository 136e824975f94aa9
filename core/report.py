"""What ``recorder plugins`` and ``recorder config`` show."""

from __future__ import annotations

import json
from typing import Any

import attrs
import tomli_w
from recorder import catalog
from recorder.config import Key
from recorder.manager import PluginSet
from recorder.manifest import MANIFEST
from recorder.profile import ProfileSettings, ResolvedProfile
from recorder.status import clock, human_size


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


def describe_session(folder) -> str:
    manifest = json.loads((folder / MANIFEST).read_text())
    state = catalog.state_of(manifest, folder)
    out = [
        f"session   {manifest['session_id']}",
        f"folder    {folder}",
        f"profile   {manifest['profile']} (role {manifest['role']}) on {manifest['host']}",
        f"started   {manifest['started_at']}",
        f"ended     {manifest.get('ended_at') or '-'}  ({manifest.get('end_reason') or state})",
        f"state     {state}",
        f"duration  {clock(manifest.get('duration', 0))}, {manifest.get('frames', 0)} frames, "
        f"{manifest.get('dropped_frames', 0)} dropped",
    ]
    video = manifest.get("video")
    if video:
        out.append(f"video     {video['width']}x{video['height']} at {video['fps']:g} fps ({video['encoder']})")
    out.append("parts")
    for part in manifest["parts"]:
        out.append(f"  {part['file']:<22} {part['state']:<10} at {clock(part['start'])}  "
                   f"{part['duration']:7.1f} s  {part['frames']:6d} frames  {human_size(part['size']):>9}  "
                   f"sha256 {part['sha256'][:16]}")
    out.append("events")
    for event in manifest["events"]:
        by = f" [{event['by']}]" if event["by"] != "recorder" else ""
        out.append(f"  {clock(event['t'])}.{int(event['t'] * 10) % 10}  {event['level']:<7} {event['kind']:<14} {event['text']}{by}")
    return "\n".join(out) + "\n"
