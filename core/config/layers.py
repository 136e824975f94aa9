"""Configuration layers: built-in defaults, site, user, --config FILE, command line.

Later layers win, except for keys the site layer lists in a profile's
``locked`` array: those keep the administrator's value and an attempt to
change them is reported, not obeyed. Every value remembers which layer set it,
so errors and ``recorder config`` can name the file.

The component lists ``guards`` and ``notifiers`` can also be edited instead
of restated: ``guards = ["+retention", "-logind"]`` adds to and removes from
what the layers below (or the built-in defaults) chose.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs
import platformdirs
from recorder.errors import UsageError

BUILTIN = "built-in defaults"
COMMAND_LINE = "command line"
APP = "recorder"
FILENAME = "recorder.toml"

Key = tuple[str, ...]
EDITABLE_LISTS = ("guards", "notifiers")


@attrs.frozen
class ListEdit:
    """``["+name", "-name"]``: changes to a list that a lower layer (or the defaults) holds."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> "ListEdit | None":
        """The edit a value spells, or None if it is a plain value (a whole new list)."""
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            return None
        marked = [v[:1] in ("+", "-") for v in value]
        if not any(marked):
            return None
        if not all(marked):
            raise ValueError(f"mixes names with +name/-name edits: {value!r} (give a whole list, "
                             "or only edits)")
        return cls(tuple(v[1:].strip() for v in value if v[0] == "+"),
                   tuple(v[1:].strip() for v in value if v[0] == "-"))

    def then(self, later: "ListEdit") -> "ListEdit":
        return ListEdit(tuple(n for n in self.add if n not in later.remove) + later.add,
                        tuple(n for n in self.remove if n not in later.add) + later.remove)

    def apply(self, base: list[str]) -> list[str]:
        kept = [n for n in base if n not in self.remove]
        return kept + [n for n in self.add if n not in kept]


def site_config_file() -> Path:
    return platformdirs.site_config_path(APP, multipath=False) / FILENAME


def user_config_file() -> Path:
    return platformdirs.user_config_path(APP) / FILENAME


@attrs.define
class Layer:
    label: str
    values: dict[Key, Any]
    locks: bool = False  # only the site layer may lock keys


@attrs.define
class Config:
    values: dict[Key, Any]
    origin: dict[Key, str]
    locked: dict[Key, str]
    ignored: list[str]  # messages about attempts to change locked keys

    def profiles(self) -> list[str]:
        return sorted({key[1] for key in self.values if key[0] == "profiles"})

    def profile_table(self, profile: str) -> dict[Key, Any]:
        return {key[2:]: value for key, value in self.values.items()
                if key[:2] == ("profiles", profile)}

    def origin_of(self, profile: str, key: Key) -> str:
        """The layer that set ``key``; for a table, the layer that set something in it."""
        full = ("profiles", profile, *key)
        if full in self.origin:
            return self.origin[full]
        inside = [label for k, label in self.origin.items() if k[:len(full)] == full]
        return inside[-1] if inside else ""


def flatten(table: dict[str, Any], prefix: Key = ()) -> dict[Key, Any]:
    flat: dict[Key, Any] = {}
    for name, value in table.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, (*prefix, name)))
        else:
            flat[(*prefix, name)] = value
    return flat


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config error in {path}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    unknown = sorted(set(data) - {"profiles"})
    if unknown:
        raise UsageError(f"config error in {path}: unknown top-level key '{unknown[0]}' "
                         "(settings go under [profiles.NAME])")
    for profile, table in data.get("profiles", {}).items():
        if not isinstance(table, dict):
            raise UsageError(f"config error in {path}: profiles.{profile} must be a table")
    return data


def file_layer(path: Path, *, locks: bool = False) -> Layer:
    return Layer(str(path), flatten(read_toml(path)), locks)


def builtin_layer() -> Layer:
    data = tomllib.loads(files("recorder.config").joinpath("defaults.toml").read_text())
    return Layer(BUILTIN, flatten(data))


def default_layers(config_file: Path | None, overrides: dict[Key, Any]) -> list[Layer]:
    layers = [builtin_layer()]
    for path, locks in ((site_config_file(), True), (user_config_file(), False)):
        if path.is_file():
            layers.append(file_layer(path, locks=locks))
    if config_file is not None:
        layers.append(file_layer(config_file))
    if overrides:
        layers.append(Layer(COMMAND_LINE, overrides))
    return layers


def merge(layers: list[Layer]) -> Config:
    config = Config({}, {}, {}, [])
    for layer in layers:
        for key, value in layer.values.items():
            if key[:1] == ("profiles",) and key[2:] == ("locked",):
                _lock(config, layer, key, value)
                continue
            holder = config.locked.get(key)
            if holder is not None and holder != layer.label:
                config.ignored.append(
                    f"{'.'.join(key)} is locked by {holder}; the value from {layer.label} is ignored")
                continue
            if key[:1] == ("profiles",) and key[2:] in [(name,) for name in EDITABLE_LISTS]:
                value = _edited(config.values.get(key), value, layer.label, key)
            config.values[key] = value
            config.origin[key] = layer.label
    return config


def _edited(current: Any, value: Any, label: str, key: Key) -> Any:
    """``value`` applied to what the layers below set: an edit changes their list."""
    try:
        edit = ListEdit.parse(value)
    except ValueError as exc:
        raise UsageError(f"config error in {label}: {'.'.join(key)} {exc}") from None
    if edit is None:
        return value
    if isinstance(current, ListEdit):
        return current.then(edit)
    if isinstance(current, list):
        return edit.apply(current)
    return edit  # on top of the built-in default, applied when the profile is resolved


def _lock(config: Config, layer: Layer, key: Key, value: Any) -> None:
    if not layer.locks:
        raise UsageError(f"config error in {layer.label}: '{'.'.join(key)}' is only allowed "
                         f"in the site config ({site_config_file()})")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"config error in {layer.label}: '{'.'.join(key)}' must be a list of keys")
    for item in value:
        config.locked[(*key[:2], *item.split("."))] = layer.label


def load_config(config_file: Path | None = None, overrides: dict[Key, Any] | None = None) -> Config:
    return merge(default_layers(config_file, overrides or {}))
