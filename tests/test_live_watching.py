"""Watching a session while it is recorded (issue 29, item 5): ``recorder play --live``.

One real recording of a real X screen (Xvfb, an xterm, the mss source, the h264 encoder,
a new part every 16 s) watched from real Chromium (Playwright driving the system chromium,
as in test_replay_page.py) through the live page the command serves. The xterm prints a
random token (four coloured blocks, see live_screen.py) at random moments; the test reads
the page's <video> back through a canvas to see when the token is shown. The tests of
the watched session run in file order, one after the other, on the same recording.
"""

from __future__ import annotations

import http.client
import json
import random
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pytest
from recorder.playback.fragments import whole_fragments

from conftest import child_signals, cli_env, recorder_command
from live_screen import SEEN, Screen, new_token, rgb

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "live"
PART_SECONDS = 16
WITHIN = 3.0  # seconds: the bound for a token on the screen to be on the live page


def run(home: Path, *args: str, check: int | None = 0, display: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=cli_env(home, display), capture_output=True,
                            text=True, timeout=120, encoding="utf-8")
    if check is not None:
        assert result.returncode == check, (args, result.stdout, result.stderr)
    return result


@attrs.define
class Watch:
    home: Path
    screen: Screen
    url: str
    page: object
    context: object
    errors: list
    answers: list  # every /fragments/ response the page got
    delays: list = attrs.Factory(list)

    def manifest(self) -> dict:
        [folder] = (self.home / "Documents" / "SessionRecordings").iterdir()
        return json.loads((folder / "session.json").read_text(encoding="utf-8"))

    def js(self, expression: str):
        return self.page.evaluate(expression)

    def shown(self, token: list[int]) -> list[int]:
        return self.page.evaluate(SEEN, [rgb(token)])

    def token_seen_within(self, token: list[int], at: float, limit: float = WITHIN, timed: bool = True) -> float:
        """Seconds from ``at`` (the token printed) until the page shows it; fails after ``limit``."""
        while self.shown(token) != [0, 1, 2, 3]:
            assert time.monotonic() - at < limit, f"token {token} not on the live page within {limit} s"
            time.sleep(0.03)
        delay = time.monotonic() - at
        if timed:  # from the screen to the page (not from a jump back to live)
            self.delays.append(round(delay, 3))
        return delay


@pytest.fixture(scope="module")
def watched(tmp_path_factory, chromium):
    if shutil.which("Xvfb") is None or shutil.which("xterm") is None:
        pytest.fail("Xvfb and xterm are needed (apt-get install xvfb xterm)")
    root = tmp_path_factory.mktemp("live")
    home = root / "home"
    home.mkdir()
    screen = Screen(root)
    config = root / "live.toml"
    config.write_text(f"[profiles.rep]\nmax_part_duration = {PART_SECONDS}\nnotifiers = []\n", encoding="utf-8")
    recorder = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "mss", "--config", str(config),
                                 "--duration", "600"], env=cli_env(home, screen.display), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    live = context = None
    try:
        run(home, "status", "--json", "--wait", "20")
        live = subprocess.Popen([recorder_command(), "play", "--live", "--no-open", "--profile", "rep"],
                                env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                encoding="utf-8", preexec_fn=child_signals)
        url = live.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (url, live.stderr.read() if live.poll() is not None else "")
        context = chromium.new_context(bypass_csp=True, viewport={"width": 1500, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        answers: list = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("response", lambda response: answers.append(response) if "/fragments/" in response.url else None)
        page.goto(url)
        page.wait_for_function("window.live && live.fed && replay.presented > 0", timeout=15000)
        watch = Watch(home, screen, url, page, context, errors, answers)
        yield watch
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "delays.json").write_text(json.dumps({"token_delays_s": watch.delays}), encoding="utf-8")
        assert errors == []
    finally:
        if context is not None:
            context.close()
        if live is not None:
            live.send_signal(signal.SIGINT)
            live.communicate(timeout=20)
        run(home, "stop", check=None)
        recorder.communicate(timeout=60)
        screen.close()


# -- without a recording ------------------------------------------------------------------

def test_live_without_a_recorder_is_one_line_and_exit_2(home):
    for args in (["play", "--live"], ["play", "--live", "--profile", "rep"], ["--profile", "rep", "play", "--live"]):
        result = run(home, *args, check=2)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "no recorder is running" in result.stderr
        assert result.stdout == ""
    said = run(home, "play", check=2).stderr
    assert "--live" in said and len(said.strip().splitlines()) == 1
    assert "not a session" in run(home, "play", "abc", "--live", check=2).stderr


def test_an_encrypted_session_is_refused_in_one_line(home, tmp_path):
    if shutil.which("age-keygen") is None:
        pytest.fail("age-keygen is needed (.ci/run installs age)")
    secret = tmp_path / "auditor.key"
    subprocess.run(["age-keygen", "-o", str(secret)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(secret)], check=True, capture_output=True, text=True,
                               encoding="utf-8").stdout.strip()
    config = tmp_path / "encrypted.toml"
    config.write_text(f'[profiles.rep]\nguards = ["+encrypt"]\nnotifiers = []\n[profiles.rep.encrypt]\n'
                      f'recipients = ["{recipient}"]\n[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n',
                      encoding="utf-8")
    recorder = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--config",
                                 str(config), "--duration", "60"], env=cli_env(home), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    try:
        run(home, "status", "--json", "--wait", "20")
        result = run(home, "play", "--live", "--no-open", check=2)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "encrypted" in result.stderr and "cannot be watched live" in result.stderr
        assert result.stdout == ""  # no address: nothing is served
    finally:
        run(home, "stop", check=None)
        recorder.wait(60)


# -- the watched session, in order -----------------------------------------------------------

def test_a_token_printed_on_the_screen_is_on_the_live_page_within_3_s(watched):
    rng = random.Random()
    for _ in range(4):
        time.sleep(rng.uniform(0.5, 2.0))  # a random moment, not in step with the fragments
        token = new_token()
        watched.token_seen_within(token, watched.screen.show(token))
        assert watched.js("live.following")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    watched.page.screenshot(path=str(ARTIFACTS / "token.png"))
    assert watched.js("live.behind()") < 1.5  # what the page itself says


def test_marks_and_pauses_appear_as_they_come(watched):
    text = f"mark {random.getrandbits(32):08x}"
    sent = time.monotonic()
    run(watched.home, "mark", text, "--kind", "chat", "--by", "customer")
    watched.page.wait_for_function(f"[...document.querySelectorAll('#events td')].some(td => td.textContent === "
                                   f"{json.dumps(text)})", timeout=WITHIN * 1000)
    assert time.monotonic() - sent < WITHIN
    run(watched.home, "pause", "--by", "customer", "--reason", "typing a password")
    watched.page.wait_for_function("document.getElementById('live-note').textContent.startsWith("
                                   "'paused by customer (typing a password)')", timeout=WITHIN * 1000)
    time.sleep(1.5)
    run(watched.home, "resume", "--by", "customer")
    # the new part after the pause is followed: a token printed now is on the page in time
    token = new_token()
    watched.token_seen_within(token, watched.screen.show(token), limit=WITHIN + 1.0)  # + starting a part
    kinds = watched.js("[...document.querySelectorAll('#events tr td:nth-child(2)')].map(td => td.textContent)")
    assert {"chat", "paused", "unpaused"} <= set(kinds)
    assert watched.js("live.fed.file") == watched.manifest()["parts"][-1]["file"]


def test_jump_back_then_return_to_live(watched):
    page = watched.page
    watched.screen.show([])
    time.sleep(7)  # seven seconds of an empty terminal behind us
    token = new_token()
    watched.token_seen_within(token, watched.screen.show(token))
    page.keyboard.press("ArrowLeft")  # 5 s back: the terminal was empty then
    page.wait_for_function("!live.following", timeout=2000)
    time.sleep(1.5)
    assert watched.shown(token) == [], "5 s back, the page still shows the newest picture"
    assert not watched.js("live.following")
    assert "behind live" in page.inner_text("#live-note")
    assert page.inner_text("#live") == "Return to live"
    page.keyboard.press("l")
    watched.token_seen_within(token, time.monotonic(), timed=False)
    page.wait_for_function("live.following && live.behind() < 1.5", timeout=5000)
    # and the button does the same after a click on the timeline
    page.locator("#bar").click(position={"x": 5, "y": 17})
    page.wait_for_function("!live.following && replay.time() < 5", timeout=5000)
    page.click("#live")
    page.wait_for_function("live.following && live.behind() < 1.5", timeout=8000)


def test_a_split_to_a_new_part_is_followed(watched):
    parts = len(watched.manifest()["parts"])
    deadline = time.monotonic() + PART_SECONDS + 10
    while len(watched.manifest()["parts"]) == parts:
        assert time.monotonic() < deadline, "the recorder did not start a new part"
        time.sleep(0.1)
    newest = watched.manifest()["parts"][-1]["file"]
    watched.page.wait_for_function(f"live.fed && live.fed.file === {json.dumps(newest)} && "
                                   "replay.part === replay.segments.length - 1", timeout=WITHIN * 1000)
    token = new_token()
    watched.token_seen_within(token, watched.screen.show(token))
    started = watched.js("replay.segments[replay.part].start")
    assert watched.js("replay.time()") > started


def test_every_answer_is_whole_fragments(watched):
    """What the page was sent, and what a client asking as fast as it can is sent: always
    whole moof + mdat pairs (a torn one would break the browser's MediaSource)."""
    pairs = 0
    for response in list(watched.answers):
        if response.ok:
            pairs += whole_fragments(response.body())
    assert pairs > 20
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in watched.context.cookies())
    state = json.loads(_get(watched.url + "state", cookie)[1])
    writing = [s["file"] for s in state["segments"] if s["writing"]][-1]
    status, init, _ = _get(f"{watched.url}init/{writing}", cookie)
    status, body, headers = _get(f"{watched.url}fragments/{writing}?at=0", cookie)
    stream, asked = init + body, 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:  # as fast as it answers, while fragments are being written
        status, body, headers = _get(f"{watched.url}fragments/{writing}?from={headers['X-Next']}", cookie)
        assert status == 200
        whole_fragments(body)
        stream += body
        asked += 1
    assert asked > 50
    check = ARTIFACTS / "fetched.mp4"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    check.write_bytes(stream)  # the answers one after the other are the part: every frame decodes
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
                            "-of", "json", str(check)], capture_output=True, text=True, encoding="utf-8")
    assert probe.stderr == "" and int(json.loads(probe.stdout)["streams"][0]["nb_read_frames"]) > 30


def test_only_the_page_that_opened_it_is_served(watched, chromium):
    """Loopback only; the address's token is spent by the first load: another browser (another
    user who read the address) gets nothing; a request naming another host gets nothing; GET only."""
    address = urlsplit(watched.url)
    assert address.hostname == "127.0.0.1"
    other = chromium.new_context()
    try:
        for path in ("", "state", "live.js", "init/part-001.mp4"):
            assert other.request.get(watched.url + path).status == 403
    finally:
        other.close()
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in watched.context.cookies())
    assert _get(watched.url + "state", cookie, host="attacker.example")[0] == 404
    assert _get(watched.url.replace(address.path.split("/")[1], "x" * 43) + "state", cookie)[0] == 404
    assert _get(watched.url + "parts/../session.json", cookie)[0] == 404
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("POST", address.path + "state", body=b"{}", headers={"Cookie": cookie})
    assert connection.getresponse().status == 501
    connection.close()


def _get(url: str, cookie: str, host: str | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers={"Cookie": cookie, **({"Host": host} if host else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)
