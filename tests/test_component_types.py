"""Every built-in plugin's components have the interface of their kind: mypy checks a
generated module that assigns what each registered factory makes to the kind's protocol
(``component: recorder.Source = MssSource(options)``), so a built-in that loses a method,
or takes the wrong parameters for one, fails here rather than in a recording.

Only the kind is checked this way; a capability (``recorder.Repairs``...) a component
has is checked for its signature where core asks for it (``isinstance``) only at run
time, so each capability a built-in claims is assigned to its protocol too."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import recorder
from recorder import components
from recorder.host.manager import load_plugins

from test_platforms_static import _package

# Components a built-in plugin registers on another system than this one (the factory is
# chosen by sys.platform at registration): (kind, module, factory, options class).
OTHER_SYSTEMS = [("guard", "recorder.plugins.indicator", "WindowsIndicatorGuard", "IndicatorOptions")]
# Built-ins that other helpers were changing when the check was added, with the fix each
# needs; the lead empties this set (an entry that passes fails the test, so it cannot go stale).
KNOWN: set[tuple[str, str]] = set()
# Component kinds without a protocol yet (none: each kind of recorder.host.registry.KINDS has one).
UNDECLARED_KINDS: set[str] = set()
CAPABILITIES = [name for name in recorder.__all__
                if isinstance(getattr(components, name, None), type) and name not in
                {p.__name__ for p in components.KIND_INTERFACES.values()} | {"PartWriter", "PartStreamWriter"}]
# The kinds that open a writer: the method, and the writer's protocol.
WRITERS = {"encoder": ("open_part", "PartWriter"), "part_stream": ("open", "PartStreamWriter")}
ERROR = re.compile(r"^check_components\.py:\d+: error: ")


def _builtin_factories() -> list[tuple[str, str, str, str, type | None]]:
    """(name, kind, module, factory name, options class) for every built-in component."""
    host = load_plugins(entry_points_too=False)
    found = []
    for component in host.registry:
        if component.kind not in components.KIND_INTERFACES or host.third_party(component.plugin):
            continue
        factory = component.factory
        assert inspect.isclass(factory) or "return" in getattr(factory, "__annotations__", {}), (
            f"{component.kind} '{component.name}': its factory {factory!r} has no return annotation, "
            "so mypy cannot check what it makes")
        found.append((component.name, component.kind, factory.__module__, factory.__qualname__,
                      component.options))
    return found


def _check_module(factories) -> str:
    """Source of a module that mypy accepts only if each component fits its kind (and
    each capability it has, its capability's protocol)."""
    lines = ["from __future__ import annotations", "import recorder", ""]
    for index, (name, kind, module, factory, options) in enumerate(factories):
        protocol = components.KIND_INTERFACES[kind].__name__
        options_type = f"{options.__module__}.{options.__qualname__}" if options else "None"
        imports = {module, options.__module__} if options else {module}
        lines += [f"import {m}" for m in sorted(imports)]
        lines += [f"def check_{index}(options: {options_type}) -> None:  # {kind} '{name}'",
                  f"    component: recorder.{protocol} = {module}.{factory}(options)"]
        made = _factory(module, factory)
        lines += [f"    {c.lower()}: recorder.{c} = {module}.{factory}(options)" for c in _claimed(made, kind)]
        opens = WRITERS.get(kind)
        writer = _writer_class(made, opens[0]) if opens else None
        if writer is not None:  # the writer its open_part (open) makes, and what that one claims
            lines.append(f"    def writer_{index}(writer: {writer.__module__}.{writer.__qualname__}) -> None:")
            lines.append(f"        part_writer: recorder.{opens[1]} = writer")
            lines += [f"        {c.lower()}: recorder.{c} = writer" for c in _claimed(writer)]
        lines.append("")
    return "\n".join(lines)


def _factory(module: str, factory: str) -> object:
    import importlib

    return getattr(importlib.import_module(module), factory.split(".")[0])


def _claimed(made: object, kind: str | None = None) -> list[str]:
    """The capabilities a component's class has (a method, or an attribute of the class:
    one set per instance, ``self.realtime``, is not seen here), but those its kind requires."""
    if not inspect.isclass(made):
        return []
    required = _members(components.KIND_INTERFACES[kind]) if kind else set()
    return [name for name in CAPABILITIES if isinstance(made, getattr(components, name))
            and not _members(getattr(components, name)) <= required]


def _members(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def _writer_class(component: object, method: str) -> type | None:
    import typing

    try:
        made = typing.get_type_hints(getattr(component, method)).get("return")
    except Exception:
        return None
    return made if inspect.isclass(made) else None


def _mypy(tree: Path, cache: Path) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "mypy", "--python-version", "3.11", "--ignore-missing-imports",
                             "--follow-imports=silent", "--show-error-codes", "--no-error-summary",
                             "--cache-dir", str(cache), "check_components.py"],
                            cwd=tree, env={"MYPYPATH": str(tree), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert "Can't find package" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.returncode in (0, 1), result.stdout + result.stderr
    # an error and the notes under it (which member is missing, which signature differs)
    return [line for line in result.stdout.splitlines() if line.startswith("check_components.py:")]


def test_every_kind_has_a_protocol():
    from recorder.host.registry import KINDS

    assert set(KINDS) - set(components.KIND_INTERFACES) == UNDECLARED_KINDS


def test_every_builtin_component_has_its_kinds_interface(tmp_path):
    factories = _builtin_factories() + [(factory, kind, module, factory,
                                         getattr(__import__(module, fromlist=[options]), options))
                                        for kind, module, factory, options in OTHER_SYSTEMS]
    assert {kind for _, kind, *_ in factories} == set(components.KIND_INTERFACES)  # every kind is checked
    tree = _package(tmp_path / "src")
    checks = _check_module(factories)
    (tree / "check_components.py").write_text(checks, encoding="utf-8")
    found = _mypy(tree, tmp_path / "cache")
    source = checks.splitlines()
    broken: dict[tuple[str, str], list[str]] = {}  # (kind, name) -> its findings, each with its line
    for line in found:
        if ERROR.match(line):
            number = int(line.split(":")[1])
            check = next(s for s in reversed(source[:number]) if s.startswith("def "))
            kind, name = re.search(r"# (\w+) '([^']+)'", check).groups()
            broken.setdefault((kind, name), []).append(f"{line}\n    {source[number - 1].strip()}")
        elif broken:
            list(broken.values())[-1].append(line)  # the notes under it: which member, which signature
    new = {key: lines for key, lines in broken.items() if key not in KNOWN}
    assert new == {}, "\n".join(line for lines in new.values() for line in lines)
    assert KNOWN <= set(broken), f"fixed: remove from KNOWN in tests/test_component_types.py: {KNOWN - set(broken)}"


def test_the_check_finds_a_component_that_breaks_its_interface(tmp_path):
    """Not a check that cannot fail: a sink without ``finish``, an encoder whose
    ``open_part`` takes too few parameters and a guard whose ``part_sealed`` does are found."""
    tree = _package(tmp_path / "src")
    (tree / "broken_plugin.py").write_text(
        "from pathlib import Path\n\n"
        "class Sink:\n    def prepare(self, session, folder_name) -> Path:\n        return Path()\n\n"
        "class Encoder:\n    extension = '.mp4'\n    def open_part(self, path, fmt):\n        return None\n\n"
        "class Guard:\n    def start(self, session): pass\n    def stop(self): pass\n"
        "    def part_sealed(self, part): pass\n", encoding="utf-8")
    (tree / "check_components.py").write_text(
        "import recorder\nimport broken_plugin\n"
        "sink: recorder.Sink = broken_plugin.Sink()\n"
        "encoder: recorder.Encoder = broken_plugin.Encoder()\n"
        "guard: recorder.HearsPartSealed = broken_plugin.Guard()\n", encoding="utf-8")
    errors = [line for line in _mypy(tree, tmp_path / "cache") if ERROR.match(line)]
    assert [int(line.split(":")[1]) for line in errors] == [3, 4, 5], "\n".join(errors)
