"""Nothing leaves the machine unless configured.

Recording, the replay page, an export and verification each run inside a network
namespace with no usable interface (``unshare -n``: not even loopback is up), so
anything that needed the network would fail; and under ``strace``, so that an
attempt is seen even if its failure were handled quietly. The only connections
allowed are to Unix sockets (the X server, D-Bus, the control channel). With a
webhook notifier configured, its URL is the one place an AF_INET connection
may go.

The X server is reached through its socket file in /tmp/.X11-unix: abstract
Unix sockets belong to a network namespace, so libxcb's first try (the abstract
name) is refused inside one, and the test checks that it then connected
through the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from recorder.testing import decode

from chat_server import ChatServer
from conftest import cli_env, recorder_command

pytestmark = pytest.mark.display

SYSCALL = re.compile(r"^(\d+)\s+(connect|sendto|sendmsg)\((\d+), .*?sa_family=(AF_\w+)(.*)$")
INET = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)')
INET6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')
LOCAL = {"AF_UNIX", "AF_NETLINK"}  # a socket file, or the kernel itself: nothing leaves the machine


def tools() -> None:
    for tool, package in (("strace", "strace"), ("unshare", "util-linux")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install {package}): this test fails rather "
                        "than skips, so that CI cannot pass without it")


def traced(trace: Path, args: list[str], env: dict, *, isolated: bool = True) -> subprocess.CompletedProcess:
    """``recorder ARGS`` under strace (every process it starts too), inside a network namespace
    of its own unless ``isolated`` is False."""
    command = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-e", "signal=none",
               "-o", str(trace), recorder_command(), *args]
    if isolated:
        command = ["unshare", "--net", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, encoding="utf-8")


def addresses(trace: Path) -> list[tuple[str, str, str]]:
    """(family, address, outcome) of every connect or addressed send in the trace."""
    found = []
    for line in trace.read_text(encoding="utf-8").splitlines():
        match = SYSCALL.match(line)
        if not match:
            continue
        family, rest = match.group(4), match.group(5)
        if family == "AF_UNIX":
            where = re.search(r'sun_path=(@?"[^"]*")', rest)
            address = where.group(1) if where else "(unnamed)"
        elif family in ("AF_INET", "AF_INET6"):
            where = (INET if family == "AF_INET" else INET6).search(line)
            address = f"{where.group(2)}:{where.group(1)}" if where else rest
        else:
            address = rest
        found.append((family, address, rest.rsplit("=", 1)[-1].strip()))
    return found


def leaving(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [entry for entry in found if entry[0] not in LOCAL]


def test_record_play_export_verify_work_without_a_network_and_connect_nowhere(home, tmp_path, xdisplay):
    tools()
    env = cli_env(home, xdisplay.name)
    number = xdisplay.name.lstrip(":")
    result = traced(tmp_path / "record.trace", ["--profile", "rep", "--duration", "3"], env)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    found = addresses(tmp_path / "record.trace")
    assert leaving(found) == [], f"recording tried to reach the network: {leaving(found)}"
    x_socket = f'"/tmp/.X11-unix/X{number}"'
    assert ("AF_UNIX", x_socket, "0") in found, f"the X server was not reached through its socket file: {found}"
    assert decode(folder / "part-001.mp4").frames > 0

    page = traced(tmp_path / "play.trace", ["play", str(folder), "--no-open"], env)
    assert page.returncode == 0, page.stderr
    assert Path(page.stdout.strip().splitlines()[-1]).is_file()

    exported = tmp_path / "session.mp4"
    export = traced(tmp_path / "export.trace", ["export", str(folder), "--format", "mp4", "-o", str(exported)], env)
    assert export.returncode == 0, export.stderr
    assert decode(exported).frames > 0

    verify = traced(tmp_path / "verify.trace", ["verify", str(folder)], env)
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.strip().endswith("verified")

    for step in ("play", "export", "verify"):
        found = addresses(tmp_path / f"{step}.trace")
        assert leaving(found) == [], f"{step} tried to reach the network: {leaving(found)}"


def test_a_configured_webhook_is_the_only_place_a_connection_goes(home, tmp_path, xdisplay):
    """The network is there (the webhook's server listens on this machine's loopback):
    the recorder connects to the configured URL and to nothing else."""
    tools()
    with ChatServer() as chat:
        config = tmp_path / "webhook.toml"
        config.write_text(f'[profiles.rep]\nnotifiers = ["+webhook"]\n[profiles.rep.webhook]\nurl = "{chat.url}"\n', encoding="utf-8")
        result = traced(tmp_path / "record.trace", ["--profile", "rep", "--config", str(config),
                                                    "--duration", "2"], cli_env(home, xdisplay.name),
                        isolated=False)
        assert result.returncode == 0, result.stderr
        assert any(m["kind"] == "receipt" for m in chat.messages), "the webhook received nothing"
    port = chat.url.split(":")[2].split("/")[0]
    outside = leaving(addresses(tmp_path / "record.trace"))
    assert outside and {(family, address) for family, address, _ in outside} == {("AF_INET", f"127.0.0.1:{port}")}
