"""Plugin loading, registration and isolation of failing plugins."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from recorder import hookimpl
from recorder import UsageError
from recorder import sha256_file
from recorder.testing import decode, make_host, record

from installed import install_plugin


def test_plugins_lists_builtins_and_the_installed_example(run_cli):
    out = run_cli("plugins", check=0).stdout
    for name, kind in [("mss", "source"), ("synthetic", "source"), ("h264", "encoder"),
                       ("documents", "sink"), ("console", "notifier")]:
        assert re.search(rf"^{name} \S+ \(built-in\)$", out, re.M), out
        assert re.search(rf"^    {kind}\s+{name}\s", out, re.M), out
    assert re.search(r"^mirror 0\.1\.0$", out, re.M), "install examples/recorder-mirror (see README)"
    assert re.search(r"^    sink\s+mirror\s", out, re.M)
    rows = {row["name"]: row for row in json.loads(run_cli("plugins", "--json", check=0).stdout)}
    assert rows["mirror"]["components"][0]["kind"] == "sink"


def test_example_sink_from_entry_point_copies_each_part(run_cli, home, tmp_path):
    share = tmp_path / "share"
    config = tmp_path / "mirror.toml"
    config.write_text(f'[profiles.rep]\nsink = "mirror"\n[profiles.rep.mirror]\ndirectory = "{share}"\n', encoding="utf-8")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1",
            check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    [copy] = share.iterdir()
    assert copy.name == folder.name
    assert sha256_file(copy / "part-001.mp4") == sha256_file(folder / "part-001.mp4")
    assert json.loads((copy / "session.json").read_text(encoding="utf-8"))["state"] == "complete"
    assert (copy / "part-001.mp4").stat().st_mode & 0o777 == 0o600


def test_disabled_plugins_are_not_loaded(run_cli):
    out = run_cli("plugins", env={"RECORDER_DISABLED_PLUGINS": "mirror, synthetic"}, check=0).stdout
    assert not re.search(r"^(mirror|synthetic) ", out, re.M)
    result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1",
                     env={"RECORDER_DISABLED_PLUGINS": "synthetic"})
    assert result.returncode == 2
    assert "source 'synthetic' is not a registered source" in result.stderr


BROKEN = "raise RuntimeError('missing licence server')\n"


def test_a_plugin_that_fails_to_import_is_named_and_costs_nothing(run_cli, home, tmp_path):
    site = install_plugin(tmp_path / "site", "broken-plugin", BROKEN)
    env = {"PYTHONPATH": str(site)}
    out = run_cli("plugins", env=env, check=0).stdout
    assert 'Error importing plugin "broken-plugin": RuntimeError: missing licence server' in out
    result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", env=env, check=0)
    assert 'Error importing plugin "broken-plugin"' in result.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    assert decode(folder / "part-001.mp4").frames == 15


def test_a_failing_source_plugin_ends_the_session_with_the_recording_sealed(run_cli, home, tmp_path):
    site = install_plugin(tmp_path / "site", "flaky", '''
from recorder import hookimpl
from recorder.plugins.synthetic_source import SyntheticOptions, SyntheticSource

class Flaky(SyntheticSource):
    def grab(self):
        if self.count == 20:
            raise OSError("capture card unplugged")
        return super().grab()

@hookimpl
def recorder_register_sources(register):
    register("flaky", Flaky, options=SyntheticOptions)
''')
    result = run_cli("--profile", "rep", "--source", "flaky", "--duration", "5",
                     env={"PYTHONPATH": str(site)})
    assert result.returncode == 1, result.stderr
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "error" and manifest["state"] == "complete"
    assert any("capture card unplugged" in e["text"] for e in manifest["events"] if e["kind"] == "error")
    [part] = manifest["parts"]
    assert part["state"] == "sealed" and part["frames"] == 20
    assert decode(folder / part["file"]).frames == 20


class Duplicate:
    name = "dup"

    @hookimpl
    def recorder_register_sinks(self, register):
        register("documents", object)


def test_duplicate_component_names_name_both_plugins():
    with pytest.raises(UsageError, match='sink name "documents" is registered by both plugin '
                                         '"documents" .* and plugin "dup"'):
        make_host(Duplicate())


class RaisesInRegistration:
    name = "raiser"

    @hookimpl
    def recorder_register_sources(self, register):
        raise ValueError("bad config")


class MisspelledHook:
    name = "typo"

    @hookimpl
    def recorder_register_source(self, register):
        pass


def test_broken_plugins_are_left_out_and_named():
    host = make_host(RaisesInRegistration(), MisspelledHook())
    assert host.broken["raiser"] == ('plugin "raiser" failed in recorder_register_sources: '
                                        'ValueError: bad config')
    assert "recorder_register_source" in host.broken["typo"]
    assert host.pm.get_plugin("raiser") is None
    assert host.registry.get("synthetic") is not None


class FailingHooks:
    name = "failing-hooks"

    def __init__(self):
        self.calls = []

    @hookimpl
    def recorder_session_started(self, session):
        self.calls.append("started")
        raise RuntimeError("chat bridge offline")

    @hookimpl
    def recorder_part_sealed(self, session, part):
        self.calls.append(("sealed", part.file))
        raise RuntimeError("upload failed")

    @hookimpl
    def recorder_session_ended(self, session):
        self.calls.append("ended")


class Lifecycle:
    name = "lifecycle"

    def __init__(self):
        self.calls = []

    @hookimpl
    def recorder_session_started(self, session):
        self.calls.append("started")

    @hookimpl
    def recorder_part_opened(self, session, part):
        self.calls.append(("opened", part.file, (session.folder / (part.file + ".partial")).exists()))

    @hookimpl
    def recorder_part_sealed(self, session, part):
        self.calls.append(("sealed", part.file, part.sha256 == sha256_file(session.folder / part.file)))

    @hookimpl
    def recorder_session_ended(self, session):
        self.calls.append(("ended", session.end_reason))


def test_lifecycle_hooks_fire_in_order_and_failures_never_cost_the_recording(tmp_settings):
    failing, lifecycle = FailingHooks(), Lifecycle()
    from recorder.testing import TmpSinkPlugin
    host = make_host(TmpSinkPlugin(), failing, lifecycle)
    session = record(host, tmp_settings, duration=1.0)
    assert lifecycle.calls == ["started", ("opened", "part-001.mp4", True),
                               ("sealed", "part-001.mp4", True), ("ended", "duration")]
    assert failing.calls == ["started", ("sealed", "part-001.mp4"), "ended"]
    manifest = json.loads((session.folder / "session.json").read_text(encoding="utf-8"))
    errors = [e for e in manifest["events"] if e["kind"] == "plugin-error"]
    assert [e["by"] for e in errors] == ["failing-hooks", "failing-hooks"]
    assert 'plugin "failing-hooks" failed in recorder_session_started: RuntimeError: chat bridge offline' == errors[0]["text"]
    assert manifest["parts"][0]["state"] == "sealed"
    assert decode(session.folder / "part-001.mp4").frames == 15


def test_hookspecs_are_documented():
    from recorder.host import specs as hookspecs

    docs = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    import inspect
    sections = re.split(r"^#{2,3} ", docs, flags=re.M)
    threads = docs[docs.index("## Which thread calls what"):]
    threads = threads[:threads.index("\n## ", 3)]
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("recorder_"):
            signature = f"{name}({', '.join(inspect.signature(func).parameters)})"
            assert f"### `{signature}`" in docs, f"docs/plugins.md has no heading for {signature}"
            registration = name.startswith("recorder_register_")
            assert (name if not registration else "recorder_register_*") in threads, \
                f"the thread table does not say which thread calls {name}"
            [section] = [text for text in sections if text.startswith(f"`{signature}`")]
            assert registration or "**Thread:**" in section, f"the section on {name} does not say its thread"


def test_the_architecture_doc_lists_every_module():
    root = Path(__file__).parent.parent
    doc = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in sorted((root / "core").rglob("*.py")):
        relative = path.relative_to(root / "core").as_posix()
        if path.name == "__init__.py" and path.parent != root / "core":
            assert f"**`{relative.removesuffix('__init__.py')}`**" in doc, relative
        elif path.name != "__main__.py":
            assert f"`{relative}`" in doc, f"docs/architecture.md does not list core/{relative}"


def test_the_lazy_package_root_gives_every_public_name_and_no_submodule_shadows_one():
    """The package root imports its names on first use (start-up time); importing every
    submodule first must not leave a module where the API promises a function or class."""
    import importlib
    import inspect
    import pkgutil

    import recorder

    for found in pkgutil.walk_packages(recorder.__path__, "recorder."):
        if not found.name.startswith("recorder.plugins.") and found.name != "recorder.__main__":
            try:
                importlib.import_module(found.name)
            except ImportError as exc:
                # a Win32 edge (recorder.control.win32_pipe) refuses to import elsewhere, as msvcrt does
                assert sys.platform != "win32" and str(exc).endswith("is Windows-only"), exc
    for name in recorder.__all__:
        value = getattr(recorder, name)
        # recorder.platform is declared as a module of the API (docs/plugins.md); no other name is one
        assert inspect.ismodule(value) == (name == "platform"), f"recorder.{name}: {value!r}"
        assert name in dir(recorder)
