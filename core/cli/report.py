"""What ``recorder plugins``, ``recorder config`` and ``recorder info`` show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import tomli_w
from recorder.config.layers import Key
from recorder.console import for_terminal
from recorder.config.options import help_of
from recorder.config.profile import AUTO_SOURCE, ProfileSettings, ResolvedProfile
from recorder.host.manager import PluginHost
from recorder.session import manifest as manifests
from recorder.store import catalog, results
from recorder.values import clock, human_size


def describe_plugins(host: PluginHost) -> list[dict[str, Any]]:
    rows = []
    for name, plugin in sorted(host.pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:  # blocked
            continue
        hooks = sorted(caller.name for caller in host.pm.get_hookcallers(plugin) or ()
                       if not caller.name.startswith("recorder_register_"))
        rows.append({
            "name": name,
            "version": host.versions.get(name, ""),
            "components": [{"kind": c.kind, "name": c.name, "description": c.description}
                           for c in host.registry.by_plugin(name)],
            "hooks": hooks,
        })
    for name, error in sorted(host.broken.items()):
        rows.append({"name": name, "version": host.versions.get(name, ""), "components": [],
                     "hooks": [], "error": error})
    return rows


def _line(field: attrs.Attribute, value: Any, origin: str) -> str:
    if field.metadata.get("secret") and value:
        value = "(set, not shown)"  # an option marked secret (a URL that is a credential)
    if isinstance(value, list):  # one line, so the comment stays beside it
        items = (tomli_w.dumps({"v": item}).strip().removeprefix("v = ") for item in value)
        text = f"{field.name} = [{', '.join(items)}]"
    else:
        text = tomli_w.dumps({field.name: value}).strip()
    comment = " — ".join(filter(None, (origin, help_of(field))))
    return f"{text}  # {comment}" if comment else text


def describe_config(profile: ResolvedProfile) -> str:
    config, name = profile.config, profile.name
    prefix = f"profiles.{name}"

    def origin(key: Key, default: str) -> str:
        where = config.origin_of(name, key) or default
        holder = config.locked.get(("profiles", name, *key))
        return f"{where} (locked by {holder})" if holder else where

    out = [f"# Effective configuration of profile '{name}': after each value, the layer that set it",
           "# and what the setting does.", f"[{prefix}]"]
    for field in attrs.fields(ProfileSettings):
        value, where = getattr(profile.settings, field.name), origin((field.name,), "default")
        if field.name == "source" and config.profile_table(name).get(("source",), AUTO_SOURCE) == AUTO_SOURCE:
            # what the profile says, as the docs give the default; what it chose here beside it
            value, where = AUTO_SOURCE, f"{where}; {AUTO_SOURCE} is {value} here"
        out.append(_line(field, value, where))
    for setting, missing in profile.removed_defaults().items():
        out.append(f"# note: {setting} leaves out the default {', '.join(missing)} "
                   f"(add back with {setting} = [{', '.join(repr('+' + n) for n in missing)}])"
                   .replace("'", '"'))
    for component, options in profile.options.items():
        if options is None:
            continue
        out.append(f"\n[{prefix}.{component}]")
        for field in attrs.fields(type(options)):
            out.append(_line(field, getattr(options, field.name),
                             origin((component, field.name), f"default of {component}")))
    return "\n".join(out) + "\n"


def describe_session(folder: Path) -> str:
    manifest = manifests.read(folder)
    state = catalog.checked_state(manifest)
    if state == "damaged":
        verified = results.last(manifest.session_id)
        state += f" (recorder verify at {verified['at'][:19]}: {verified['problems'][0]})"
    out = [
        f"session   {manifest.session_id}",
        f"folder    {folder}",
        f"profile   {manifest.profile} (role {manifest.role}) on {manifest.host}",
        f"support   {manifest.support_session_id or '-'}"
        + "".join(f"  {key}={value}" for key, value in manifest.labels.items()),
        f"started   {manifest.started_at.isoformat()}",
        f"ended     {manifest.ended_at.isoformat() if manifest.ended_at else '-'}  "
        f"({manifest.end_reason or state})",
        f"state     {state}",
        *([f"held      since {manifest.held.time[:19].replace('T', ' ')} by {manifest.held.by}: "
           f"{manifest.held.data.get('reason', manifest.held.text)}"] if manifest.held else []),
        f"duration  {clock(manifest.duration)}, {manifest.frames} frames, {manifest.dropped_frames} dropped",
    ]
    video = manifest.video
    if video:
        out.append(f"video     {video.width}x{video.height} at {video.fps:g} fps ({video.encoder})")
    out.append("parts")
    for part in manifest.parts:
        out.append(f"  {part.file:<22} {part.state:<10} at {clock(part.start)}  "
                   f"{part.duration:7.1f} s  {part.frames:6d} frames  {human_size(part.size):>9}  "
                   f"sha256 {part.sha256[:16]}")
    out.append("events")
    for event in manifest.events:
        by = f" [{event.by}]" if event.by != "recorder" else ""
        out.append(f"  {clock(event.t)}.{int(event.t * 10) % 10}  {event.level:<7} {event.kind:<14} "
                   f"{for_terminal(event.text)}{by}")  # a window title, a mark: text from outside
    return "\n".join(out) + "\n"


def session_summary(folder: Path) -> dict[str, Any]:
    """``recorder info --json``: what ``list --json`` says of the session, and its video, parts and events."""
    manifest = manifests.read(folder)
    video = manifest.video
    return catalog.summary(folder, manifest).to_dict() | {
        "role": manifest.role,
        "host": manifest.host,
        "ended_at": manifest.ended_at.isoformat() if manifest.ended_at else None,
        "frames": manifest.frames,
        "dropped_frames": manifest.dropped_frames,
        "video": {"width": video.width, "height": video.height, "fps": video.fps, "encoder": video.encoder}
        if video else None,
        "files": [{"file": part.file, "state": part.state, "start": part.start, "duration": part.duration,
                   "frames": part.frames, "size": part.size, "sha256": part.sha256} for part in manifest.parts],
        "events": [{"t": event.t, "kind": event.kind, "text": event.text, "level": event.level, "by": event.by}
                   for event in manifest.events],
    }
