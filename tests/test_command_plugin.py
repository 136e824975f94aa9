"""A third-party plugin adds a command (recorder_register_commands): examples/recorder-sessions-csv,
installed by pip as a user would, run through the real ``recorder`` command; a plugin whose
commands hook fails, or that takes a name in use, is named in one line and nothing else breaks."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from installed import install_plugin

EXAMPLE = Path(__file__).parent.parent / "examples" / "recorder-sessions-csv"

BROKEN = '''
from recorder import hookimpl

@hookimpl
def recorder_register_commands(cli):
    raise RuntimeError("licence server unreachable")
'''

SQUATTER = '''
import click
from recorder import hookimpl

@click.command("list")
def mine():
    print("not recorder's list")

@hookimpl
def recorder_register_commands(cli):
    cli.add_command(mine)
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example installed by pip (no index, no build isolation: offline) into a folder; built
    from a copy, so that the build leaves nothing in examples/."""
    source = tmp_path_factory.mktemp("source") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=180, cwd=target)
    assert list(target.glob("recorder_sessions_csv-0.1.0.dist-info")), "installed with its entry point"
    return target


def paths(*folders: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(str(folder) for folder in folders)}


def test_an_installed_plugin_adds_a_command(run_cli, home, site):
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", "--label", "ticket=INC-7",
            env=paths(site), check=0)
    [listed] = json.loads(run_cli("list", "--json", env=paths(site), check=0).stdout)
    assert "sessions-csv" in run_cli("--help", env=paths(site), check=0).stdout
    result = run_cli("sessions-csv", env=paths(site), check=0)
    assert result.stderr == ""
    header, row = list(csv.reader(io.StringIO(result.stdout)))
    assert {"id": listed["id"], "profile": "rep", "parts": "1", "labels": "ticket=INC-7",
            "folder": listed["folder"]}.items() <= dict(zip(header, row)).items()
    # recorder's options before the command name reach it, as they reach recorder's own commands
    assert len(list(csv.reader(io.StringIO(run_cli("--profile", "customer", "sessions-csv", env=paths(site),
                                                   check=0).stdout)))) == 1
    refused = run_cli("--duration", "3", "sessions-csv", env=paths(site))
    assert refused.returncode == 2 and "--duration does not apply to 'recorder sessions-csv'" in refused.stderr
    output = home / "sessions.csv"
    run_cli("sessions-csv", "--output", str(output), env=paths(site), check=0)
    assert output.read_text(encoding="utf-8") == result.stdout


def test_a_failing_command_plugin_is_named_in_one_line_and_breaks_nothing(run_cli, site, tmp_path):
    broken = install_plugin(tmp_path / "broken", "broken-command", BROKEN)
    env = paths(site, broken)
    listed = run_cli("list", env=env, check=0)
    assert listed.stdout.strip() == "no sessions"
    assert listed.stderr.splitlines() == ['recorder: warning: plugin "broken-command" failed in '
                                          'recorder_register_commands: RuntimeError: licence server unreachable']
    assert run_cli("sessions-csv", env=env, check=0).stdout.startswith("id,profile,")
    # The control verbs load no plugin: support tools calling them often hear nothing of it
    assert "broken-command" not in run_cli("status", "--profile", "rep", env=env).stderr


def test_a_command_plugin_cannot_take_a_name_in_use(run_cli, site, tmp_path):
    squatter = install_plugin(tmp_path / "squatter", "squatter", SQUATTER)
    listed = run_cli("list", env=paths(site, squatter), check=0)
    assert listed.stdout.strip() == "no sessions", "recorder's own list"
    assert listed.stderr.splitlines() == ['recorder: warning: plugin "squatter" failed in recorder_register_commands: '
                                          "UsageError: command 'list' is already recorder's own"]


def test_a_command_whose_plugin_cannot_be_imported_says_so(run_cli, tmp_path):
    broken = install_plugin(tmp_path / "broken", "hello-command", "raise ImportError('no module named greetings')\n")
    result = run_cli("hello", env=paths(broken))
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["recorder: error: no such command 'hello' (plugins not loaded: "
                                          "hello-command)"]
