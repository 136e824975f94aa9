"""Configuration layers: built-in defaults, site, user, --config FILE, command line.

Later layers win, except for keys the site layer lists in a profile's
``locked`` array: those keep the administrator's value and an attempt to
change them is reported, not obeyed. Every value remembers which layer set it,
so errors and ``recorder config`` can name the file.

The component lists ``guards`` and ``notifiers`` can also be edited instead
of restated: ``guards = ["+retention", "-logind"]`` adds to and removes from
what the layers below (or the built-in defaults) chose.

Everything read here is untrusted input: a bad file is refused with one line
naming it, never read without bound, never an internal error.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable

import attrs
import platformdirs
from recorder import platform
from recorder.errors import UsageError

BUILTIN = "built-in defaults"
COMMAND_LINE = "command line"
APP = "recorder"
FILENAME = "recorder.toml"

Key = tuple[str, ...]
EDITABLE_LISTS = ("guards", "notifiers")
MAX_FILE_SIZE = 2**20  # a config file is a few kB; /dev/zero must not be read until memory runs out

# One spelling per profile: a name becomes a lock file's and a session folder's name, and a
# site lock on `customer` must not be sidestepped by `Customer` or `./customer`.
PROFILE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")

# The administrator's site config at a path the user's environment cannot move (XDG_CONFIG_DIRS
# can: set to /nonexistent it would skip every lock). Applied after the XDG_CONFIG_DIRS folders,
# so it wins. Tests point it elsewhere by assigning this name; an environment variable would
# hand the user the same escape again.
if sys.platform == "win32":
    # C:\ProgramData\recorder\recorder.toml (without appauthor=False platformdirs names the
    # app twice, and the administrator's file the docs describe would never be read)
    SITE_CONFIG = platformdirs.site_config_path(APP, appauthor=False) / FILENAME
elif sys.platform == "darwin":
    SITE_CONFIG = Path("/Library/Application Support") / APP / FILENAME
else:
    SITE_CONFIG = Path("/etc") / APP / FILENAME


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


def site_config_files() -> list[Path]:
    """Every site config, weakest first: each XDG_CONFIG_DIRS folder (the first listed wins)
    with a recorder.toml, then SITE_CONFIG."""
    folders = platformdirs.site_config_dir(APP, appauthor=False, multipath=True).split(os.pathsep)
    found = [Path(folder) / FILENAME for folder in reversed(folders)]
    return [path for path in found if path != SITE_CONFIG] + [SITE_CONFIG]


def user_config_file() -> Path:
    return platformdirs.user_config_path(APP, appauthor=False) / FILENAME


@attrs.define
class Layer:
    label: str
    values: dict[Key, Any]
    locks: bool = False  # only site layers may lock keys, and no lock binds them: their order decides


def check_profile_name(name: Any, where: str) -> None:
    if not isinstance(name, str) or not PROFILE_NAME.fullmatch(name):
        raise UsageError(f"{where}: invalid profile name {name!r}: use lower-case letters, digits, "
                         "- and _, starting with a letter, at most 64 characters")


def unknown_profile(name: str, known: list[str]) -> UsageError:
    return UsageError(f"unknown profile {name!r} (known profiles: {', '.join(known) or 'none'})")


@attrs.define
class Config:
    values: dict[Key, Any]
    origin: dict[Key, str]
    locked: dict[Key, str]
    ignored: list[str]  # messages about attempts to change locked keys

    def profiles(self) -> list[str]:
        return _profiles(self.values)

    def profile_table(self, profile: str) -> dict[Key, Any]:
        # (an empty [profiles.NAME] holds no key: the profile exists, with the defaults)
        return {key[2:]: value for key, value in self.values.items()
                if key[:2] == ("profiles", profile) and len(key) > 2}

    def origin_of(self, profile: str, key: Key) -> str:
        """The layer that set ``key``; for a table, the layer that set something in it."""
        full = ("profiles", profile, *key)
        if full in self.origin:
            return self.origin[full]
        inside = [label for k, label in self.origin.items() if k[:len(full)] == full]
        return inside[-1] if inside else ""


def _profiles(keys: Iterable[Key]) -> list[str]:
    return sorted({key[1] for key in keys if key[0] == "profiles" and len(key) > 1})


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
            raw = fh.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise UsageError(f"config error in {path}: larger than {MAX_FILE_SIZE // 2**20} MiB, "
                         "not a config file")
    try:
        data = tomllib.loads(raw.decode())
    except UnicodeDecodeError as exc:
        raise UsageError(f"config error in {path}: not UTF-8 text (byte {raw[exc.start]:#04x} "
                         f"at offset {exc.start})") from None
    except ValueError as exc:  # a TOMLDecodeError, or an integer of more than 4300 digits
        raise UsageError(f"config error in {path}: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise UsageError(f"config error in {path}: nested too deeply") from None
    unknown = sorted(set(data) - {"profiles"})
    if unknown:
        raise UsageError(f"config error in {path}: unknown top-level key {unknown[0]!r} "
                         "(settings go under [profiles.NAME])")
    if not isinstance(data.get("profiles", {}), dict):
        raise UsageError(f"config error in {path}: 'profiles' must be a table ([profiles.NAME])")
    for profile, table in data.get("profiles", {}).items():
        check_profile_name(profile, f"config error in {path}")
        if not isinstance(table, dict):
            raise UsageError(f"config error in {path}: profiles.{profile} must be a table")
    return data


def file_layer(path: Path, *, locks: bool = False) -> Layer:
    data = read_toml(path)
    try:
        return Layer(str(path), flatten(data), locks)
    except RecursionError:  # [a.a.a.a...] parses without recursion, but is no key of ours
        raise UsageError(f"config error in {path}: nested too deeply") from None


def builtin_layer() -> Layer:
    data = tomllib.loads(files("recorder.config").joinpath("defaults.toml").read_text(encoding="utf-8"))
    return Layer(BUILTIN, flatten(data))


def file_layers(config_file: Path | None) -> list[Layer]:
    """Every layer but the command line's."""
    layers = [builtin_layer()]
    found = [(path, True) for path in site_config_files()] + [(user_config_file(), False)]
    for path, locks in found:
        if _present(path):
            if locks:
                _check_site_owner(path)
            layers.append(file_layer(path, locks=locks))
    if config_file is not None:
        layers.append(file_layer(config_file))
    return layers


def _check_site_owner(path: Path) -> None:
    """Windows: every user may create files in C:\\ProgramData, so a user could plant the
    site file (and its locks) before the administrator does: it is read only if it and
    its folder are the administrators' alone. (/etc and /Library need root already.)"""
    if not platform.is_windows():
        return
    why = platform.admin_only(path)
    if why:
        raise UsageError(f"refusing the site config {path}: {why}; only administrators may write it")


def _present(path: Path) -> bool:
    """Whether there is a config file; one that cannot be checked is an error, not skipped
    (an administrator's locks must not silently go missing)."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    return True


def merge(layers: list[Layer]) -> Config:
    config = Config({}, {}, {}, [])
    tables: dict[Key, str] = {}  # keys that hold keys, and a layer that put one there
    for layer in layers:
        for name in _profiles(layer.values):
            check_profile_name(name, f"config error in {layer.label}")
        for key, value in layer.values.items():
            if key[:1] == ("profiles",) and key[2:] == ("locked",):
                _lock(config, layer, key, value)
                continue
            holder = _lock_holder(config, key)
            if holder is not None and not layer.locks:
                config.ignored.append(
                    f"{'.'.join(key)} is locked by {holder}; the value from {layer.label} is ignored")
                continue
            if not _fits(config, tables, layer.label, key, value):
                continue
            if key[:1] == ("profiles",) and key[2:] in [(name,) for name in EDITABLE_LISTS]:
                value = _edited(config.values.get(key), value, layer.label, key)
            config.values[key] = value
            config.origin[key] = layer.label
    return config


def _lock_holder(config: Config, key: Key) -> str | None:
    """The site layer that locked ``key`` or a table holding it (``locked = ["h264"]``)."""
    for end in range(3, len(key) + 1):
        if key[:end] in config.locked:
            return config.locked[key[:end]]
    return None


def _fits(config: Config, tables: dict[Key, str], label: str, key: Key, value: Any) -> bool:
    """Whether ``key`` can take ``value``: in every layer a key is either a value or a table.

    An empty table adds nothing to one the layers below filled (nor hides what they locked).
    """
    for end in range(1, len(key)):
        above = key[:end]
        if above in config.values:
            if config.values[above] != {}:
                raise UsageError(f"config error in {label}: {'.'.join(above)!r} is a table here "
                                 f"but a value in {config.origin[above]}")
            del config.values[above], config.origin[above]  # an empty table that now has keys
    if key in tables:
        if value == {}:
            return False
        raise UsageError(f"config error in {label}: {'.'.join(key)!r} is a value here "
                         f"but a table in {tables[key]}")
    for end in range(1, len(key)):
        tables.setdefault(key[:end], label)
    return True


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
                         f"in the site config ({SITE_CONFIG})")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"config error in {layer.label}: '{'.'.join(key)}' must be a list of keys")
    for item in value:
        config.locked[(*key[:2], *item.split("."))] = layer.label


def load_config(config_file: Path | None = None, overrides: dict[Key, Any] | None = None) -> Config:
    layers = file_layers(config_file)
    if overrides:
        # a flag such as --fps must not bring a misspelt profile into being
        known = _profiles(key for layer in layers for key in layer.values)
        for name in _profiles(overrides):
            if name not in known:
                raise unknown_profile(name, known)
        layers.append(Layer(COMMAND_LINE, overrides))
    return merge(layers)
