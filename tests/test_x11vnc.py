"""The x11vnc recipe (examples/x11vnc), end to end with the real pieces: Xvfb is the
customer's screen with an xterm on it, x11vnc serves it and runs the recipe's hooks,
and a real VNC client (vncdotool, in a subprocess) is the rep who connects, moves
the mouse, types and disconnects."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import mss
import pytest

from recorder import sha256_file

from conftest import cli_env, recorder_command

pytestmark = pytest.mark.display

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "x11vnc"
ACCEPT, GONE = EXAMPLES / "recorder-vnc-accept", EXAMPLES / "recorder-vnc-gone"
XTERM = (0, 0, 560, 100)  # left, top, width, height: the xterm's top-left corner, where the text goes
POINTER = (620, 110)      # where the rep leaves the pointer: in the xterm (it has the focus), off the text
TYPED = "rep typed 42"

# The rep: a vncdotool client in a process of its own (its twisted reactor cannot be
# restarted within one process), driven line by line: "move X Y", "type TEXT",
# "key NAME", "bye". It answers each line with "ok TIME" and ends with "gone TIME".
REP = r"""
import sys, time
from vncdotool import api
client = api.connect(sys.argv[1], timeout=10)
client.mouseMove(int(sys.argv[2]), int(sys.argv[3]))  # returns once the RFB handshake is done
print("connected", time.time(), flush=True)
for line in sys.stdin:
    command, _, arg = line.rstrip("\n").partition(" ")
    if command == "bye":
        break
    if command == "move":
        client.mouseMove(*map(int, arg.split()))
    elif command == "type":
        for char in arg:
            client.keyPress(char)
    elif command == "key":
        client.keyPress(arg)
    print("ok", time.time(), flush=True)
client.disconnect()
print("gone", time.time(), flush=True)
api.shutdown()
"""


def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: the x11vnc recipe test needs it (apt-get install {package}); "
                    "it fails rather than skips so that CI cannot pass without it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check, timeout: float, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout:g} s)")
        time.sleep(step)


def alive(pid: int) -> bool:
    """Running, not a zombie (the recorder is detached: nobody may reap it at once)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def grab(display: str, box: tuple[int, int, int, int]):
    from PIL import Image

    left, top, width, height = box
    with mss.MSS(display=display) as sct:
        shot = sct.grab({"left": left, "top": top, "width": width, "height": height})
    return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")


def difference(a, b) -> float:
    """Mean absolute difference of two images, 0 to 255."""
    from PIL import ImageChops, ImageStat

    return ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean[0]


def first_and_last_frame(path: Path, box: tuple[int, int, int, int]):
    """The first and the last frame of a part, cropped to ``box``."""
    left, top, width, height = box
    first = last = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            last = frame.to_image().crop((left, top, left + width, top + height))
            if first is None:
                first = last
    return first, last


class Rep:
    """One VNC connection, as a support rep makes it."""

    def __init__(self, port: int, log: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", REP, f"127.0.0.1::{port}", *map(str, POINTER)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("ab"),
                                     text=True, encoding="utf-8")
        self.connected = self._answer("connected")

    def _answer(self, word: str, timeout: float = 15) -> float:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)  # one line per request: none buffered
        assert ready, f"the VNC client did not say '{word}' within {timeout:g} s (see its log)"
        line = self.proc.stdout.readline()
        assert line.startswith(word + " "), f"the VNC client said {line!r} (see its log)"
        return float(line.split()[1])

    def do(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self._answer("ok")

    def leave(self) -> float:
        self.proc.stdin.write("bye\n")
        self.proc.stdin.flush()
        gone = self._answer("gone")
        self.proc.wait(10)
        return gone

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def refused_client(port: int) -> None:
    """Another rep while one is connected, by hand (RFB 3.8, no auth, not shared):
    x11vnc -dontdisconnect turns it away after the handshake, and runs -gone for it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.recv(12)
        sock.sendall(b"RFB 003.008\n")
        count = sock.recv(1)[0]
        sock.recv(count)
        sock.sendall(b"\x01")             # security type None
        sock.recv(4)                      # SecurityResult OK
        sock.sendall(b"\x00")             # ClientInit, shared = false
        try:
            while sock.recv(4096):        # it may get its ServerInit before being dropped
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            raise AssertionError("x11vnc let a second rep in next to the first") from None


@pytest.fixture
def customer_screen(still_display, tmp_path, home):
    """The customer's X screen with an xterm (whatever is typed goes to a file), served by
    x11vnc with the recipe's hooks. Yields (display, port, typed file, recorder calls log)."""
    need("x11vnc", "x11vnc")
    need("xterm", "xterm")
    if importlib.util.find_spec("vncdotool") is None:
        pytest.fail("vncdotool is not installed: the x11vnc recipe test needs it as the rep's VNC client "
                    "(pip install vncdotool)")
    display = still_display.name
    typed = tmp_path / "typed.txt"
    calls = tmp_path / "recorder-calls.log"
    # RECORDER as the recipe allows: here a wrapper noting when the hooks call which command.
    wrapper = tmp_path / "recorder"
    wrapper.write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> "{calls}"\nexec "{recorder_command()}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(start_xterm(display, typed, tmp_path / "xterm.log"))
        port = free_port()
        log = tmp_path / "x11vnc.log"
        env = cli_env(home, display, RECORDER=str(wrapper), RECORDER_VNC_LOG=str(tmp_path / "hooks.log"))
        procs.append(subprocess.Popen(["x11vnc", "-display", display, "-rfbport", str(port), "-localhost", "-nopw",
                                       "-forever", "-dontdisconnect", "-afteraccept", str(ACCEPT), "-gone", str(GONE)],
                                      env=env, stdin=subprocess.DEVNULL, stdout=log.open("ab"),
                                      stderr=subprocess.STDOUT))
        wait_for("x11vnc did not start listening", lambda: f"PORT={port}" in log.read_text(encoding="utf-8", errors="replace"), 15)
        yield display, port, typed, calls
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        # a recorder the hooks left running (a failed test) must not outlive it
        subprocess.run([recorder_command(), "stop", "--profile", "customer", "--timeout", "10"],
                       env=cli_env(home), capture_output=True, timeout=30)


def start_xterm(display: str, typed: Path, log: Path) -> subprocess.Popen:
    """An xterm at the top left of the screen; what is typed into it goes to ``typed``."""
    blank = grab(display, XTERM)
    for _ in range(3):
        xterm = subprocess.Popen(["xterm", "-fa", "Monospace", "-fs", "20", "-geometry", "40x4+0+0",
                                  "-e", "sh", "-c", f"cat > '{typed}'"], env=dict(os.environ, DISPLAY=display),
                                 stdout=subprocess.DEVNULL, stderr=log.open("ab"))
        wait_for("the xterm did not appear", lambda: xterm.poll() is not None
                 or difference(grab(display, XTERM), blank) > 10, 20, 0.1)
        if xterm.poll() is None:
            return xterm
        # "Can't open display", seen now and then while another test run on the machine
        # was starting and stopping X servers: try again
        time.sleep(0.5)
    pytest.fail(f"xterm could not start on {display}: {log.read_text(encoding='utf-8', errors='replace')[-300:]}")


def sessions(home: Path) -> list[Path]:
    root = home / "Documents" / "SessionRecordings"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def recording_started(home: Path, known: list[Path]) -> Path | None:
    """The new session's folder, once its first part is being written."""
    for folder in sessions(home):
        if folder not in known and list(folder.glob("part-001.mp4*")):
            return folder
    return None


def sealed(folder: Path) -> bool:
    try:
        manifest = manifest_of(folder)
    except (OSError, ValueError):  # between writes
        return False
    return (manifest["state"] == "complete" and manifest["parts"]
            and all(part["state"] == "sealed" for part in manifest["parts"]) and not alive(manifest["pid"]))


def wall(event: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event["time"]).timestamp()


def test_a_vnc_support_session_is_recorded_by_the_x11vnc_hooks(customer_screen, home, tmp_path, run_cli):
    display, port, typed, calls = customer_screen
    reps: list[Rep] = []
    try:
        # -- the first support session: the rep connects, types into the xterm, leaves
        rep = Rep(port, tmp_path / "rep.log")
        reps.append(rep)
        folder = wait_for("no recording started after the rep connected",
                          lambda: recording_started(home, []), 10)
        start_latency = time.time() - rep.connected
        rep.do(f"type {TYPED}")
        rep.do("key enter")
        wait_for("what the rep typed did not reach the customer's xterm",
                 lambda: typed.exists() and typed.read_text(encoding="utf-8") == TYPED + "\n", 5)
        time.sleep(1)  # a heartbeat or two: the recorder has seen the screen as it is now
        screen = grab(display, XTERM)
        left = rep.leave()
        wait_for("the recording was not sealed after the rep left", lambda: sealed(folder), 15)
        seal_latency = time.time() - left

        first = manifest_of(folder)
        support_id = first["support_session_id"]  # vnc-LOGIN_TIME-CLIENT_ID, as the accept hook makes it
        assert re.fullmatch(r"vnc-\d+-0x1", support_id) and abs(int(support_id.split("-")[1]) - rep.connected) < 3
        [listed] = json.loads(run_cli("list", "--session-id", support_id, "--json", check=0).stdout)
        assert Path(listed["folder"]) == folder and listed["state"] == "saved"
        assert first["labels"] == {"vnc_client": "127.0.0.1"}
        assert first["profile"] == "customer" and first["end_reason"] == "user"
        kinds = [event["kind"] for event in first["events"]]
        started = next(event for event in first["events"] if event["kind"] == "started")
        hook = float(calls.read_text(encoding="utf-8").split()[0])  # the accept hook's first call of recorder
        print(f"\nx11vnc recipe: recording started {start_latency:.2f} s after the rep's VNC handshake "
              f"(x11vnc ran the accept hook at +{hook - rep.connected:.2f} s, 'started' event at "
              f"+{wall(started) - rep.connected:.2f} s), sealed {seal_latency:.2f} s after the rep disconnected")
        assert start_latency < 2, f"the recording started {start_latency:.2f} s after the accept"
        assert seal_latency < 3, f"the recording was sealed {seal_latency:.2f} s after the rep left"
        connect = [event for event in first["events"] if event["kind"] == "connect"]
        disconnect = [event for event in first["events"] if event["kind"] == "disconnect"]
        assert len(connect) == 1 and len(disconnect) == 1, kinds
        assert connect[0]["by"] == disconnect[0]["by"] == "x11vnc"
        assert [event["by"] for event in first["events"] if event["kind"] == "end-requested"] == ["x11vnc"]
        assert "127.0.0.1" in connect[0]["text"] and "127.0.0.1" in disconnect[0]["text"]
        assert kinds.index("started") < kinds.index("connect") < kinds.index("disconnect") < kinds.index("stopped")

        # what the rep typed is in the recording: its end shows the screen as the customer saw
        # it then; its beginning (before the typing) does not
        before = first_and_last_frame(folder / first["parts"][0]["file"], XTERM)[0]
        after = first_and_last_frame(folder / first["parts"][-1]["file"], XTERM)[1]
        print(f"xterm area: last frame differs from the screen by {difference(after, screen):.2f}, "
              f"first frame by {difference(before, screen):.2f} (mean of 255)")
        assert difference(after, screen) < 3
        assert difference(before, screen) > 3 * max(difference(after, screen), 1)

        # -- the second support session: a new connection is a new recording, the first stays as it was
        kept = {path.name: sha256_file(path) for path in folder.iterdir()}
        rep2 = Rep(port, tmp_path / "rep.log")
        reps.append(rep2)
        second_folder = wait_for("no second recording started", lambda: recording_started(home, [folder]), 10)
        # meanwhile a third rep is turned away (-dontdisconnect), and the -gone x11vnc runs for
        # that connection must leave the recording alone
        refused_client(port)
        time.sleep(1)
        assert alive(manifest_of(second_folder)["pid"]) and not sealed(second_folder)
        rep2.do("move 100 50")
        rep2.leave()
        wait_for("the second recording was not sealed", lambda: sealed(second_folder), 15)
        second = manifest_of(second_folder)
        assert sessions(home) == sorted([folder, second_folder])
        assert re.fullmatch(r"vnc-\d+-0x2", second["support_session_id"]), second["support_session_id"]
        assert second["support_session_id"] != support_id and second["session_id"] != first["session_id"]
        assert [event["kind"] for event in second["events"]].count("connect") == 1
        assert [event["kind"] for event in second["events"]].count("disconnect") == 1
        assert manifest_of(folder) == first, "the first session changed after it was sealed"
        assert {path.name: sha256_file(path) for path in folder.iterdir()} == kept
    finally:
        for rep in reps:
            rep.kill()
