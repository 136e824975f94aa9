"""Guards and notifiers as plugins: a guard warns and ends; notifiers and the manifest hear it."""

from __future__ import annotations

import json
import threading

from recorder import hookimpl
from recorder.testing import TmpSinkPlugin, make_host, record


class CountdownGuard:
    def __init__(self, options):
        self.timer = None

    def start(self, session):
        session.warn("battery at 5%", by="battery")
        self.timer = threading.Timer(0.6, session.request_end, args=("battery",), kwargs={"by": "battery"})
        self.timer.start()

    def stop(self):
        self.timer.cancel()


class Collect:
    def __init__(self, inbox: list):
        self.received = inbox

    def notify(self, notification):
        self.received.append(notification)


class Broken:
    def __init__(self, options):
        pass

    def notify(self, notification):
        raise ConnectionError("chat unreachable")


class GuardPlugin:
    name = "battery"

    def __init__(self):
        self.inbox: list = []  # this test's notifications, nobody else's

    @hookimpl
    def recorder_register_guards(self, register):
        register("battery", CountdownGuard)

    @hookimpl
    def recorder_register_notifiers(self, register):
        register("inbox", lambda options: Collect(self.inbox))
        register("broken-chat", Broken)


def test_a_guard_warns_everyone_and_ends_the_session(tmp_settings):
    plugin = GuardPlugin()
    host = make_host(TmpSinkPlugin(), plugin)
    settings = dict(tmp_settings, guards=["battery"], notifiers=["console", "broken-chat", "inbox"])
    session = record(host, settings, duration=30)
    assert session.end_reason == "battery"
    assert [(n.level, n.text, n.audience, n.by) for n in plugin.inbox] == [
        ("warning", "battery at 5%", ("rep", "customer"), "battery")]
    manifest = json.loads((session.folder / "session.json").read_text(encoding="utf-8"))
    events = {e["kind"]: e for e in manifest["events"]}
    assert events["notification"]["text"] == "battery at 5%"
    assert events["end-requested"]["by"] == "battery"
    assert "notifier 'broken-chat'" in events["plugin-error"]["text"]
    assert manifest["parts"][0]["duration"] < 2


def test_notification_text_is_never_taken_for_markup(run_cli, home, tmp_path):
    """A folder name such as "Kunde [/red] Müller" quoted in a warning is shown as it is."""
    odd = tmp_path / "Kunde [/red] Müller [bold]"
    config = tmp_path / "odd.toml"
    config.write_text('[profiles.rep.disk-space]\nwarn_free = "1000TB"\nstop_free = "1MB"\ninterval = 0.2\n'
                      'grace = 1000.0\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "2",
                     "--output-dir", str(odd), check=0)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: Disk space is low")
                and str(odd) in line]  # the details, told to the person at this machine
    assert warnings, result.stderr
