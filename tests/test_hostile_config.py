"""Hostile configuration and command-line input: one line naming the culprit, exit
status 2, nothing written, and never an internal error."""

from __future__ import annotations

import contextlib
import json
import math
import resource
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder import UsageError
from recorder.config import layers
from recorder.config.profile import ProfileSettings, resolve_profile
from recorder.pipeline.assembly import folder_name
from recorder.session.model import Session
from recorder.testing import make_host, make_profile
from recorder.values import ByteSize


@pytest.fixture(autouse=True)
def no_real_site_config(tmp_path, monkeypatch):
    """In-process tests read no /etc/recorder/recorder.toml of the machine running them."""
    monkeypatch.setattr(layers, "SITE_CONFIG", tmp_path / "etc" / "recorder.toml", raising=False)


@pytest.fixture(scope="module")
def builtins_host():
    return make_host()


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert len(message.splitlines()) == 1, message
    return message


def refused(host, table, *fragments) -> str:
    with pytest.raises(UsageError) as caught:
        make_profile(host, table)
    message = one_line(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def fields_of(cls, kind):
    return [f.name for f in attrs.fields(attrs.resolve_types(cls)) if f.type is kind]


def options_of(host, kind):
    """(component, option) for every built-in plugin option of type ``kind``."""
    return [(c.name, name) for c in host.registry if c.options is not None
            for name in fields_of(c.options, kind)]


# -- numbers ---------------------------------------------------------------------------

NON_FINITE = [math.nan, math.inf, -math.inf]
BAD_SIZES = ["nan", "inf", "-inf", "1e999MB", "nanGB", "1e308", 2**63, 10**30, 1e308, "9.3e18B"]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize("key", fields_of(ProfileSettings, float))
def test_profile_floats_must_be_finite(builtins_host, key, value):
    refused(builtins_host, {key: value}, f"key '{key}'", "finite")


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
def test_every_plugin_float_option_must_be_finite(builtins_host, value):
    found = options_of(builtins_host, float)
    assert len(found) > 5
    for component, key in found:
        refused(builtins_host, {component: {key: value}}, f"[{component}]", f"key '{key}'", "finite")


@pytest.mark.parametrize("value", [2**63, -2**63 - 1, 10**400], ids=["2**63", "-2**63-1", "10**400"])
def test_integers_must_fit_in_64_bits(builtins_host, value):
    refused(builtins_host, {"fps": value}, "key 'fps'", "64 bits")
    refused(builtins_host, {"h264": {"threads": value}}, "key 'threads'", "64 bits")


@pytest.mark.parametrize("value", BAD_SIZES, ids=repr)
def test_sizes_must_be_finite_and_below_2_63(builtins_host, value):
    refused(builtins_host, {"max_part_size": value}, "key 'max_part_size'", "size")
    for component, key in options_of(builtins_host, ByteSize):
        refused(builtins_host, {component: {key: value}}, f"key '{key}'", "size")


def test_good_sizes_still_work(builtins_host):
    profile = make_profile(builtins_host, {"max_part_size": "2GiB", "disk-space": {"warn_free": 2**63 - 1}})
    assert profile.settings.max_part_size == 2 * 2**30
    assert profile.options["disk-space"].warn_free == 2**63 - 1


@pytest.mark.parametrize("fps", [241, 1e308, 0.001])
def test_fps_is_bounded(builtins_host, fps):
    refused(builtins_host, {"fps": fps}, "key 'fps'", "from 0.01 to 240")


def test_fps_bounds_are_allowed(builtins_host):
    assert make_profile(builtins_host, {"fps": 240}).settings.fps == 240.0
    assert make_profile(builtins_host, {"fps": 0.01}).settings.fps == 0.01


# -- names -----------------------------------------------------------------------------

BAD_NAMES = ["Customer", "../x", "a b", "1rep", "-rep", "x" * 65, "rep\n", "", "r\u00e9p", "customer\u200b"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_profile_names_are_checked_in_every_layer(builtins_host, tmp_path, name):
    config = write(tmp_path / "user.toml", f"[profiles.{json.dumps(name)}]\nfps = 5.0\n")
    with pytest.raises(UsageError) as caught:
        layers.load_config(config)
    assert str(config) in one_line(caught.value)
    assert "invalid profile name" in str(caught.value)
    with pytest.raises(UsageError, match="invalid profile name"):
        make_profile(builtins_host, {}, name=name)


def test_a_64_character_name_is_fine(builtins_host):
    assert make_profile(builtins_host, {}, name="a" * 64).name == "a" * 64


def test_command_line_overrides_do_not_create_a_profile():
    with pytest.raises(UsageError, match=r"^unknown profile 'typo' \(known profiles: customer, rep\)$"):
        layers.load_config(None, {("profiles", "typo", "fps"): 4.0})
    config = layers.load_config(None, {("profiles", "rep", "fps"): 4.0})
    assert config.values[("profiles", "rep", "fps")] == 4.0


def test_a_lock_cannot_be_escaped_by_another_spelling(tmp_path):
    write(layers.SITE_CONFIG, "[profiles.customer]\nenabled = false\nlocked = [\"enabled\"]\n")
    for spelling in ("Customer", "CUSTOMER", "customer/", "./customer", "customer "):
        user = write(tmp_path / "user.toml", f"[profiles.{json.dumps(spelling)}]\nenabled = true\n")
        with pytest.raises(UsageError, match="invalid profile name"):
            layers.load_config(user)


def test_empty_tables_neither_crash_nor_hide_a_lock(builtins_host, tmp_path):
    write(layers.SITE_CONFIG, "[profiles.rep]\nlocked = [\"h264.crf\"]\n[profiles.rep.h264]\ncrf = 20\n")
    user = write(tmp_path / "user.toml", "[profiles]\n[profiles.support]\n[profiles.rep.h264]\n")
    config = layers.load_config(user)
    assert resolve_profile(config, builtins_host.registry, "rep").options["h264"].crf == 20
    assert resolve_profile(config, builtins_host.registry, "support").settings.fps == 15.0


def test_a_locked_table_locks_its_keys(builtins_host, tmp_path):
    write(layers.SITE_CONFIG, "[profiles.rep]\nlocked = [\"h264\"]\n[profiles.rep.h264]\ncrf = 20\n")
    user = write(tmp_path / "user.toml", "[profiles.rep.h264]\ncrf = 40\npreset = \"slow\"\n")
    config = layers.load_config(user)
    options = resolve_profile(config, builtins_host.registry, "rep").options["h264"]
    assert (options.crf, options.preset) == (20, "veryfast")
    assert len(config.ignored) == 2


# -- files -----------------------------------------------------------------------------

BAD_FILES = {
    "not UTF-8": (b"[profiles.rep]\nrole = \"\xff\xfe\"\n", "not UTF-8"),
    "nested arrays": ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    "nested inline tables": ("a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply"),
    "nested headers": ("[profiles.rep." + ".".join(["a"] * 50000) + "]\n", "nested too deeply"),
    "profiles = 5": ("profiles = 5\n", "'profiles' must be a table"),
    "profiles = []": ("profiles = []\n", "'profiles' must be a table"),
    "rep = 3": ("[profiles]\nrep = 3\n", "profiles.rep must be a table"),
    "value and table": ("[profiles.rep.role]\nx = 1\n", "'profiles.rep.role' is a table here but a value"),
    "huge integer": ("[profiles.rep]\nfps = " + "9" * 5000 + "\n", "4300 digits"),
    "too large": ("# " + "x" * 2**20 + "\n", "larger than 1 MiB"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_config_files_give_one_line_naming_the_file(tmp_path, case):
    content, fragment = BAD_FILES[case]
    config = write(tmp_path / "bad.toml", content)
    with pytest.raises(UsageError) as caught:
        layers.load_config(config)
    message = one_line(caught.value)
    assert str(config) in message and fragment in message, message


@contextlib.contextmanager
def memory_capped(extra: int = 2**30):
    """Should reading /dev/zero come back, fail with MemoryError rather than have the
    machine's OOM killer pick a victim (children started inside inherit the cap)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = int(Path("/proc/self/status").read_text(encoding="utf-8").split("VmSize:")[1].split()[0]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_an_endless_config_file_is_not_read_to_the_end():
    with memory_capped(), pytest.raises(UsageError, match=r"^config error in /dev/zero: larger than 1 MiB"):
        layers.load_config(Path("/dev/zero"))


@pytest.mark.parametrize("where", ["user", "site", "config"])
def test_a_folder_in_place_of_a_config_file_is_an_error(tmp_path, where):
    paths = {"user": layers.user_config_file(), "site": layers.SITE_CONFIG, "config": tmp_path / "dir.toml"}
    paths[where].mkdir(parents=True)
    with pytest.raises(UsageError) as caught:
        layers.load_config(paths["config"] if where == "config" else None)
    assert f"cannot read config file {paths[where]}" in one_line(caught.value)


# -- folder names ----------------------------------------------------------------------

BAD_TEMPLATES = {
    "NUL": ("a\0b", "NUL"),
    "slash": ("{profile}/x", "not a folder name"),
    "dot-dot": ("..", "not a folder name"),
    "empty result": ("{short_id:.0}", "not a folder name"),
    "long result": ("x" * 256, "longer than 255 bytes"),
    "long in UTF-8": ("\u00e9" * 128, "longer than 255 bytes"),
    "huge width": ("{short_id:>99999999}", "no width above 255"),
    "huge width, zero-padded": ("{short_id:0000000000001000000000}", "no width above 255"),
    "nested field": ("{short_id:>{profile}}", "no nested fields"),
    "unknown field": ("{nope}", "KeyError"),
    "index": ("{start[0]}", "TypeError"),
    "positional": ("{}", "IndexError"),
    "unbalanced": ("{short_id", "ValueError"),
}


@pytest.mark.parametrize("case", BAD_TEMPLATES)
def test_bad_folder_templates_are_refused_when_the_profile_is_resolved(builtins_host, case):
    template, fragment = BAD_TEMPLATES[case]
    refused(builtins_host, {"folder_template": template}, "key 'folder_template'", fragment)


def test_the_template_is_tried_with_the_profile_name(builtins_host):
    template = "{profile}" * 4  # 256 bytes for a 64-character name
    with pytest.raises(UsageError, match="key 'folder_template': .*longer than 255 bytes"):
        make_profile(builtins_host, {"folder_template": template}, name="p" * 64)
    assert make_profile(builtins_host, {"folder_template": template}, name="p" * 63)


def test_folder_name_checks_the_real_values_too():
    session = Session(profile="rep", role="rep", host="h" * 250)
    assert folder_name(session, "{profile}_{short_id}") == f"rep_{session.short_id}"
    with pytest.raises(UsageError, match=r"^profile 'rep': key 'folder_template': .*longer than 255 bytes$"):
        folder_name(session, "{host}_{short_id}")
    with pytest.raises(UsageError, match="no width above 255"):
        folder_name(session, "{short_id:>999999999}")


# -- every setting and every option, with anything TOML can hold ------------------------

leaves = st.one_of(
    st.booleans(), st.integers(), st.sampled_from([2**63, -2**63 - 1, 10**30, 2**63 - 1]),
    st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-inf", "1e999MB", "1e308", "500MB", "2GiB", "8EiB", "rep", "synthetic",
                     "h264", "documents", "+webhook", "-desktop", "{short_id:>99999999}", "a\0b", "a/b",
                     "{start:%Y}_{short_id}", "http://x", "/tmp/x"]),
    st.datetimes(), st.dates(), st.times(),
)
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def _keys(cls) -> list[str]:
    return [f.name for f in attrs.fields(cls)] + ["unknown"]


def _check_finite(instance) -> None:
    for field in attrs.fields(type(instance)):
        value = getattr(instance, field.name)
        if isinstance(value, float):
            assert math.isfinite(value), (field.name, value)
        if isinstance(value, int) and not isinstance(value, bool):
            assert -2**63 <= value < 2**63, (field.name, value)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_in_any_setting_or_option_resolves_or_gives_one_line(builtins_host, data):
    host = builtins_host
    components = [c for c in host.registry if c.options is not None]
    component = data.draw(st.sampled_from(components), label="component")
    core = data.draw(st.dictionaries(st.sampled_from(_keys(ProfileSettings)), values, max_size=3),
                     label="core")
    sub = data.draw(st.dictionaries(st.sampled_from(_keys(component.options)), values, max_size=3),
                    label=component.name)
    table = {**core, component.name: sub} if sub or data.draw(st.booleans()) else core
    try:
        profile = make_profile(host, table)
    except UsageError as exc:
        one_line(exc)
    else:
        _check_finite(profile.settings)
        for options in profile.options.values():
            if options is not None:
                _check_finite(options)


# -- through the command a user runs ---------------------------------------------------

def assert_refused(result, home, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("recorder: error: ") and "internal error" not in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not (home / "Documents").exists()


@pytest.mark.parametrize("flag", ["--fps", "--duration"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_flags(run_cli, home, flag, value):
    args = ["--profile", "rep", "--source", "synthetic", "--duration", "1", flag, value]
    assert_refused(run_cli(*args), home, f"'{flag}'")


CLI_FILES = {
    "fps = nan": ("[profiles.rep]\nfps = nan\n", ["key 'fps'", "finite"]),
    "1e999MB": ("[profiles.rep]\nmax_part_size = \"1e999MB\"\n", ["key 'max_part_size'"]),
    "huge width": ("[profiles.rep]\nfolder_template = \"{short_id:>99999999}\"\n", ["key 'folder_template'"]),
    "not UTF-8": (b"[profiles.rep]\n\xff = 1\n", ["not UTF-8"]),
    "Customer": ("[profiles.Customer]\nenabled = true\n", ["invalid profile name 'Customer'"]),
}


@pytest.mark.parametrize("case", CLI_FILES)
def test_bad_config_files_through_the_command(run_cli, home, tmp_path, case):
    content, fragments = CLI_FILES[case]
    config = write(tmp_path / "bad.toml", content)
    result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", "--config", str(config))
    assert_refused(result, home, str(config), *fragments)


def test_dev_zero_as_config(run_cli, home):
    with memory_capped():
        result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1",
                         "--config", "/dev/zero")
    assert_refused(result, home, "/dev/zero", "larger than 1 MiB")


@pytest.mark.parametrize("name, fragment", [("typo", "unknown profile 'typo'"),
                                            ("Customer", "invalid profile name 'Customer'"),
                                            ("../x", "invalid profile name '../x'")])
def test_profile_flag(run_cli, home, name, fragment):
    result = run_cli("--profile", name, "--source", "synthetic", "--fps", "5", "--duration", "1")
    assert_refused(result, home, fragment)


def test_a_site_lock_through_the_command_cannot_be_sidestepped(run_cli, home, tmp_path):
    write(home / "site-config" / "recorder" / "recorder.toml",
          "[profiles.customer]\nenabled = false\nlocked = [\"enabled\"]\n")
    write(home / ".config" / "recorder" / "recorder.toml", "[profiles.Customer]\nenabled = true\n")
    result = run_cli("--profile", "Customer", "--source", "synthetic", "--duration", "1")
    assert_refused(result, home, "--profile", "invalid profile name")
    result = run_cli("--profile", "customer", "--source", "synthetic", "--duration", "1")
    assert_refused(result, home, "invalid profile name 'Customer'")
