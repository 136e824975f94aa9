"""The plugin contract: the public API, hooks called through pluggy (wrappers
included), failures isolated and named, every hook called, options for any plugin."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pexpect
import pytest
from recorder import UsageError, hookimpl, option, read_manifest, sha256_file
from recorder.host.manager import load_plugins
from recorder.session import manifest as manifests
from recorder.session.recovery import recover_folder
from recorder.testing import TmpSinkPlugin, decode, make_host, make_profile, record

import attrs

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


# -- the public API ----------------------------------------------------------------

def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _is_recorder(module: str) -> bool:
    return module == "recorder" or module.startswith("recorder.")  # not recorder_mirror


def _shared_plugin_packages() -> set[str]:
    """Packages under plugins/ that are no plugin (no hook implementation anywhere in them)
    but code the built-in plugins share (``recorder.plugins.x11``): any built-in may import them."""
    shared = set()
    for package in (ROOT / "plugins").iterdir():
        if (package / "__init__.py").is_file() and not any(
                "@hookimpl" in module.read_text(encoding="utf-8") for module in package.rglob("*.py")):
            shared.add(f"recorder.plugins.{package.name}")
    return shared


def _undeclared(source: str, own: str, shared: set[str] = frozenset()) -> list[tuple[int, str]]:
    """What ``source`` (a module of package ``own``) takes from recorder beyond the declared
    API: the names in ``recorder.__all__`` and ``recorder.platform.__all__``, whether imported
    by name or reached as an attribute of the imported module (``recorder.platform.fsync``
    too), and no other ``recorder`` module but its own package and the ``shared`` ones."""
    import recorder
    import recorder.platform

    declared = {"recorder": set(recorder.__all__), "recorder.platform": set(recorder.platform.__all__)}
    allowed = (own, *shared)
    bound: dict[str, str] = {}  # local name -> the declared module it stands for
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in declared:
                for alias in node.names:
                    if alias.name not in declared[node.module]:
                        found.append((node.lineno, f"{node.module}.{alias.name}"))
                    elif f"{node.module}.{alias.name}" in declared:
                        bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif _is_recorder(node.module) and not node.module.startswith(allowed):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in declared and alias.asname:
                    bound[alias.asname] = alias.name
                elif alias.name in declared:
                    bound[alias.name.split(".")[0]] = "recorder"
                elif _is_recorder(alias.name) and not alias.name.startswith(allowed):
                    found.append((node.lineno, alias.name))

    def module_of(node: ast.AST) -> str | None:
        """The declared module an expression stands for (``p``, ``recorder.platform``), if any."""
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        if isinstance(node, ast.Attribute):
            base = module_of(node.value)
            return f"{base}.{node.attr}" if base and f"{base}.{node.attr}" in declared else None
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            module = module_of(node.value)
            if module is not None and node.attr not in declared[module]:
                found.append((node.lineno, f"{module}.{node.attr}"))
    return found


def test_builtin_plugins_use_only_the_declared_api():
    """A plugin's private helpers may live beside it (recorder.plugins.h264.fmp4), and code
    the built-ins share in a package that is no plugin (recorder.plugins.x11); everything
    else comes from ``recorder``'s ``__all__`` (and ``recorder.platform``'s), as for a third party."""
    offenders = []
    shared = _shared_plugin_packages()
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        relative = path.relative_to(ROOT / "plugins")
        own = f"recorder.plugins.{relative.parts[0].removesuffix('.py')}"
        text = path.read_text(encoding="utf-8")
        offenders += [f"plugins/{relative}:{line} uses {name}" for line, name in _undeclared(text, own, shared)]
        if "import_module" in text or "__import__" in text:
            offenders.append(f"plugins/{relative} imports by name (not checkable)")
    assert offenders == [], "\n".join(offenders)


def test_the_api_check_finds_what_is_not_declared():
    """Not a check that cannot fail: each way of reaching past the declared API is found."""
    source = ("import recorder\nimport recorder.platform as p\nfrom recorder import hookimpl, platform, _WHERE\n"
              "from recorder.platform import fsync, sync_handle\nfrom recorder.store import files\n"
              "from recorder.plugins.h264 import fmp4\nfrom recorder.plugins.mss import cursor\n"
              "platform.fsync(1)\nplatform.make_owner_only(x)\np.file_lock(x)\nrecorder.StateFile\n"
              "recorder.store\nrecorder.platform.lock_held(x)\nrecorder.platform.win32\n"
              "from recorder.plugins.x11 import xcb\nfrom recorder_mirror import MirrorSink\n")
    assert sorted(_undeclared(source, "recorder.plugins.mss", {"recorder.plugins.x11"})) == [
        (3, "recorder._WHERE"), (4, "recorder.platform.sync_handle"), (5, "recorder.store"),
        (6, "recorder.plugins.h264"), (9, "recorder.platform.make_owner_only"), (10, "recorder.platform.file_lock"),
        (12, "recorder.store"), (13, "recorder.platform.lock_held")]
    assert (15, "recorder.plugins.x11") in _undeclared(source, "recorder.plugins.h264")  # not shared with it


def test_the_examples_use_the_public_api_only():
    """Third-party plugins (examples/) are held to the same names: no module of recorder
    but the root and ``recorder.platform``, and only what their ``__all__`` declares."""
    offenders = []
    for path in sorted((ROOT / "examples").rglob("*.py")):
        own = path.stem if path.name != "__init__.py" else path.parent.name
        offenders += [f"{path.relative_to(ROOT)}:{line} uses {name}"
                      for line, name in _undeclared(path.read_text(encoding="utf-8"), own)]
    assert offenders == [], "\n".join(offenders)


def test_the_package_root_exports_what_it_lists():
    import recorder

    for name in recorder.__all__:
        assert hasattr(recorder, name), name
    for name in recorder.platform.__all__:
        assert hasattr(recorder.platform, name), name


# -- hooks through pluggy ------------------------------------------------------------

class Wrapping:
    name = "wrapping"

    def __init__(self, calls):
        self.calls = calls

    @hookimpl(wrapper=True)
    def recorder_session_started(self, session):
        self.calls.append("before started")
        result = yield
        self.calls.append("after started")
        return result

    @hookimpl(wrapper=True)
    def recorder_part_sealed(self, session, part):
        self.calls.append(f"before sealed {part.file}")
        result = yield
        self.calls.append(f"after sealed {part.file} {part.state}")
        return result


class Plain:
    name = "plain"

    def __init__(self, calls):
        self.calls = calls

    @hookimpl
    def recorder_session_started(self, session):
        self.calls.append("started")

    @hookimpl
    def recorder_part_sealed(self, session, part):
        self.calls.append(f"sealed {part.file}")


def test_wrappers_run_before_and_after_the_other_implementations(tmp_settings):
    calls: list[str] = []
    host = make_host(TmpSinkPlugin(), Plain(calls), Wrapping(calls))
    record(host, tmp_settings, duration=0.5)
    assert calls == ["before started", "started", "after started",
                     "before sealed part-001.mp4", "sealed part-001.mp4", "after sealed part-001.mp4 sealed"]


class BrokenWrapper:
    name = "broken-wrapper"

    @hookimpl(wrapper=True)
    def recorder_session_started(self, session):
        yield
        raise RuntimeError("after the yield")

    @hookimpl(wrapper=True)
    def recorder_part_sealed(self, session, part):
        raise RuntimeError("before the yield")
        yield  # pragma: no cover


def test_a_failing_wrapper_is_named_and_the_call_goes_on(tmp_settings):
    calls: list[str] = []
    host = make_host(TmpSinkPlugin(), Plain(calls), BrokenWrapper())
    session = record(host, tmp_settings, duration=0.5)
    assert calls == ["started", "sealed part-001.mp4"]
    errors = [e.text for e in read_manifest(session.folder).events if e.kind == "plugin-error"]
    assert errors == [
        'plugin "broken-wrapper" failed in recorder_session_started: RuntimeError: after the yield',
        'plugin "broken-wrapper" failed in recorder_part_sealed: RuntimeError: before the yield']


def test_hook_calls_can_be_monitored_through_pluggy(tmp_settings):
    host = make_host(TmpSinkPlugin())
    seen = []
    host.pm.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append(name), lambda *a: None)
    record(host, tmp_settings, duration=0.5)
    assert {"recorder_session_started", "recorder_part_opened", "recorder_part_sealed",
            "recorder_session_event", "recorder_session_ended"} <= set(seen)


class OldStyleWrapper:
    name = "old-style"

    @hookimpl(hookwrapper=True)
    def recorder_session_started(self, session):
        yield


class OptionalHook:
    name = "optional"

    @hookimpl(optionalhook=True)
    def recorder_sesion_started(self, session):
        pass


def test_unsupported_hookimpl_options_fail_at_load_naming_the_plugin():
    host = make_host(OldStyleWrapper(), OptionalHook())
    assert host.broken["old-style"].startswith('plugin "old-style" not loaded: recorder_session_started uses '
                                               "@hookimpl(hookwrapper=True)")
    assert "optionalhook" in host.broken["optional"]
    assert host.pm.get_plugin("old-style") is None and host.pm.get_plugin("optional") is None
    assert host.registry.get("synthetic") is not None


def test_a_name_clash_between_plugins_is_one_short_line():
    class Documents:
        name = "documents"  # the built-in's plugin name

        @hookimpl
        def recorder_register_guards(self, register):
            pass

    host = make_host(Documents())
    message = host.broken["documents"]
    assert message == 'plugin "documents" not loaded: another plugin is already called "documents"'


# -- every hook is called ----------------------------------------------------------------

class Everything:
    """Implements every hook and records which were called."""

    name = "everything"

    def __init__(self):
        self.calls: dict[str, list] = {}

    def _note(self, hook, value=None):
        self.calls.setdefault(hook, []).append(value)

    @hookimpl
    def recorder_register_sources(self, register):
        self._note("recorder_register_sources")

    @hookimpl
    def recorder_register_encoders(self, register):
        self._note("recorder_register_encoders")

    @hookimpl
    def recorder_register_sinks(self, register):
        self._note("recorder_register_sinks")

    @hookimpl
    def recorder_register_guards(self, register):
        self._note("recorder_register_guards")

    @hookimpl
    def recorder_register_notifiers(self, register):
        self._note("recorder_register_notifiers")

    @hookimpl
    def recorder_register_exporters(self, register):
        self._note("recorder_register_exporters")

    @hookimpl
    def recorder_register_options(self, register):
        self._note("recorder_register_options")

    @hookimpl
    def recorder_session_started(self, session):
        self._note("recorder_session_started")

    @hookimpl
    def recorder_part_opened(self, session, part):
        self._note("recorder_part_opened", part.file)

    @hookimpl
    def recorder_part_sealed(self, session, part):
        self._note("recorder_part_sealed", part.file)

    @hookimpl
    def recorder_session_event(self, session, event):
        self._note("recorder_session_event", event.kind)

    @hookimpl
    def recorder_prompt_save_location(self, session, default, problem, prefer, timeout):
        self._note("recorder_prompt_save_location", problem)

    @hookimpl
    def recorder_session_ended(self, session):
        self._note("recorder_session_ended", session.end_reason)

    @hookimpl
    def recorder_session_recovered(self, session, report):
        self._note("recorder_session_recovered", tuple(report))

    @hookimpl
    def recorder_session_saved(self, session):
        self._note("recorder_session_saved", session.folder)

    @hookimpl
    def recorder_session_roots(self):
        self._note("recorder_session_roots")
        return []


def test_every_hook_of_a_recording_is_called(tmp_path, tmp_settings):
    everything = Everything()
    host = make_host(TmpSinkPlugin(), everything)
    record(host, dict(tmp_settings, sink="prompt"), duration=0.5)
    calls = everything.calls
    for kind in ("sources", "encoders", "sinks", "guards", "notifiers", "exporters"):
        assert calls[f"recorder_register_{kind}"] == [None]
    assert calls["recorder_register_options"] == [None]
    assert calls["recorder_session_started"] == [None]
    assert calls["recorder_part_opened"] == calls["recorder_part_sealed"] == ["part-001.mp4"]
    assert calls["recorder_prompt_save_location"] == [None]  # asked once, then the fallback answered
    assert calls["recorder_session_ended"] == ["duration"]
    assert {"staged", "started", "end-requested", "stopped", "saved"} <= set(calls["recorder_session_event"])


def test_crash_recovery_calls_its_hooks_and_the_event_hook_for_every_event(tmp_path, tmp_settings):
    """The crashed, gap and resumed events reach recorder_session_event like any other."""
    everything = Everything()
    host = make_host(TmpSinkPlugin(), everything)
    folder = tmp_path / "crashed"
    shutil.copytree(DATA / "v1-crashed", folder)
    (folder / ".recorder-reserve").write_bytes(b"\0" * 1024)  # left by the disk-space guard
    report = recover_folder(folder, host)
    assert everything.calls["recorder_session_recovered"] == [tuple(report)]
    assert everything.calls["recorder_session_event"] == ["crashed"]
    assert not (folder / ".recorder-reserve").exists(), "the disk-space guard removes its reserve"


def test_save_and_list_call_their_hooks(spawn_cli, run_cli, home, tmp_path):
    """recorder save moves the session (and, deliberately, is not remembered as the profile's
    save location: issue 30, item 11), and recorder list finds a staged session the catalog lost (its recorder_session_roots)."""
    config = tmp_path / "prompt.toml"
    config.write_text('[profiles.customer]\nenabled = true\nsink = "prompt"\n', encoding="utf-8")
    child = spawn_cli("--profile", "customer", "--config", str(config), "--source", "synthetic",
                      "--duration", "1")
    child.expect("Save the recording to which folder")
    child.send("\x04")  # the user gives up: the session stays in staging
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert row["state"] == "unsaved"
    (home / ".local" / "state" / "recorder" / "catalog.json").unlink()
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert row["state"] == "unsaved", "found by scanning the prompt plugin's staging"
    target = tmp_path / "kept"
    run_cli("save", row["id"][:8], str(target), check=0)
    locations = home / ".local" / "state" / "recorder" / "plugins" / "prompt" / "locations.json"
    assert not locations.exists() or "customer" not in json.loads(locations.read_text(encoding="utf-8"))
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    assert row["state"] == "saved" and Path(row["folder"]).parent == target


# -- options for any plugin ------------------------------------------------------------

@attrs.frozen
class NoteOptions:
    text: str = option("hello", "What to note.")
    times: int = option(1, "How often.")


class HookOnly:
    name = "notes"

    def __init__(self):
        self.seen = []

    @hookimpl
    def recorder_register_options(self, register):
        register("notes", NoteOptions, description="notes on the timeline")

    @hookimpl
    def recorder_session_started(self, session):
        options = session.options_for("notes")
        self.seen.append(options)
        for _ in range(options.times):
            session.add_event("note", options.text)


def test_a_hook_only_plugin_gets_validated_options(tmp_settings):
    plugin = HookOnly()
    host = make_host(TmpSinkPlugin(), plugin)
    session = record(host, dict(tmp_settings, notes={"text": "ticket 42", "times": 2}), duration=0.5)
    assert plugin.seen == [NoteOptions(text="ticket 42", times=2)]
    notes = [e for e in read_manifest(session.folder).events if e.kind == "note"]
    assert [(e.text, e.by) for e in notes] == [("ticket 42", "notes")] * 2, "attributed to the plugin"
    record(host, tmp_settings, duration=0.5)
    assert plugin.seen[-1] == NoteOptions(), "defaults when the profile says nothing"
    with pytest.raises(UsageError, match=r"profile 'test' \[notes\]: key 'times': expected int"):
        make_profile(host, dict(tmp_settings, notes={"times": "2"}))
    with pytest.raises(UsageError, match=r"\[notes\]: unknown key 'txt'"):
        make_profile(host, dict(tmp_settings, notes={"txt": "x"}))


def test_an_installed_hook_only_plugin_is_configured_like_any_other(run_cli, home, tmp_path):
    """examples/recorder-copycat, installed through its entry point as a user would."""
    backup = tmp_path / "backup"
    config = tmp_path / "copycat.toml"
    config.write_text(f'[profiles.rep.copycat]\ndirectory = "{backup}"\n', encoding="utf-8")
    shown = run_cli("config", "--profile", "rep", "--config", str(config), check=0).stdout
    assert f'directory = "{backup}"  # {config} — Folder that receives a copy of each session' in shown
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1", check=0)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    [copy] = backup.iterdir()
    assert sha256_file(copy / "part-001.mp4") == sha256_file(folder / "part-001.mp4")
    assert json.loads((copy / "session.json").read_text(encoding="utf-8"))["state"] == "complete"
    config.write_text('[profiles.rep.copycat]\ndirectory = "relative/path"\n', encoding="utf-8")
    bad = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"recorder: error: {config}: profile 'rep' [copycat]: key 'directory': "
        "must be an absolute folder path, got 'relative/path'"]


# -- editing the component lists ---------------------------------------------------------

def test_guards_and_notifiers_can_be_edited_without_restating_the_defaults(tmp_settings):
    host = make_host(TmpSinkPlugin())
    profile = make_profile(host, dict(tmp_settings, guards=["+retention", "-logind"], notifiers=["-desktop"]))
    assert profile.settings.guards == ["disk-space", "signals", "windows-shutdown", "window-events", "retention"]
    assert profile.settings.notifiers == ["console"]
    assert profile.removed_defaults() == {"guards": ["logind"], "notifiers": ["desktop"]}
    with pytest.raises(UsageError, match="mixes names with"):
        make_profile(host, dict(tmp_settings, guards=["+retention", "signals"]))


def test_config_says_when_a_profile_drops_default_guards(run_cli, tmp_path):
    site = tmp_path / "site.toml"
    user = tmp_path / "user.toml"
    site.write_text('[profiles.rep]\nguards = ["+retention"]\n', encoding="utf-8")
    user.write_text('[profiles.rep]\nguards = ["retention"]\n', encoding="utf-8")
    shown = run_cli("config", "--profile", "rep", "--config", str(site), check=0).stdout
    assert 'guards = ["disk-space", "signals", "logind", "windows-shutdown", "window-events", "retention"]' in shown
    assert "leaves out" not in shown
    shown = run_cli("config", "--profile", "rep", "--config", str(user), check=0).stdout
    assert ('# note: guards leaves out the default disk-space, signals, logind, windows-shutdown, window-events '
            '(add back with guards = ["+disk-space", "+signals", "+logind", "+windows-shutdown", '
            '"+window-events"])') in shown


def test_config_shows_each_options_help(run_cli):
    shown = run_cli("config", "--profile", "rep", check=0).stdout
    assert 'crf = 23  # default of h264 — Constant rate factor, 0 (lossless) to 51' in shown
    assert "fps = 15.0  # default — Capture rate in frames per second." in shown


# -- the manifest --------------------------------------------------------------------------

def test_a_version_1_session_is_read_verified_and_played(run_cli, tmp_path):
    folder = tmp_path / "v1"
    shutil.copytree(DATA / "v1-complete", folder)
    manifest = read_manifest(folder)
    assert manifest.format_version == manifests.FORMAT_VERSION and manifest.parts[0].encoder == "h264"
    assert run_cli("verify", str(folder), check=0).stdout.strip().endswith("verified")
    info = run_cli("info", str(folder), check=0).stdout
    assert "9c7a5136441842f892fc442961090153" in info and "part-001.mp4" in info
    out = tmp_path / "v1.mp4"
    run_cli("export", str(folder), "--format", "mp4", "-o", str(out), check=0)
    assert decode(out).frames == manifest.parts[0].frames == 20
    assert json.loads((folder / "session.json").read_text(encoding="utf-8"))["format_version"] == 1, "reading never rewrites"


def test_a_crashed_version_1_session_is_recovered_by_its_encoder(tmp_path):
    folder = tmp_path / "v1"
    shutil.copytree(DATA / "v1-crashed", folder)
    report = recover_folder(folder, load_plugins(entry_points_too=False))
    assert report[0].startswith("part-001.mp4: kept ")
    manifest = read_manifest(folder)
    [part] = manifest.parts
    assert part.state == "sealed" and part.encoder == "h264" and part.sha256 == sha256_file(folder / part.file)
    assert decode(folder / part.file).frames == part.frames > 0
    assert manifest.state == "interrupted" and manifest.end_reason == "crashed"
    assert json.loads((folder / "session.json").read_text(encoding="utf-8"))["format_version"] == manifests.FORMAT_VERSION
    assert recover_folder(folder, load_plugins(entry_points_too=False)) == [], "nothing left to do"


@pytest.mark.parametrize("damage", [b"", b"{", b"[]", b'{"format_version": 2}',
                                    b'{"format_version": 9, "session_id": "x"}'])
def test_a_damaged_manifest_is_one_line_naming_the_file(run_cli, tmp_path, damage):
    folder = tmp_path / "damaged"
    shutil.copytree(DATA / "v1-complete", folder)
    (folder / "session.json").write_bytes(damage)
    for command in ("info", "verify", "export"):
        args = [command, str(folder)] + (["--format", "mp4", "-o", str(tmp_path / "x.mp4")]
                                         if command == "export" else [])
        result = run_cli(*args)
        assert result.returncode in (1, 2), result
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert any(str(folder / "session.json") in line for line in lines), lines
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr


# -- loose ends -------------------------------------------------------------------------------

def test_options_before_a_command_apply_to_it_or_are_refused(run_cli):
    assert run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", check=0)
    wrong = run_cli("--profile", "nope", "list")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "recorder: error: unknown profile 'nope' (known profiles: customer, rep)"
    assert run_cli("--profile", "rep", "list", "--json", check=0).stdout.count('"profile": "rep"') == 1
    assert json.loads(run_cli("--profile", "customer", "list", "--json", check=0).stdout) == []
    refused = run_cli("--profile", "rep", "info", "abc")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "recorder: error: --profile does not apply to 'recorder info' (it takes: --session-id)"
    refused = run_cli("--duration", "5", "list")
    assert refused.stderr.strip() == ("recorder: error: --duration does not apply to 'recorder list' "
                                      "(it takes: --profile)")


def test_stop_with_nothing_running_says_so_the_same_way_with_or_without_a_profile(run_cli):
    plain, named = run_cli("stop"), run_cli("stop", "--profile", "rep")
    assert plain.returncode == named.returncode == 2
    assert plain.stderr.strip() == "recorder: error: no recorder is running"
    assert named.stderr.strip() == "recorder: error: no recorder is running for profile 'rep'"


def test_the_prompt_sink_honours_output_dir_and_tells_the_notifiers_what_it_did(run_cli, home, tmp_path):
    events = tmp_path / "events.jsonl"
    config = tmp_path / "prompt.toml"
    config.write_text(f'[profiles.customer]\nsink = "prompt"\nnotifiers = ["+events-file"]\n'
                      f'[profiles.customer.events-file]\npath = "{events}"\n', encoding="utf-8")
    record = ("--profile", "customer", "--config", str(config), "--source", "synthetic", "--duration", "1")
    chosen = tmp_path / "chosen"
    folder = Path(run_cli(*record, "--output-dir", str(chosen), check=0).stdout.strip())
    assert folder.parent == chosen and (folder / "part-001.mp4").is_file()
    assert not (home / "Documents" / "SessionRecordings").exists(), "nobody was asked, nothing moved"

    run_cli(*record, check=0)  # no terminal: the remembered (default) location, said to this machine only
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    [said] = [line for line in lines if "no one to ask where to save" in line["text"]]
    assert said["audience"] == ["customer"] and said["by"] == "prompt"


def test_a_failing_source_is_an_error_event_by_its_plugin(tmp_settings):
    from recorder.plugins.synthetic_source import SyntheticOptions, SyntheticSource

    class Unplugged(SyntheticSource):
        def grab(self):
            if self.count == 5:
                raise OSError("capture card unplugged")
            return super().grab()

    class CapturePlugin:
        name = "capture-card"

        @hookimpl
        def recorder_register_sources(self, register):
            register("card", Unplugged, options=SyntheticOptions)

    host = make_host(TmpSinkPlugin(), CapturePlugin())
    session = record(host, dict(tmp_settings, source="card", card={"width": 320, "height": 240}), duration=5)
    [error] = [e for e in read_manifest(session.folder).events if e.kind == "error"]
    assert error.by == "capture-card"
    assert error.text == "source 'card' failed: OSError: capture card unplugged"
    assert session.end_reason == "error" and session.parts[0].state == "sealed"


@pytest.mark.parametrize("field, value", [("file", "../elsewhere.mp4"), ("file", "/etc/passwd"),
                                          ("file", "sub/part-001.mp4"), ("file", ".hidden")])
def test_a_manifest_cannot_name_a_file_outside_its_folder(run_cli, tmp_path, field, value):
    folder = tmp_path / "crafted"
    shutil.copytree(DATA / "v1-crashed", folder)
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"not yours")
    data = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    data["parts"][0][field] = value
    (folder / "session.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UsageError, match="refused .*not a plain file name"):
        read_manifest(folder)
    for command in ("verify", "info"):
        result = run_cli(command, str(folder))
        assert result.returncode in (1, 2) and "not a plain file name" in result.stdout + result.stderr
    with pytest.raises(UsageError):
        recover_folder(folder, load_plugins(entry_points_too=False))
    assert outside.read_bytes() == b"not yours"


def test_the_event_hook_sees_the_gap_and_the_resumption(tmp_settings):
    from recorder.pipeline.recording import Recording

    class Interrupter:
        def __init__(self, options):
            pass

        def start(self, session):
            import threading

            threading.Timer(0.5, session.request_end, args=("interrupted",)).start()

        def stop(self):
            pass

    class Guards:
        name = "interrupter"

        @hookimpl
        def recorder_register_guards(self, register):
            register("interrupter", Interrupter)

    everything = Everything()
    host = make_host(TmpSinkPlugin(), Guards(), everything)
    first = Recording(host, make_profile(host, dict(tmp_settings, guards=["interrupter"])), duration=10,
                      support_id="S-1").run()
    assert first.end_reason == "interrupted"
    second = Recording(host, make_profile(host, tmp_settings), duration=0.5, support_id="S-1").run()
    assert second.id == first.id and len(second.parts) == 2
    kinds = everything.calls["recorder_session_event"]
    assert kinds.index("gap") < kinds.index("resumed") < len(kinds) - 1


def test_config_never_shows_a_secret_option(run_cli, tmp_path):
    config = tmp_path / "chat.toml"
    config.write_text('[profiles.rep]\nnotifiers = ["+webhook"]\n'
                      '[profiles.rep.webhook]\nurl = "https://chat.example/hooks/s3cr3t-t0ken"\n', encoding="utf-8")
    shown = run_cli("config", "--profile", "rep", "--config", str(config), check=0).stdout
    assert "s3cr3t" not in shown and 'url = "(set, not shown)"' in shown
