"""The docs say what the tool does (issue 30, item 12): every option ``recorder config`` prints
is in docs/configuration.md with the same default, and every option documented there is
printed; the smaller disagreements the issue lists stay fixed."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from recorder.values import ByteSize

from conftest import cli_env, recorder_command

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
# Profiles that, between them, run every built-in component that has options.
EVERY_COMPONENT = """
[profiles.rep]
guards = ["+retention", "+archive", "+encrypt", "+indicator", "+signing"]
indexer = "tesseract"
notifiers = ["+webhook", "+events-file"]
[profiles.rep.archive]
bucket = "b"
[profiles.rep.encrypt]
recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
[profiles.rep.webhook]
url = "http://127.0.0.1:9/chat"
[profiles.rep.events-file]
path = "/tmp/events.jsonl"
[profiles.synthetic]
source = "synthetic"
sink = "prompt"
[profiles.wayland]
source = "portal"
"""
SECTION = re.compile(r"^\[profiles\.[^.\]]+(?:\.([^\]]+))?\]$")
LINE = re.compile(r"^([a-z_]+) = (.*?)  # (default(?: of \S+)?|[^—]*?) —")
ROW = re.compile(r"^\| `([a-z_]+)` \| [^|]+ \| ([^|]+) \|")


def printed(home: Path, tmp_path: Path) -> dict[str, dict[str, list[tuple[str, bool]]]]:
    """{component ('' for the profile's own settings): {key: [(value as printed, is it the default),
    one for each profile that prints it]}}."""
    config = tmp_path / "every.toml"
    config.write_text(EVERY_COMPONENT, encoding="utf-8")
    env = cli_env(home, RECORDER_DISABLED_PLUGINS="copycat,mirror")  # third-party examples: not ours to document
    options: dict[str, dict[str, list[tuple[str, bool]]]] = {}
    for profile in ("rep", "synthetic", "wayland"):
        result = subprocess.run([recorder_command(), "--profile", profile, "--config", str(config), "config"],
                                env=env, capture_output=True, text=True, encoding="utf-8", timeout=60)
        assert result.returncode == 0, result.stderr
        section = ""
        for line in result.stdout.splitlines():
            if match := SECTION.match(line):
                section = match.group(1) or ""
            elif match := LINE.match(line):
                key, value, origin = match.groups()
                options.setdefault(section, {}).setdefault(key, []).append((value, origin.startswith("default")))
    return options


def documented() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """({component: {key: default}} from the tables, {component: its section's whole text})."""
    tables: dict[str, dict[str, str]] = {}
    texts: dict[str, str] = {}
    names: list[str] = []
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            names = [""] if line.strip() == "## Profile settings" else []
        elif line.startswith("### "):
            names = re.findall(r"`([a-z0-9-]+)`", line)
        for name in names:
            texts[name] = texts.get(name, "") + line + "\n"
            if match := ROW.match(line):
                tables.setdefault(name, {})[match.group(1)] = match.group(2).strip()
    return tables, texts


def same_default(printed_value: str, doc: str) -> bool:
    doc = doc.strip()
    if not (doc.startswith("`") and doc.endswith("`")):
        return True  # said in words ("required", "the profile's name ..."): nothing to compare
    doc = doc.strip("`")
    try:
        shown, said = tomllib.loads(f"v = {printed_value}")["v"], tomllib.loads(f"v = {doc}")["v"]
    except tomllib.TOMLDecodeError:
        return printed_value == doc
    if isinstance(said, str) and isinstance(shown, int) and not isinstance(shown, bool):
        return ByteSize.parse(said) == shown  # a size: "2GB" is printed in bytes
    return shown == said


def test_every_option_recorder_config_prints_is_documented_with_its_default_and_the_reverse(home, tmp_path):
    options = printed(home, tmp_path)
    tables, texts = documented()
    assert "" in options and "h264" in options and "webhook" in options and "portal" in options, options.keys()
    missing = [f"{component or 'profile'}.{key}" for component, keys in options.items() for key in keys
               if f"`{key}`" not in texts.get(component, "")]
    assert not missing, f"printed by recorder config, not in docs/configuration.md: {missing}"
    unprinted = [f"{component or 'profile'}.{key}" for component, keys in tables.items() for key in keys
                 if component in options and key not in options[component]]
    unknown = sorted(set(tables) - set(options))
    assert not unprinted and not unknown, f"documented, not printed by recorder config: {unprinted} {unknown}"
    wrong = [f"{component or 'profile'}.{key}: docs {tables[component][key]}, recorder config {value}"
             for component, keys in options.items() for key, seen in keys.items() for value, default in seen
             if default and key in tables.get(component, {}) and not same_default(value, tables[component][key])]
    assert not wrong, wrong


def test_the_folder_template_fields_are_all_documented():
    from recorder.config.profile import ProfileSettings
    import attrs

    help_text = attrs.fields_dict(ProfileSettings)["folder_template"].metadata["help"]
    fields = re.search(r"fields: (.*?) \(", help_text).group(1).split(", ")
    _, texts = documented()
    row = next(line for line in texts[""].splitlines() if line.startswith("| `folder_template`"))
    assert [f for f in fields if f"`{f}`" not in row] == [], row


def test_what_a_crash_can_lose_is_not_understated_in_the_example_config():
    example = (ROOT / "examples" / "recorder.toml").read_text(encoding="utf-8")
    for line in example.splitlines():
        if line.lstrip("# ").startswith("fragment_seconds"):
            assert "lookahead" in line, line


def test_the_site_config_that_locks_keys_is_one_recorder_always_reads():
    """/etc/xdg/recorder/recorder.toml is read only when /etc/xdg is in XDG_CONFIG_DIRS (and its
    locks are lost without it): the docs lock keys in /etc/recorder/recorder.toml, which is
    read whatever the variable says."""
    pages = [page.name for page in DOCS.glob("*.md")
             if "/etc/xdg/recorder/recorder.toml" in page.read_text(encoding="utf-8")]
    assert pages == []


def test_stop_timeout_is_documented():
    help_text = subprocess.run([recorder_command(), "stop", "--help"], capture_output=True, text=True,
                               encoding="utf-8", check=True).stdout
    assert "--timeout" in help_text
    assert "stop --timeout" in (DOCS / "support-tools.md").read_text(encoding="utf-8")


def test_the_protocol_hello_example_shows_this_version():
    from recorder.version import __version__

    text = (DOCS / "support-tools.md").read_text(encoding="utf-8")
    hello = re.search(r'\{"recorder": "control", "protocol": 1, "version": "([^"]+)"', text)
    assert hello and hello.group(1) == __version__
