"""A profile made concrete: core settings plus typed options for each component.

Validation happens here, before anything is recorded, so that a typo or a
wrong type is reported with the file, profile and key that hold it.
"""

from __future__ import annotations

import os
import re
import reprlib
import socket
import string
from datetime import datetime
from typing import Any

import attrs
from recorder.config.layers import Config, Key, ListEdit, unknown_profile
from recorder.config.options import option, structure
from recorder.components import RanksForAuto
from recorder.errors import UsageError, describe
from recorder.host.registry import Component, Registry
from recorder.values import ByteSize

DEFAULT_GUARDS = ("disk-space", "signals", "logind", "windows-shutdown", "window-events")
DEFAULT_NOTIFIERS = ("console", "desktop")


# Below, frame times no longer fit the encoder's time base (to 1/1000 s); above, no screen keeps up.
FPS_RANGE = (0.01, 240.0)
NAME_MAX = 255  # bytes in a file name, on every filesystem a session may go to
CONSENT = ("none", "required")
CONSENT_PROMPTS = ("auto", "terminal", "dialog")
AUTO_SOURCE = "auto"
MASK = "mask"  # option metadata: this key hides part of the screen, painted by the source that declares it


def auto_source(registry: Registry, environ: dict[str, str] | None = None) -> str:
    """The source ``source = "auto"`` means here: of the registered sources whose factory
    declares ``auto_rank(environ)`` (``recorder.RanksForAuto``), the one that ranks
    highest for this desktop (the portal on a Wayland session, where mss sees only
    XWayland windows; mss elsewhere)."""
    env = dict(os.environ if environ is None else environ)
    ranked = []
    for component in registry.of_kind("source"):
        value = component.factory.auto_rank(env) if isinstance(component.factory, RanksForAuto) else None
        if value is not None:
            ranked.append((value, component.name))
    if not ranked:
        raise UsageError("source = \"auto\": no installed source can record this desktop; "
                         "name one with --source or source = \"...\"")
    return max(ranked)[1]


class TemplateLabels(dict):
    """Labels for ``folder_template`` (``{label[ticket]}``): a label not given is empty."""

    def __missing__(self, key: str) -> str:
        return ""


def _positive(instance, attribute, value):
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}")


def _within(low: float, high: float):
    def check(instance, attribute, value):
        if not low <= value <= high:
            raise ValueError(f"must be from {low:g} to {high:g}, got {value:g}")
    return check


def _too_wide(spec: str) -> bool:
    """Whether a format spec nests a field or has a number (width, precision) above NAME_MAX."""
    numbers = (n.lstrip("0") for n in re.findall(r"\d+", spec))
    return "{" in spec or any(len(n) > 3 or int(n or 0) > NAME_MAX for n in numbers)


def folder_name_from(template: str, **fields: Any) -> str:
    """``folder_template`` filled in with ``fields``; ValueError says why it is no folder name."""
    try:
        for _, _, spec, _ in string.Formatter().parse(template):
            # {short_id:>99999999} would build a 100 MB string before its length could be checked
            if spec and _too_wide(spec):
                raise ValueError(f"format spec {spec!r}: no nested fields, no width above {NAME_MAX}")
        name = template.format(**fields)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"cannot use {reprlib.repr(template)}: {describe(exc)}") from None
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{reprlib.repr(template)} gives {reprlib.repr(name)}, not a folder name")
    if len(name.encode(errors="surrogatepass")) > NAME_MAX:
        raise ValueError(f"{reprlib.repr(template)} gives a name longer than {NAME_MAX} bytes")
    return name


@attrs.frozen
class ProfileSettings:
    enabled: bool = option(True, "Whether local recording is allowed for this profile.")
    role: str = option("rep", "Who records: rep or customer (used for notifications' audience).")
    source: str = option("auto", "Capture source component; auto: portal on a Wayland session "
                                 "(WAYLAND_DISPLAY set or XDG_SESSION_TYPE=wayland), mss otherwise.")
    encoder: str = option("h264", "Encoder component.")
    sink: str = option("documents", "Sink component: where the session folder goes.")
    guards: list[str] = option(attrs.Factory(lambda: list(DEFAULT_GUARDS)),
                               "Guard components to run during the session; [\"+name\", \"-name\"] "
                               "adds to or removes from the defaults.")
    notifiers: list[str] = option(attrs.Factory(lambda: list(DEFAULT_NOTIFIERS)),
                                  "Notifier components; [\"+name\", \"-name\"] edits the defaults.")
    fps: float = option(15.0, "Capture rate in frames per second.",
                        validator=[_positive, _within(*FPS_RANGE)])
    folder_template: str = option("{start:%Y-%m-%d_%H-%M-%S}_{profile}_{short_id}",
                                  "Name of each session folder; fields: start, profile, role, short_id, host, "
                                  "support_id, label[NAME] (empty when not given).")
    output_dir: str = option("", "Folder that replaces the sink's own location (empty: the sink decides).")
    max_part_size: ByteSize = option(ByteSize(0), "Start a new part at this size (0: no limit); e.g. \"2GB\".")
    max_part_duration: float = option(3600.0, "Start a new part after this many seconds (0: no limit).",
                                      validator=attrs.validators.ge(0))
    skip_unchanged: bool = option(True, "Do not encode frames identical to the last one (a still "
                                        "screen costs almost nothing); the timeline stays exact.")
    heartbeat: float = option(0.5, "With skip_unchanged: encode a frame at least this often (seconds), "
                                   "which bounds what a crash loses on a still screen.",
                              validator=attrs.validators.gt(0))
    consent: str = option("none", "none, or required: ask the person at this machine before anything "
                                  "is recorded; no yes, no recording (lock it in the site config).",
                          validator=attrs.validators.in_(CONSENT))
    consent_prompt: str = option("auto", "How consent is asked: auto (the terminal when there is one, "
                                         "else a dialog on the display), terminal, or dialog.",
                                 validator=attrs.validators.in_(CONSENT_PROMPTS))
    consent_timeout: float = option(60.0, "Seconds the consent question waits for an answer; "
                                          "no answer counts as no.", validator=_within(1, 3600))
    resume_within: float = option(24.0, "Hours within which an interrupted session is resumed by the "
                                        "next start; older ones are closed.", validator=attrs.validators.ge(0))
    require_recording: bool = option(False, "Strict mode: when the recording fails and cannot go on "
                                            "(capture, encoding, writing, the folder lost), the support "
                                            "tool is asked to end the support session.")
    indexer: str = option("", "Indexer component that reads the text on settled screens for recorder "
                              "search (tesseract); empty: no text index.")
    index_cpu_share: float = option(0.05, "While recording, indexing uses at most this share of the CPU "
                                          "recording uses (0.05: 5%), at the lowest priority.",
                                    validator=_within(0, 1))
    index_catch_up: float = option(30.0, "Seconds the end of a recording waits for indexing to catch up "
                                          "(the receipt lists the index after it); recorder index does the rest.",
                                   validator=attrs.validators.ge(0))


SLOTS = {"source": "source", "encoder": "encoder", "sink": "sink"}
LISTS = {"guards": "guard", "notifiers": "notifier"}


@attrs.frozen
class ResolvedProfile:
    name: str
    settings: ProfileSettings
    options: dict[str, Any]  # component or plugin name -> options instance (None if it has none)
    config: Config

    def removed_defaults(self) -> dict[str, list[str]]:
        """Default guards and notifiers this profile does not run, by setting."""
        removed = {}
        for setting, defaults in (("guards", DEFAULT_GUARDS), ("notifiers", DEFAULT_NOTIFIERS)):
            missing = [n for n in defaults if n not in getattr(self.settings, setting)]
            if missing:
                removed[setting] = missing
        return removed


def resolve_profile(config: Config, registry: Registry, name: str) -> ResolvedProfile:
    if name not in config.profiles():
        raise unknown_profile(name, config.profiles())
    table = _nest(config.profile_table(name))
    for setting in LISTS:
        if isinstance(table.get(setting), ListEdit):  # an edit of the built-in default list
            default = attrs.fields_dict(ProfileSettings)[setting].default.factory()
            table[setting] = table[setting].apply(default)

    def origin(key: str, sub: str = "") -> str:
        return config.origin_of(name, tuple(filter(None, (sub, *key.split("."))))) or "config"

    core_names = {a.name for a in attrs.fields(ProfileSettings)}
    core_table = {k: v for k, v in table.items() if k in core_names}
    settings = structure(ProfileSettings, core_table, f"profile '{name}'", origin)
    automatic = settings.source == AUTO_SOURCE
    if automatic:
        settings = attrs.evolve(settings, source=auto_source(registry))
    try:  # now, before anything is written; the session's own values are checked again for its folder
        folder_name_from(settings.folder_template, start=datetime.now().astimezone(), profile=name,
                         role=settings.role, short_id="0123abcd", host=socket.gethostname(),
                         support_id="INC-1", label=TemplateLabels(ticket="INC-1"))
    except ValueError as exc:
        raise UsageError(f"{origin('folder_template')}: profile '{name}': key 'folder_template': "
                         f"{exc}") from None

    for key, value in table.items():
        if key in core_names:
            continue
        if registry.get(key) is None:
            raise UsageError(f"{origin(key)}: profile '{name}': unknown key {key!r} "
                             "(not a profile setting, nor a plugin's component or options)")
        if not isinstance(value, dict):
            raise UsageError(f"{origin(key)}: profile '{name}': key {key!r} must be a table "
                             f"([profiles.{name}.{key}]), got {type(value).__name__}")

    for slot, kind in SLOTS.items():
        _check_kind(registry, getattr(settings, slot), kind, name, slot, origin)
    for slot, kind in LISTS.items():
        for component in getattr(settings, slot):
            _check_kind(registry, component, kind, name, slot, origin)
    if settings.indexer:
        _check_kind(registry, settings.indexer, "indexer", name, "indexer", origin)

    options: dict[str, Any] = {}
    for component in registry:
        sub = table.get(component.name, {})
        if component.name in table or component.name in _selected(settings):
            options[component.name] = _options_for(component, sub, name, origin)
        elif component.kind == "options" and _all_defaulted(component.options):
            options[component.name] = component.options()  # a hook-only plugin's defaults
    _refuse_unapplied_masks(registry, options, settings.source, name, origin, automatic)
    return ResolvedProfile(name, settings, options, config)


def _refuse_unapplied_masks(registry: Registry, options: dict[str, Any], source: str, profile: str, origin,
                            automatic: bool) -> None:
    """Masks are options a source declares (``metadata={"mask": True}``) and paints itself: set
    for any other component, nothing would paint them. Refuse rather than record unmasked."""
    for component in registry:
        instance = options.get(component.name)
        if component.name == source or instance is None:
            continue
        for field in attrs.fields(type(instance)):
            if not field.metadata.get(MASK) or not getattr(instance, field.name):
                continue
            chosen = f"source '{source}'" + (' (what "auto" chose here)' if automatic else "")
            remedy = (f"only the source '{component.name}' paints them: set source = \"{component.name}\" "
                      "or remove the masks" if component.kind == "source" else "remove the masks")
            raise UsageError(f"{origin(field.name, component.name)}: profile '{profile}': key "
                             f"'{component.name}.{field.name}': masks are set, but {chosen} cannot mask; {remedy}")


def _all_defaulted(cls: type) -> bool:
    return all(field.default is not attrs.NOTHING for field in attrs.fields(cls))


def _selected(settings: ProfileSettings) -> set[str]:
    """The components the profile uses: their options are validated even when not configured."""
    return {settings.source, settings.encoder, settings.sink, *settings.guards, *settings.notifiers,
            *filter(None, [settings.indexer])}


def _options_for(component: Component, table: dict[str, Any], profile: str, origin) -> Any:
    if component.options is None:
        if table:
            key = next(iter(table))
            raise UsageError(f"{origin(key, component.name)}: profile '{profile}': key "
                             f"{component.name + '.' + key!r}: unknown key ({component.name} has no options)")
        return None
    return structure(component.options, table, f"profile '{profile}' [{component.name}]",
                     lambda key: origin(key, component.name))


def _check_kind(registry: Registry, value: str, kind: str, profile: str, slot: str, origin) -> None:
    component = registry.get(value)
    if component is None or component.kind != kind:
        available = ", ".join(sorted(c.name for c in registry.of_kind(kind))) or "none"
        raise UsageError(f"{origin(slot)}: profile '{profile}': {slot} {value!r} is not a "
                         f"registered {kind} (available: {available})")


def _nest(flat: dict[Key, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
    return nested
