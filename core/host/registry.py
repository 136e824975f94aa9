"""Components registered by plugins, keyed by name.

Names are unique across kinds because a profile configures a component in a
sub-table named after it (``[profiles.rep.h264]``); a plugin that registers
only options (``recorder_register_options``) claims its table name the same way.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import attrs

KINDS = ("source", "encoder", "sink", "guard", "notifier", "exporter", "part_stream", "indexer")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class RegistrationError(Exception):
    pass


@attrs.frozen
class Component:
    kind: str  # one of KINDS, or "options" for a plugin's own settings table
    name: str
    factory: Callable[..., Any] | None
    options: type | None
    plugin: str
    description: str = ""


class Registry:
    def __init__(self) -> None:
        self._components: dict[str, Component] = {}
        self._clashes: list[tuple[Component, Component]] = []
        self._removed: set[str] = set()  # plugins left out: nothing they register counts

    def register_for(self, kind: str, plugin: Callable[[], str]) -> Callable[..., None]:
        """The ``register`` callable a registration hook receives; ``plugin()``
        names the plugin whose hook is calling it."""
        if kind == "options":
            def register_options(name: str, options: type, *, description: str = "") -> None:
                self.add(Component(kind, name, None, options, plugin(), description))

            return register_options

        def register(name: str, factory: Callable[..., Any], *, options: type | None = None,
                     description: str = "") -> None:
            self.add(Component(kind, name, factory, options, plugin(), description))

        return register

    def add(self, component: Component) -> None:
        if component.plugin in self._removed:
            return
        name = component.name
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RegistrationError(f"{component.kind} name {name!r} must be lower-case letters, digits, - or _")
        if component.kind != "options" and not callable(component.factory):
            raise RegistrationError(f"{component.kind} {name!r}: factory is not callable")
        if component.options is not None and not attrs.has(component.options):
            raise RegistrationError(f"{component.kind} {name!r}: options must be an attrs class")
        if component.kind == "options" and component.options is None:
            raise RegistrationError(f"options {name!r}: give an attrs class")
        if name in self._components:
            # Which one records would be a guess: fatal, reported once all have registered.
            self._clashes.append((self._components[name], component))
            return
        self._components[name] = component

    def first_clash(self, load_order: list[str]) -> str | None:
        """Two plugins claiming one name, described in the order they were loaded."""
        for one, other in self._clashes:
            first, second = sorted((one, other), key=lambda c: _position(load_order, c.plugin))
            return (f'{first.kind} name "{first.name}" is registered by both plugin "{first.plugin}" '
                    f'({first.kind}) and plugin "{second.plugin}"')
        return None

    def get(self, name: str) -> Component | None:
        return self._components.get(name)

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self._components.values() if c.kind == kind]

    def by_plugin(self, plugin: str) -> list[Component]:
        return [c for c in self._components.values() if c.plugin == plugin]

    def __iter__(self):
        return iter(self._components.values())

    def remove_plugin(self, plugin: str) -> None:
        self._removed.add(plugin)
        self._components = {n: c for n, c in self._components.items() if c.plugin != plugin}


def _position(order: list[str], plugin: str) -> int:
    return order.index(plugin) if plugin in order else len(order)
