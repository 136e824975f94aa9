"""Configuration layers, locks and validation, through the command a user runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder import UsageError
from recorder.config import layers
from recorder.plugins.h264 import PRESETS, TUNES
from recorder.testing import make_host, make_profile


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_malformed_toml_names_file_and_line(run_cli, home, tmp_path):
    bad = write(tmp_path / "bad.toml", "[profiles.rep]\nfps = \n")
    result = run_cli("--profile", "rep", "--source", "synthetic", "--config", str(bad), "--duration", "1")
    assert_one_line_error(result, str(bad), "line 2")
    assert not (home / "Documents").exists()


@pytest.mark.parametrize("text, fragments", [
    ("[profiles.rep]\nfsp = 3\n", ["unknown key 'fsp'", "profile 'rep'"]),
    ("[profiles.rep]\nfps = \"fast\"\n", ["key 'fps'", "expected float"]),
    ("[profiles.rep]\nfps = -1\n", ["key 'fps'", "greater than 0"]),
    ("[profiles.rep]\nguards = \"x\"\n", ["key 'guards'", "expected a list"]),
    ("[profiles.rep]\nsource = \"msss\"\n", ["source 'msss' is not a registered source", "synthetic"]),
    ("[profiles.rep]\nnotifiers = [\"nope\"]\n", ["notifiers 'nope' is not a registered notifier"]),
    ("[profiles.rep.h264]\ncrf = 99\n", ["[h264]", "key 'crf'", "51"]),
    ("[profiles.rep.h264]\ncrff = 9\n", ["[h264]", "unknown key 'crff'"]),
    ("[profiles.rep.h264]\npreset = 3\n", ["key 'preset'", "expected str"]),
    ("[profiles.rep.mss]\nregion = [1, 2]\n", ["key 'region'"]),
    ("[profiles.rep.nosuchplugin]\nx = 1\n", ["unknown key 'nosuchplugin'"]),
    ("[profiles.rep]\nlocked = [\"fps\"]\n", ["only allowed in the site config"]),
    ("[recorder]\nfps = 3\n", ["unknown top-level key 'recorder'"]),
    ("[profiles.rep]\nfps = inf\n", ["key 'fps'", "expected a finite number"]),
    ("[profiles.rep]\nfps = 1000\n", ["key 'fps'", "from 0.01 to 240"]),
    ("[profiles.rep.disk-space]\nwarn_free = \"1e999MB\"\n", ["[disk-space]", "key 'warn_free'"]),
    ("[profiles.rep]\nfolder_template = \"a/{short_id}\"\n", ["key 'folder_template'", "not a folder name"]),
    ("profiles = 5\n", ["'profiles' must be a table"]),
    ("[profiles.Rep]\nfps = 5.0\n", ["invalid profile name 'Rep'"]),
])
def test_bad_values_fail_before_recording(run_cli, home, tmp_path, text, fragments):
    config = write(tmp_path / "user.toml", text)
    result = run_cli("--profile", "rep", "--config", str(config), "--duration", "1")
    assert_one_line_error(result, str(config), *fragments)
    assert not (home / "Documents").exists()


def test_unknown_profile(run_cli, home):
    assert_one_line_error(run_cli("--profile", "nope"), "unknown profile 'nope'", "customer, rep")


def test_missing_config_file(run_cli, tmp_path):
    assert_one_line_error(run_cli("--profile", "rep", "--config", str(tmp_path / "none.toml")),
                          "none.toml")


def test_layers_later_wins_and_config_shows_origin(run_cli, home, tmp_path):
    site = write(home / "site-config" / "recorder" / "recorder.toml",
                 "[profiles.rep]\nfps = 5.0\n[profiles.rep.h264]\ncrf = 30\npreset = \"fast\"\n")
    user = write(home / ".config" / "recorder" / "recorder.toml",
                 "[profiles.rep]\nfps = 8.0\n[profiles.rep.h264]\ncrf = 28\n")
    extra = write(tmp_path / "extra.toml", "[profiles.rep.h264]\ncrf = 26\n")
    result = run_cli("config", "--profile", "rep", "--config", str(extra), check=0)
    shown = tomllib.loads(result.stdout)["profiles"]["rep"]
    assert shown["fps"] == 8.0 and shown["h264"]["crf"] == 26 and shown["h264"]["preset"] == "fast"
    lines = {line.split(" =")[0]: line for line in result.stdout.splitlines() if " = " in line}
    assert str(user) in lines["fps"]
    assert str(extra) in lines["crf"]
    assert str(site) in lines["preset"]
    assert "built-in defaults" in lines["role"]


def test_command_line_flags_win(run_cli, home, tmp_path):
    extra = write(tmp_path / "extra.toml", "[profiles.rep]\nfps = 8.0\n")
    run_cli("--profile", "rep", "--config", str(extra), "--source", "synthetic", "--fps", "4",
            "--duration", "1", check=0)
    import json
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["video"]["fps"] == 4.0 and manifest["frames"] == 4


def test_site_lock_keeps_recording_disabled(run_cli, home, tmp_path):
    site = write(home / "site-config" / "recorder" / "recorder.toml",
                 "[profiles.customer]\nenabled = false\nlocked = [\"enabled\"]\n")
    user = write(home / ".config" / "recorder" / "recorder.toml", "[profiles.customer]\nenabled = true\n")
    result = run_cli("--profile", "customer", "--source", "synthetic", "--duration", "1")
    assert result.returncode == 2
    assert f"profiles.customer.enabled is locked by {site}" in result.stderr
    assert str(user) in result.stderr
    assert f"recording is disabled for profile 'customer' (enabled = false in {site})" in result.stderr
    assert not (home / "Documents").exists()
    shown = run_cli("config", "--profile", "customer", check=0).stdout
    assert f"enabled = false  # {site} (locked by {site})" in shown


def test_site_lock_of_a_plugin_option(run_cli, home, tmp_path):
    write(home / "site-config" / "recorder" / "recorder.toml",
          "[profiles.rep]\nlocked = [\"h264.crf\"]\n[profiles.rep.h264]\ncrf = 20\n")
    extra = write(tmp_path / "extra.toml", "[profiles.rep.h264]\ncrf = 40\n")
    result = run_cli("config", "--profile", "rep", "--config", str(extra), check=0)
    assert tomllib.loads(result.stdout)["profiles"]["rep"]["h264"]["crf"] == 20
    assert "profiles.rep.h264.crf is locked" in result.stderr


def test_site_config_is_read_from_every_xdg_config_dir(monkeypatch, tmp_path):
    """Ubuntu sets XDG_CONFIG_DIRS=/etc/xdg/xdg-ubuntu:/etc/xdg: the second folder counts too."""
    monkeypatch.setattr(layers, "SITE_CONFIG", tmp_path / "etc" / "recorder.toml")
    second = write(tmp_path / "xdg" / "recorder" / "recorder.toml",
                   "[profiles.customer]\nenabled = false\nfps = 8.0\nlocked = [\"enabled\"]\n")
    first = write(tmp_path / "xdg-ubuntu" / "recorder" / "recorder.toml", "[profiles.customer]\nfps = 5.0\n")
    write(layers.user_config_file(), "[profiles.customer]\nenabled = true\n")
    monkeypatch.setenv("XDG_CONFIG_DIRS", f"{tmp_path / 'xdg-ubuntu'}:{tmp_path / 'xdg'}")
    config = layers.load_config()
    assert config.values[("profiles", "customer", "enabled")] is False
    assert config.locked[("profiles", "customer", "enabled")] == str(second)
    assert config.origin[("profiles", "customer", "fps")] == str(first)  # the first folder listed wins


def test_site_config_files_weakest_first(monkeypatch, tmp_path):
    monkeypatch.setattr(layers, "SITE_CONFIG", tmp_path / "etc" / "recorder.toml")
    monkeypatch.setenv("XDG_CONFIG_DIRS", "/etc/xdg/xdg-ubuntu:/etc/xdg")
    assert layers.site_config_files() == [Path("/etc/xdg/recorder/recorder.toml"),
                                          Path("/etc/xdg/xdg-ubuntu/recorder/recorder.toml"),
                                          tmp_path / "etc" / "recorder.toml"]


def test_the_fixed_site_config_cannot_be_escaped_through_the_environment(monkeypatch, tmp_path):
    fixed = write(tmp_path / "etc" / "recorder.toml",
                  "[profiles.customer]\nenabled = false\nlocked = [\"enabled\"]\n")
    monkeypatch.setattr(layers, "SITE_CONFIG", fixed)
    # the user's own "site" folder, listed in XDG_CONFIG_DIRS, locking the opposite first
    write(tmp_path / "mine" / "recorder" / "recorder.toml",
          "[profiles.customer]\nenabled = true\nlocked = [\"enabled\"]\n")
    user = write(layers.user_config_file(), "[profiles.customer]\nenabled = true\n")
    for dirs in ("/nonexistent", str(tmp_path / "mine")):
        monkeypatch.setenv("XDG_CONFIG_DIRS", dirs)
        config = layers.load_config()
        assert config.values[("profiles", "customer", "enabled")] is False
        assert config.origin[("profiles", "customer", "enabled")] == str(fixed)
        assert config.locked[("profiles", "customer", "enabled")] == str(fixed)
        assert config.ignored == [f"profiles.customer.enabled is locked by {fixed}; "
                                  f"the value from {user} is ignored"]


def test_missing_profile_flag(run_cli):
    assert_one_line_error(run_cli(), "no profile given")


h264_values = st.fixed_dictionaries({}, optional={
    "preset": st.one_of(st.sampled_from(PRESETS), st.text(max_size=8), st.integers()),
    "crf": st.one_of(st.integers(-5, 60), st.floats(allow_nan=False), st.text(max_size=3), st.booleans()),
    "keyframe_interval": st.one_of(st.floats(-1, 10, allow_nan=False), st.integers(-2, 10), st.text(max_size=2)),
    "tune": st.one_of(st.sampled_from(TUNES), st.text(max_size=6)),
    "threads": st.one_of(st.integers(-2, 16), st.booleans(), st.just("4")),
})


@pytest.fixture(scope="module")
def builtins_host():
    """Built once for the property test's examples (loading plugins is the slow part)."""
    return make_host()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=h264_values)
def test_h264_options_are_accepted_exactly_when_valid(builtins_host, values):
    host = builtins_host
    valid = (
        values.get("preset", "veryfast") in PRESETS
        and type(values.get("crf", 23)) is int and 0 <= values.get("crf", 23) <= 51
        and type(values.get("keyframe_interval", 2.0)) in (int, float) and values.get("keyframe_interval", 2.0) > 0
        and values.get("tune", "") in TUNES
        and type(values.get("threads", 0)) is int and values.get("threads", 0) >= 0
    )
    try:
        profile = make_profile(host, {"source": "synthetic", "h264": values})
    except UsageError as exc:
        assert not valid, exc
        message = str(exc)
        assert "\n" not in message
        assert any(f"key '{key}'" in message for key in values)
    else:
        assert valid
        options = profile.options["h264"]
        for key, value in values.items():
            assert getattr(options, key) == value


@pytest.mark.parametrize("profile", ["rep", "customer"])
def test_the_example_config_is_valid(run_cli, profile):
    from pathlib import Path
    example = Path(__file__).parent.parent / "examples" / "recorder.toml"
    shown = run_cli("config", "--profile", profile, "--config", str(example), check=0).stdout
    assert f"role = \"{profile}\"  # {example}" in shown
