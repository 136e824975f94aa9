"""The disk-space guard and notifiers on real small filesystems, with a real HTTP chat bridge."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import signal
import time
from pathlib import Path

import pytest

from recorder import sha256_file
from recorder.testing import decode

from chat_server import ChatServer
from conftest import child_signals, cli_env, recorder_command

NOISE = "[profiles.rep.synthetic]\nwidth = 640\nheight = 480\nnoise = true\n"


def write_config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "disk.toml"
    config.write_text(text, encoding="utf-8")
    return config


def start_recording(config: Path, disk: Path, duration: float, home: Path) -> subprocess.Popen:
    """The synthetic source into ``disk``, in the background, for a test to act on meanwhile."""
    return subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--source",
                             "synthetic", "--output-dir", str(disk), "--duration", str(duration)],
                            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)


def only_session(root: Path) -> Path:
    [folder] = [p for p in root.iterdir() if p.is_dir()]
    return folder


def assert_intact(folder: Path, run_cli) -> dict:
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "complete"
    for part in manifest["parts"]:
        assert part["state"] == "sealed"
        assert sha256_file(folder / part["file"]) == part["sha256"]
        assert decode(folder / part["file"]).frames == part["frames"]
    assert run_cli("verify", str(folder)).returncode == 0
    return manifest


def test_low_disk_warns_the_chat_then_ends_the_session_intact(run_cli, home, tmpfs_factory, tmp_path):
    disk = tmpfs_factory("40m")
    # The support tool listens on the control channel as well as on the webhook.
    follower = subprocess.Popen([recorder_command(), "events", "--follow", "--json", "--wait", "60",
                                 "--profile", "rep"], env=cli_env(home), stdout=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    with ChatServer() as chat:
        config = write_config(tmp_path, f"""
[profiles.rep]
guards = ["disk-space"]
notifiers = ["console", "webhook"]
max_part_duration = 3.0
[profiles.rep.disk-space]
interval = 0.2
warn_free = "30MB"
stop_free = "6MB"
grace = 2.0
reserve = "2MB"
[profiles.rep.webhook]
url = "{chat.url}"
{NOISE}""")
        result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic",
                         "--output-dir", str(disk), "--duration", "120", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Disk space is low" in result.stderr
    folder = only_session(disk)
    manifest = assert_intact(folder, run_cli)
    assert manifest["end_reason"] == "disk-space"
    assert len(manifest["parts"]) >= 2
    warnings = [m for m in chat.messages if m["level"] == "warning" and "Disk space is low" in m["text"]]
    assert warnings and warnings[0]["audience"] == ["rep", "customer"]
    assert warnings[0]["session_id"] == manifest["session_id"]
    ended = next(e for e in manifest["events"] if e["kind"] == "end-requested")
    assert warnings[0]["t"] < ended["t"]
    assert any("Ending the session" in m["text"] for m in chat.messages)
    kinds = [e["kind"] for e in manifest["events"]]
    assert kinds.count("notification") >= 2
    assert not (folder / ".recorder-reserve").exists()
    streamed = [json.loads(line) for line in follower.communicate(timeout=30)[0].splitlines()]
    [end] = [m for m in streamed if m["type"] == "end-session-requested"]
    assert end["reason"] == "disk-space" and end["session_id"] == manifest["session_id"]
    [receipt] = [m["receipt"] for m in streamed if m["type"] == "receipt"]
    webhook_receipts = [m for m in chat.messages if m.get("kind") == "receipt"]
    assert webhook_receipts and webhook_receipts[0]["head"] == receipt["head"]
    run_cli("verify", str(folder), "--receipt", receipt["head"], check=0)
    assert streamed[-1]["type"] == "ended" and streamed[-1]["end_reason"] == "disk-space"


def test_space_freed_during_the_grace_period_lets_the_session_continue(run_cli, tmpfs_factory, tmp_path):
    disk = tmpfs_factory("40m")
    ballast = disk / "ballast"
    with open(ballast, "wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, 25 * 10**6)
    events = tmp_path / "events.jsonl"
    config = write_config(tmp_path, f"""
[profiles.rep]
guards = ["disk-space"]
notifiers = ["console", "events-file"]
[profiles.rep.disk-space]
interval = 0.2
warn_free = "20MB"
stop_free = "2MB"
grace = 4.0
reserve = "1MB"
[profiles.rep.events-file]
path = "{events}"
""")
    proc = start_recording(config, disk, 7, tmp_path / "home")
    deadline = time.monotonic() + 20
    while not (events.exists() and "Disk space is low" in events.read_text(encoding="utf-8")):
        assert time.monotonic() < deadline, "no warning"
        time.sleep(0.1)
    ballast.unlink()  # the user frees space
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    assert any("was freed" in line["text"] for line in lines)
    assert oct(events.stat().st_mode & 0o777) == "0o600"
    manifest = json.loads((only_session(disk) / "session.json").read_text(encoding="utf-8"))
    assert manifest["end_reason"] == "duration"


def test_disk_filled_from_outside_stops_cleanly_and_says_why(run_cli, tmpfs_factory, tmp_path):
    disk = tmpfs_factory("30m")
    config = write_config(tmp_path, f"""
[profiles.rep]
guards = ["disk-space"]
[profiles.rep.disk-space]
interval = 60.0
warn_free = "1MB"
stop_free = "1MB"
reserve = "1MB"
{NOISE}""")
    proc = start_recording(config, disk, 60, tmp_path / "home")
    deadline = time.monotonic() + 20
    while not list(disk.glob("*/part-001.mp4.partial")) or \
            list(disk.glob("*/part-001.mp4.partial"))[0].stat().st_size < 2 * 10**6:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with open(disk / "filler", "wb") as fh:  # someone else takes all the space at once
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        os.posix_fallocate(fh.fileno(), 0, free)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "disk holding the recording is full" in err
    folder = only_session(disk)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "complete" and manifest["end_reason"] == "disk-full"
    assert any(e["kind"] == "error" and "disk is full" in e["text"] for e in manifest["events"])
    [part] = manifest["parts"]
    # kept up to its last complete fragment, sealed, and every kept frame decodes
    assert part["state"] == "sealed" and part["frames"] >= 10
    assert decode(folder / part["file"]).frames == part["frames"]
    assert any(e["kind"] == "part-repaired" for e in manifest["events"])
    assert run_cli("verify", str(folder)).returncode == 0


def test_refuses_to_start_when_the_disk_is_already_too_full(run_cli, tmpfs_factory):
    disk = tmpfs_factory("10m")
    result = run_cli("--profile", "rep", "--source", "synthetic", "--output-dir", str(disk),
                     "--duration", "1")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "not enough free disk space to record in" in line and "stop_free" in line
    assert list(disk.iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webhook_down_or_slow_never_touches_the_recording(run_cli, home, tmp_path):
    with ChatServer(delay=3.0) as slow:
        # chat webhooks carry their credential in the URL: it must never be written anywhere
        for url in (f"http://127.0.0.1:{_closed_port()}/chat/s3cr3t-t0ken?key=s3cr3t-t0ken",
                    f"{slow.url}?key=s3cr3t-t0ken"):
            config = write_config(tmp_path, f"""
[profiles.rep]
guards = ["disk-space"]
notifiers = ["webhook"]
[profiles.rep.disk-space]
interval = 0.2
warn_free = "1000TB"
stop_free = "1MB"
grace = 1000.0
[profiles.rep.webhook]
url = "{url}"
timeout = 0.5
retries = 2
backoff = 0.1
drain = 5.0
""")
            result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic",
                             "--fps", "15", "--duration", "3", check=0)
            folder = Path(result.stdout.strip())
            manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
            assert manifest["frames"] == 45 and manifest["dropped_frames"] == 0
            assert manifest["notifier_failures"]["webhook"] >= 1
            failure = next(e for e in manifest["events"] if e["kind"] == "notifier-failure")
            assert "after 3 attempt(s)" in failure["text"]
            assert "s3cr3t" not in (folder / "session.json").read_text(encoding="utf-8") + result.stdout + result.stderr
            assert failure["text"].startswith("webhook http://127.0.0.1:")


def test_webhook_token_comes_from_the_environment(run_cli, tmp_path):
    with ChatServer() as chat:
        config = write_config(tmp_path, f"""
[profiles.rep]
notifiers = ["webhook"]
[profiles.rep.disk-space]
warn_free = "1000TB"
stop_free = "1MB"
[profiles.rep.webhook]
url = "{chat.url}"
token_env = "CHAT_TOKEN"
""")
        missing = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1")
        assert missing.returncode == 2 and "CHAT_TOKEN" in missing.stderr
        run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1.5",
                env={"CHAT_TOKEN": "s3cret"}, check=0)
    assert chat.messages and chat.messages[0]["_authorization"] == "Bearer s3cret"
    assert "s3cret" not in config.read_text(encoding="utf-8")


@pytest.fixture
def desktop_session(xdisplay, tmp_path):
    """A real session bus and notification daemon (dunst) on the test X server."""
    for tool in ("dbus-daemon", "dunst", "dunstctl", "notify-send"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install dbus dunst libnotify-bin)")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, text=True, encoding="utf-8")
    address = bus.stdout.readline().strip()
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address, DISPLAY=xdisplay.name)
    daemon = subprocess.Popen(["dunst"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while subprocess.run(["dunstctl", "count"], env=env, capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, "dunst did not start"
        time.sleep(0.1)
    try:
        yield env
    finally:
        for proc in (daemon, bus):
            proc.terminate()
            proc.wait(5)


def test_desktop_notifier_shows_the_warning_on_this_machine(run_cli, tmp_path, desktop_session):
    config = write_config(tmp_path, """
[profiles.rep]
notifiers = ["desktop"]
[profiles.rep.disk-space]
interval = 0.2
warn_free = "1000TB"
stop_free = "1MB"
grace = 1000.0
""")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1.5",
            env={"DBUS_SESSION_BUS_ADDRESS": desktop_session["DBUS_SESSION_BUS_ADDRESS"]},
            display=desktop_session["DISPLAY"], check=0)
    time.sleep(0.5)
    subprocess.run(["dunstctl", "close-all"], env=desktop_session, check=True)
    history = json.loads(subprocess.run(["dunstctl", "history"], env=desktop_session, check=True,
                                        capture_output=True, text=True, encoding="utf-8").stdout)
    shown = [(n["summary"]["data"], n["body"]["data"], n["appname"]["data"]) for n in history["data"][0]]
    assert any(summary == "Session recording" and "Disk space is low" in body and app == "recorder"
               for summary, body, app in shown), shown


def test_desktop_notifier_without_a_desktop_session_says_so_once(run_cli):
    result = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", "--debug", check=0)
    assert result.stderr.count("desktop notifications unavailable") == 1




FILLER = '''
import errno
import os
from recorder import hookimpl


class Filler:
    """Something else takes the disk just after the disk-space guard released its
    reserve for sealing: the last fragment finds 64 KB, the manifest still fits."""

    def __init__(self, options):
        self.session = None

    def start(self, session):
        self.session = session

    def before_seal(self):
        path = self.session.folder.parent / "filler"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, bytes(65536))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        os.ftruncate(fd, os.fstat(fd).st_size - 65536)
        os.close(fd)

    def stop(self):
        pass


@hookimpl
def recorder_register_guards(register):
    register("filler", Filler)
'''


def test_a_disk_that_fills_during_the_final_seal_ends_as_disk_full(home, tmp_path, tmpfs_factory):
    from conftest import cli_env, recorder_command
    from installed import install_plugin

    site = install_plugin(tmp_path / "site", "filler", FILLER)
    disk = tmpfs_factory("24M")
    config = write_config(tmp_path, """
[profiles.rep]
guards = ["disk-space", "filler"]
notifiers = ["console"]
[profiles.rep.disk-space]
interval = 30.0
warn_free = "2MB"
stop_free = "1MB"
[profiles.rep.synthetic]
width = 320
height = 240
noise = true
""")
    result = subprocess.run([recorder_command(), "--profile", "rep", "--config", str(config), "--source",
                             "synthetic", "--duration", "2", "--output-dir", str(disk)],
                            env=cli_env(home, PYTHONPATH=str(site)), capture_output=True, text=True, timeout=60, encoding="utf-8")
    assert result.returncode == 3, result.stderr
    assert "ended: disk-full" in result.stderr
    # The full disk tore the last fragment: the part is cut back to its last whole fragment
    # and sealed. If even the final manifest did not fit, crash recovery (here on demand;
    # the next start does it too) seals it once there is room; either way nothing is lost.
    (disk / "filler").unlink()
    recovered = subprocess.run([recorder_command(), "recover"], env=cli_env(home, PYTHONPATH=str(site)),
                               capture_output=True, text=True, timeout=60, encoding="utf-8")
    assert recovered.returncode == 0, recovered
    assert "part-001.mp4: kept" in recovered.stdout or recovered.stdout.strip() == "nothing to recover"
    [folder] = [p for p in disk.iterdir() if p.is_dir()]
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    [part] = manifest["parts"]
    assert part["state"] == "sealed" and decode(folder / part["file"]).frames == part["frames"] >= 20


def test_what_the_customer_is_told_says_nothing_of_the_reps_machine(run_cli, home, tmpfs_factory, tmp_path):
    """Every text addressed to the customer in the disk-space and restart scenarios: no
    folder, user, host name or disk figures of the machine that records."""
    import getpass
    import re
    import socket

    disk = tmpfs_factory("40m")
    events = tmp_path / "events.jsonl"
    config = write_config(tmp_path, f"""
[profiles.rep]
guards = ["disk-space", "signals"]
notifiers = ["console", "events-file"]
[profiles.rep.disk-space]
interval = 0.2
warn_free = "1000TB"
stop_free = "1MB"
grace = 1.0
[profiles.rep.events-file]
path = "{events}"
""")
    run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--output-dir", str(disk),
            "--duration", "30", check=0)
    proc = start_recording(config, disk, 60, home)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    said = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    to_customer = [line["text"] for line in said if "customer" in line.get("audience", [])]
    assert len(to_customer) >= 3, said  # the warning, the end, the restart
    private = [str(disk), str(home), socket.gethostname(), getpass.getuser()]
    for text in to_customer:
        assert not any(p and p in text for p in private), text
        assert not re.search(r"\d+(\.\d+)? ?(B|KB|MB|GB|TB)\b", text), text
    assert any(str(disk) in line["text"] for line in said if line.get("audience") == ["rep"]), \
        "the details stay with the person at this machine"
    ends = [line for line in said if line["kind"] == "end-session-requested"]
    assert ends and all(end["audience"] == ["rep", "customer"] for end in ends), \
        "the support tool is asked to end the support session"
