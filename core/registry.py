"""Components registered by plugins, keyed by name.

Names are unique across kinds because a profile configures a component in a
sub-table named after it (``[profiles.rep.h264]``).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import attrs
from recorder.components import Component

KINDS = ("source", "encoder", "sink", "guard", "notifier", "exporter")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class RegistrationError(Exception):
    pass


class DuplicateName(RegistrationError):
    """Two plugins claim one name: which one records would be a guess, so this is fatal."""


class Registry:
    def __init__(self) -> None:
        self._components: dict[str, Component] = {}

    def register_for(self, kind: str, plugin: str) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any], *, options: type | None = None,
                     description: str = "") -> None:
            self.add(Component(kind, name, factory, options, plugin, description))

        return register

    def add(self, component: Component) -> None:
        name = component.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistrationError(f"{component.kind} name {name!r} must be lower-case letters, digits, - or _")
        if not callable(component.factory):
            raise RegistrationError(f"{component.kind} {name!r}: factory is not callable")
        if component.options is not None and not attrs.has(component.options):
            raise RegistrationError(f"{component.kind} {name!r}: options must be an attrs class")
        if name in self._components:
            other = self._components[name]
            raise DuplicateName(
                f'{component.kind} name "{name}" is registered by both plugin "{other.plugin}" '
                f'({other.kind}) and plugin "{component.plugin}"'
            )
        self._components[name] = component

    def get(self, name: str) -> Component | None:
        return self._components.get(name)

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self._components.values() if c.kind == kind]

    def by_plugin(self, plugin: str) -> list[Component]:
        return [c for c in self._components.values() if c.plugin == plugin]

    def __iter__(self):
        return iter(self._components.values())

    def remove_plugin(self, plugin: str) -> None:
        self._components = {n: c for n, c in self._components.items() if c.plugin != plugin}
