"""Core's folders are a stack (docs/architecture.md, "Layers"): a module imports only
from its own layer or the layers below it. Read from the source (ast), imports inside
functions and ``import_module("recorder.x")`` included; ``from recorder import X`` counts as an import of the module the
root's lazy table takes X from. Imports under ``if TYPE_CHECKING:`` are for annotations
only, never run, and are not counted."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import recorder

CORE = Path(__file__).parent.parent / "core"

# Lowest first. A top-level module of core (errors.py) is a layer's member like a folder.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"errors", "values", "console", "version", "components"}),
    ("platform", {"platform"}),
    ("disk", {"disk"}),
    ("host", {"host"}),
    ("config", {"config"}),
    ("session", {"session"}),
    ("store", {"store"}),
    ("control", {"control"}),
    ("pipeline", {"pipeline"}),
    ("playback", {"playback"}),
    ("cli", {"cli", "testing", "__main__", "__init__"}),
]

def _layer_of(member: str) -> int | None:
    return next((index for index, (_, members) in enumerate(LAYERS) if member in members), None)


def _member(module: str) -> str | None:
    """``recorder.session.model`` -> ``session``; None outside core (plugins included)."""
    parts = module.split(".")
    if parts[0] != "recorder" or len(parts) == 1 or parts[1] == "plugins":
        return None
    return parts[1]


def _root_name(name: str) -> str:
    """The module ``from recorder import name`` takes ``name`` from."""
    where = getattr(recorder, "_WHERE", {})
    if name in where:
        return where[name][0]
    if name in getattr(recorder, "_MODULES", {}):
        return recorder._MODULES[name]
    bound = {"hookimpl": "recorder.host.markers", "__version__": "recorder.version", "console": "recorder.console"}
    return bound.get(name, f"recorder.{name}")


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                skipped |= {id(inner) for inner in ast.walk(statement)}
    return skipped


def imports(path: Path, core: Path = CORE) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path`` (a module of ``core``)."""
    relative = path.relative_to(core)
    package = ["recorder", *relative.parts[:-1]]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = _type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))  # importlib.import_module("recorder.x")
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            if module == "recorder":
                found += [(node.lineno, _root_name(alias.name)) for alias in node.names]
            else:
                found.append((node.lineno, module))
    return sorted(found)


def backward_imports(core: Path = CORE) -> tuple[list[tuple[str, str, str]], list[str]]:
    """([(file, imported module, message)], [problems: a file or folder in no layer])."""
    backward, unplaced = [], []
    for path in sorted(core.rglob("*.py")):
        relative = path.relative_to(core)
        member = relative.parts[0].removesuffix(".py")
        own = _layer_of(member)
        if own is None:
            unplaced.append(f"core/{relative.parts[0]} is in no layer: add it to LAYERS and docs/architecture.md")
            continue
        for line, module in imports(path, core):
            target = _member(module)
            if target is None or target == member:
                continue
            theirs = _layer_of(target)
            if theirs is None:
                unplaced.append(f"core/{relative}:{line} imports {module}, whose recorder.{target} is in no layer")
            elif theirs > own:
                backward.append((f"core/{relative}", module,
                                 f"core/{relative}:{line}: {LAYERS[own][0]} imports {module} "
                                 f"({LAYERS[theirs][0]}, a higher layer)"))
    return backward, sorted(set(unplaced))


def test_no_import_goes_up_the_layers():
    backward, unplaced = backward_imports()
    assert unplaced == [], "\n".join(unplaced)
    assert [message for _, _, message in backward] == [], "\n".join(message for _, _, message in backward)


def test_the_layers_are_those_documented():
    text = (CORE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    named = [line.split("**")[1] for line in section.splitlines() if re.match(r"\d+\. \*\*", line)]
    assert named == [name for name, _ in LAYERS]


def test_the_check_finds_an_import_going_up(tmp_path):
    """Not a check that cannot fail: an import inside a function, one through the root's
    lazy table, a relative one and one by name, each going up a layer, are found."""
    fake = tmp_path / "core"
    (fake / "store").mkdir(parents=True)
    (fake / "store" / "probe.py").write_text(
        "from recorder import SessionSummary\n\n"  # the store's own catalog: allowed
        "def later():\n    from recorder.pipeline import recording\n\n"
        "from recorder import encode_export\n"
        "from ..cli import main\n"
        "importlib.import_module('recorder.control.server')\n", encoding="utf-8")
    backward, _ = backward_imports(fake)
    assert [message for _, _, message in backward] == [
        "core/store/probe.py:4: store imports recorder.pipeline (pipeline, a higher layer)",
        "core/store/probe.py:6: store imports recorder.playback.export (playback, a higher layer)",
        "core/store/probe.py:7: store imports recorder.cli (cli, a higher layer)",
        "core/store/probe.py:8: store imports recorder.control.server (control, a higher layer)"]
