"""Typed options: how a plugin declares them, and how a TOML table becomes one.

Validation is strict and key by key, so that an error names the file,
profile and key that hold the mistake (``crf = true`` is not 1, ``"abc"`` is
not a list).
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import cattrs
from recorder.errors import UsageError
from recorder.values import ByteSize


def option(default: Any = attrs.NOTHING, help: str = "", **kwargs: Any) -> Any:
    """Declare one option of a plugin's attrs options class.

    The help text appears in ``recorder config``; validators are ordinary
    attrs validators.
    """
    metadata = dict(kwargs.pop("metadata", {}), help=help)
    return attrs.field(default=default, metadata=metadata, kw_only=True, **kwargs)


def help_of(field: attrs.Attribute) -> str:
    return field.metadata.get("help", "")


def _strict(kind: type):
    def structure(value, _type):
        # bool is an int in Python, but `crf = true` in TOML is a mistake, not 1
        wrong_bool = isinstance(value, bool) != (kind is bool)
        if not wrong_bool and kind is float and isinstance(value, int):
            return float(value)
        if wrong_bool or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        return value
    return structure


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (int, float, bool, str):
        converter.register_structure_hook(kind, _strict(kind))

    def strict_list(value, type_):
        if not isinstance(value, list):  # cattrs would happily turn "abc" into ["a", "b", "c"]
            raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
        (item,) = getattr(type_, "__args__", (Any,))
        return [converter.structure(element, item) for element in value]

    converter.register_structure_hook_func(lambda t: getattr(t, "__origin__", None) is list, strict_list)
    converter.register_structure_hook(ByteSize, lambda value, _: ByteSize.parse(value))
    return converter


_converter = make_converter()


def structure(cls: type, table: dict[str, Any], where: str, origin: Callable[[str], str]) -> Any:
    """Build ``cls`` from a table, checking key by key so that an error names the key."""
    fields = {field.name: field for field in attrs.fields(attrs.resolve_types(cls))}
    for key, value in table.items():
        field = fields.get(key)
        if field is None:
            raise UsageError(f"{origin(key)}: {where}: unknown key '{key}' "
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
    return str(exc) or type(exc).__name__
