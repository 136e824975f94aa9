"""A third-party plugin that blocks (a network call without a timeout) in any hook
or component method costs the recording nothing: capture starts, the end comes
and the part is sealed within their bounds, and the plugin is named."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from conftest import child_signals, cli_env, recorder_command
from installed import install_plugin
from recorder.testing import decode

SLEEPER = '''
import time
from recorder import hookimpl

def nap(*args, **kwargs):
    time.sleep(30)

class Sleepy:
    def __init__(self, options):
        pass
    preflight = start = before_seal = stop = notify = nap

for hook in ("recorder_session_started", "recorder_part_opened", "recorder_part_sealed",
             "recorder_session_event", "recorder_session_ended"):
    globals()[hook] = hookimpl(specname=hook)(lambda session, **kwargs: time.sleep(30))

@hookimpl(wrapper=True, specname="recorder_session_started")
def late_wrapper(session):
    time.sleep(30)
    return (yield)


@hookimpl(wrapper=True, specname="recorder_part_sealed")
def late_after(session, part):
    result = yield
    time.sleep(30)
    return result


@hookimpl
def recorder_register_guards(register):
    register("sleepy-guard", Sleepy)

@hookimpl
def recorder_register_notifiers(register):
    register("sleepy-chat", Sleepy)
'''


def test_a_plugin_sleeping_everywhere_costs_the_recording_nothing(home, tmp_path):
    site = install_plugin(tmp_path / "site", "sleepy", SLEEPER)
    config = tmp_path / "sleepy.toml"
    config.write_text('[profiles.rep]\nguards = ["+sleepy-guard"]\nnotifiers = ["+sleepy-chat"]\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--config", str(config), "--source",
                             "synthetic", "--duration", "60"], env=cli_env(home, PYTHONPATH=str(site)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    while not list(home.glob("Documents/SessionRecordings/*/part-001.mp4.partial")):
        assert time.monotonic() - started < 6, "capture did not start: it waited for the plugin"
        time.sleep(0.05)
    time.sleep(2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # a restart: about 3 s to seal
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 3, "sealing waited for the plugin"
    assert proc.returncode == 0, err
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "interrupted"
    [part] = manifest["parts"]
    assert part["state"] == "sealed" and decode(folder / part["file"]).frames == part["frames"] >= 20
    slow = [e for e in manifest["events"] if e["kind"] == "plugin-slow"]
    assert slow and all(e["by"] == "sleepy" for e in slow)
    assert slow[0]["text"].startswith('plugin "sleepy" did not return from ')
