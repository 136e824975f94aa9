"""Typed options: how a plugin declares them, and how a TOML table becomes one.

Validation is strict and key by key, so that an error names the file,
profile and key that hold the mistake (``crf = true`` is not 1, ``"abc"`` is
not a list). Every option of every plugin gets the same checks on its numbers:
a float is finite (TOML has ``nan`` and ``inf``), an int and a size fit in 64
bits (as TOML's own integers do), and the error is one line.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any, Callable

import attrs
import cattrs
from recorder.errors import UsageError
from recorder.values import ByteSize


def option(default: Any = attrs.NOTHING, help: str = "", **kwargs: Any) -> Any:
    """Declare one option of a plugin's attrs options class.

    The help text appears in ``recorder config``; validators are ordinary
    attrs validators. ``metadata={"secret": True}`` keeps the value out of
    ``recorder config`` (a URL that is itself a credential).
    """
    metadata = dict(kwargs.pop("metadata", {}), help=help)
    return attrs.field(default=default, metadata=metadata, kw_only=True, **kwargs)


def help_of(field: attrs.Attribute) -> str:
    return field.metadata.get("help", "")


INT64 = 2**63


def shown(value: Any) -> str:
    """``value`` for an error message: a repr, shortened (a 1 MB string is no help on one line)."""
    try:
        text = reprlib.repr(value)
    except ValueError:  # an int of more than 4300 digits has no repr
        text = "(too long to show)"
    return f"{type(value).__name__} {text}"


def _strict(kind: type):
    def structure(value, _type):
        # bool is an int in Python, but `crf = true` in TOML is a mistake, not 1
        wrong_bool = isinstance(value, bool) != (kind is bool)
        if wrong_bool or not isinstance(value, (int, float) if kind is float else kind):
            raise TypeError(f"expected {kind.__name__}, got {shown(value)}")
        if kind in (int, float) and isinstance(value, int) and not -INT64 <= value < INT64:
            raise ValueError(f"expected an integer that fits in 64 bits, got {shown(value)}")
        if kind is float and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {shown(value)}")
        if kind is str and "\0" in value:
            raise ValueError(f"contains a NUL character: {shown(value)}")
        return float(value) if kind is float else value
    return structure


def _size(value, _type) -> ByteSize:
    # ByteSize.parse reads the number with float(): "nan", "inf" and "1e999MB" get through it
    try:
        size = ByteSize.parse(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected a size such as 500MB or 2GiB, got {shown(value)}") from None
    if size >= INT64:
        raise ValueError(f"expected a size below 2**63 bytes, got {shown(value)}")
    return size


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (int, float, bool, str):
        converter.register_structure_hook(kind, _strict(kind))

    def strict_list(value, type_):
        if not isinstance(value, list):  # cattrs would happily turn "abc" into ["a", "b", "c"]
            raise TypeError(f"expected a list, got {shown(value)}")
        (item,) = getattr(type_, "__args__", (Any,))
        return [converter.structure(element, item) for element in value]

    converter.register_structure_hook_func(lambda t: getattr(t, "__origin__", None) is list, strict_list)
    converter.register_structure_hook(ByteSize, _size)
    return converter


_converter = make_converter()


def structure(cls: type, table: dict[str, Any], where: str, origin: Callable[[str], str]) -> Any:
    """Build ``cls`` from a table, checking key by key so that an error names the key."""
    fields = {field.name: field for field in attrs.fields(attrs.resolve_types(cls))}
    for key, value in table.items():
        field = fields.get(key)
        if field is None:
            raise UsageError(f"{origin(key)}: {where}: unknown key {key!r} "
                             f"(known: {', '.join(fields)})")
        try:
            converted = _converter.structure(value, field.type)
            if field.validator is not None:
                field.validator(None, field, converted)
        except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
            raise UsageError(f"{origin(key)}: {where}: key '{key}': {reason(exc)}") from None
    try:
        return _converter.structure(table, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise UsageError(f"{origin('')}: {where}: {reason(exc)}") from None


def reason(exc: BaseException) -> str:
    while isinstance(exc, cattrs.BaseValidationError) and exc.exceptions:
        exc = exc.exceptions[0]
    args = exc.args
    if len(args) == 4 and isinstance(args[1], attrs.Attribute):
        # attrs' own validators raise (message, attribute, expected, value): str() of that
        # is a tuple with the whole Attribute(...) in it. Say it as a user would.
        expected, value = args[2], args[3]
        if isinstance(expected, (tuple, list, set, frozenset, dict)):  # in_(): the allowed values
            choices = ", ".join(repr(c) if c == "" else str(c) for c in expected)
            return f"{shown(value).split(' ', 1)[1]} is not one of: {choices}"
        return " ".join(str(args[0]).splitlines())
    if len(args) > 1 and isinstance(args[0], str):
        return " ".join(args[0].splitlines())  # a validator's message without the rest of its args
    # one line even if a plugin's validator puts the value in unquoted
    return " ".join((str(exc) or type(exc).__name__).splitlines())
