"""Encryption at rest: parts encrypted to the organisation's age recipients.

An auditor decrypts with the real ``age`` tool; the recording machine holds no
key; a kill loses about a second; nothing decrypted ever reaches the disk.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from conftest import child_signals, cli_env, recorder_command
from installed import install_plugin
from matroska_plugin import SOURCE as MATROSKA
from recorder.plugins.synthetic_source import frame_number_of

AGE = shutil.which("age")
SYNTHETIC = """
[profiles.rep.synthetic]
width = 320
height = 240
"""


@pytest.fixture
def keys(tmp_path) -> dict[str, Path | str]:
    """An organisation key pair made with the real age-keygen, kept outside the home."""
    assert AGE and shutil.which("age-keygen"), "the age tool is installed by .ci/run"
    secret = tmp_path / "keys" / "auditor.key"
    secret.parent.mkdir()
    subprocess.run(["age-keygen", "-o", str(secret)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(secret)], check=True, capture_output=True, text=True, encoding="utf-8")
    return {"identity": secret, "recipient": public.stdout.strip()}


def site_config(home: Path, text: str) -> None:
    folder = home / "site-config" / "recorder"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recorder.toml").write_text(text, encoding="utf-8")


def encrypted_site(home: Path, recipient: str, extra: str = "") -> None:
    site_config(home, f"""
[profiles.rep]
guards = ["+encrypt"]
fps = 10.0
locked = ["guards", "encrypt"]
{extra}
[profiles.rep.encrypt]
recipients = ["{recipient}"]
""" + SYNTHETIC)


def only_session(home: Path) -> Path:
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    return folder


def frame_numbers(data: bytes, tmp_path: Path) -> list[int]:
    path = tmp_path / f"decrypted-{secrets.token_hex(4)}.mp4"
    path.write_bytes(data)
    try:
        numbers = []
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                plane = frame.reformat(format="gray").planes[0]
                pixels, stride = bytes(plane), plane.line_size
                numbers.append(frame_number_of(lambda x, y: pixels[y * stride + x]))
        return numbers
    finally:
        path.unlink()


def age_decrypt(path: Path, identity: Path) -> bytes:
    done = subprocess.run([AGE, "--decrypt", "-i", str(identity), str(path)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_an_auditor_decrypts_every_part_with_the_age_tool(home, run_cli, keys, tmp_path):
    encrypted_site(home, keys["recipient"], "max_part_duration = 2.0")
    # the user cannot take encryption off: the site locked it
    (home / ".config" / "recorder").mkdir(parents=True)
    (home / ".config" / "recorder" / "recorder.toml").write_text('[profiles.rep]\nguards = ["-encrypt"]\n', encoding="utf-8")
    done = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "5", check=0)
    assert "locked" in done.stderr
    folder = only_session(home)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert len(manifest["parts"]) >= 2
    numbers = []
    for part in manifest["parts"]:
        assert part["file"].endswith(".mp4.age") and part["stream"] == "age"
        assert part["stream_meta"] == {"recipients": [keys["recipient"]]}
        ciphertext = (folder / part["file"]).read_bytes()
        assert ciphertext.startswith(b"age-encryption.org/v1\n")
        assert os.stat(folder / part["file"]).st_mode & 0o777 == 0o600
        found = frame_numbers(age_decrypt(folder / part["file"], keys["identity"]), tmp_path)
        assert len(found) == part["frames"]
        numbers += found
    assert numbers == list(range(len(numbers))) and len(numbers) >= 45, "every frame, in order, none twice"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["session.json"] + [p["file"] for p in manifest["parts"]])
    # the machine holds no key: nothing recorder keeps is an age identity
    for path in home.rglob("*"):
        if path.is_file():
            assert b"AGE-SECRET-KEY" not in path.read_bytes(), path
    verified = run_cli("verify", str(folder), check=0)
    assert "encrypted to 1 recipient(s)" in verified.stdout


def test_without_the_key_play_export_and_info_say_to_whom_it_is_encrypted(home, run_cli, keys, tmp_path):
    encrypted_site(home, keys["recipient"])
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "2", check=0)
    session = only_session(home).name.rsplit("_", 1)[1]
    short = keys["recipient"][:12]
    for command in (["play", session, "--no-open"], ["export", session, "--format", "mp4", "-o",
                                                      str(tmp_path / "out.mp4")]):
        refused = run_cli(*command, check=2)
        [line] = refused.stderr.strip().splitlines()
        assert "is encrypted" in line and short in line and "--identity" in line
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.mp4.age").exists()
    info = run_cli("info", session, check=0)
    assert f"encrypted to {short}" in info.stdout
    # another key: one line, naming the part
    other = tmp_path / "other.key"
    subprocess.run(["age-keygen", "-o", str(other)], check=True, capture_output=True)
    wrong = run_cli("info", session, "--identity", str(other))
    assert wrong.returncode != 0 and "does not decrypt with the identity given" in wrong.stderr
    # the key from the environment
    with_key = run_cli("info", session, "--identity", "env:AUDITOR_KEY",
                       env={"AUDITOR_KEY": keys["identity"].read_text(encoding="utf-8")}, check=0)
    assert "opens     part-001.mp4.age: 20 frames with the key" in with_key.stdout


def test_exports_stay_encrypted_unless_the_key_holder_asks(home, run_cli, keys, tmp_path):
    encrypted_site(home, keys["recipient"])
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "2", check=0)
    session = only_session(home).name.rsplit("_", 1)[1]
    out = tmp_path / "review.mp4"
    done = run_cli("export", session, "--format", "mp4", "-o", str(out), "-i", str(keys["identity"]), check=0)
    assert done.stdout.strip() == f"{out}.age" and not out.exists()
    assert frame_numbers(age_decrypt(Path(f"{out}.age"), keys["identity"]), tmp_path) == list(range(20))
    clear = run_cli("export", session, "--format", "webm", "-o", str(tmp_path / "clear.webm"),
                    "-i", str(keys["identity"]), "--decrypted", check=0)
    assert clear.stdout.strip() == str(tmp_path / "clear.webm")
    with av.open(str(tmp_path / "clear.webm")) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 19


@pytest.mark.parametrize("recipient, says", [
    ("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "is a private key"),
    ("age1notakey", "is not a valid age recipient"),
    ("hunter2", "is not an age recipient"),
])
def test_a_bad_recipient_refuses_to_record_naming_the_key(home, run_cli, recipient, says):
    encrypted_site(home, recipient)
    refused = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", check=2)
    [line] = refused.stderr.strip().splitlines()
    assert "encrypt" in line and "recipients" in line and says in line, line
    assert not (home / "Documents").exists() or not any((home / "Documents").rglob("*.age*"))


def test_an_encoder_that_cannot_write_a_stream_refuses_rather_than_record_in_the_clear(home, keys, tmp_path):
    site = install_plugin(tmp_path / "site", "mpeg4-mkv", MATROSKA)
    site_config(home, f"""
[profiles.rep]
guards = ["+encrypt"]
encoder = "mpeg4-mkv"
[profiles.rep.encrypt]
recipients = ["{keys['recipient']}"]
""" + SYNTHETIC)
    refused = subprocess.run([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "1"],
                             env=cli_env(home, PYTHONPATH=str(site)), capture_output=True, text=True, timeout=60, encoding="utf-8")
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert "encoder 'mpeg4-mkv' cannot write encrypted parts" in line
    assert not any((home / "Documents").rglob("part-*")), "nothing recorded in the clear"


def _status(home: Path) -> dict:
    done = subprocess.run([recorder_command(), "status", "--profile", "rep", "--json"], env=cli_env(home),
                          capture_output=True, text=True, timeout=30, encoding="utf-8")
    return json.loads(done.stdout) if done.returncode == 0 else {}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_kill_loses_about_a_second_and_the_key_holder_recovers_the_rest(home, run_cli, keys, tmp_path, seed):
    encrypted_site(home, keys["recipient"])
    child = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "60",
                              "--session-id", "ticket-9"], env=cli_env(home), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=child_signals)
    try:
        deadline = time.monotonic() + 30
        while not _status(home).get("frames_captured") and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(random.Random(seed).uniform(2.0, 6.0))
        captured = _status(home)["frames_captured"]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    folder = only_session(home)
    assert any(p.name.endswith(".tail") for p in folder.iterdir()), "the last checkpoint's tail is on disk"
    # without the key: recovered as it is, resumed, ended; verify checks the hashes
    assert run_cli("recover", check=0).stdout.count("encrypted; kept as written") == 1
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", "--session-id", "ticket-9", check=0)
    verified = run_cli("verify", str(folder), check=0)
    assert "with the tail a crash left" in verified.stdout
    # the key holder joins part and tail: everything up to about a second before the kill
    made = run_cli("recover", "--identity", str(keys["identity"]), check=0)
    assert "part-001.mp4.age: whole" in made.stdout
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert len(manifest["parts"]) == 2 and all(p["file"].endswith(".mp4.age") and p["stream_meta"]["recipients"]
                                               for p in manifest["parts"]), "the resumed part is encrypted too"
    first = manifest["parts"][0]
    assert not first["sidecars"] and sorted(p.name for p in folder.iterdir()) == sorted(
        ["session.json"] + [p["file"] for p in manifest["parts"]])
    numbers = frame_numbers(age_decrypt(folder / first["file"], keys["identity"]), tmp_path)
    assert numbers == list(range(len(numbers))) and len(numbers) == first["frames"]
    # the status was read just before the kill; 10 fps: about a second (fragment + checkpoint) may be lost
    assert len(numbers) >= captured - 20, (len(numbers), captured)
    assert run_cli("verify", str(folder), check=0)
    again = run_cli("recover", "--identity", str(keys["identity"]), check=0)
    assert again.stdout.strip() == "nothing to recover"


# What a plaintext recording, frame or picture would contain: container boxes, the encoder's
# signature, picture formats. Each long enough that random ciphertext does not hold it by chance.
SIGNATURES = [b"ftypisom", b"ftypmp4", b"moof\x00\x00\x00\x10mfhd", b"x264 - core", b"Lavf", b"avcC\x01",
              b"JFIF\x00", b"\x89PNG\r\n", b"webm\x42\x87", b"GIF89a", b"<video", b"SessionRecordings/part-"]


def _pattern(path: Path, width: int, height: int, rng: random.Random) -> bytes:
    """A picture of 16x16 blocks of random colours (written as PPM for ffplay); returns its first
    row as BGRA, which is how a raw screen grab would hold it."""
    block = 16
    colours = [[bytes(rng.randrange(256) for _ in range(3)) for _ in range(width // block)]
               for _ in range(height // block)]
    rows = [b"".join(colours[y // block][x // block] for x in range(width)) for y in range(height)]
    path.write_bytes(b"P6 %d %d 255\n" % (width, height) + b"".join(rows))
    first = rows[0]
    return b"".join(first[i:i + 3][::-1] + b"\xff" for i in range(0, len(first), 3))


def _files_under(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if root.exists():
            found += [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    return found


@pytest.mark.display
def test_no_plaintext_of_the_screen_reaches_the_disk(still_display, home, keys, tmp_path):
    """Record a screen showing a random marker, then play, export, verify and inspect the session:
    no file anywhere recorder writes holds the marker's pixels or text, a picture or video signature,
    or anything a decoder opens."""
    rng = random.Random()
    marker = f"marker-{secrets.token_hex(12)}"
    picture = tmp_path / "pattern.ppm"
    row = _pattern(picture, 320, 240, rng)
    player = subprocess.Popen(["ffplay", "-loglevel", "quiet", "-noborder", "-left", "40", "-top", "40",
                               "-window_title", marker, "-loop", "0", str(picture)],
                              env=dict(os.environ, DISPLAY=still_display.name))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {"TMPDIR": str(temporary)}
    try:
        time.sleep(2)
        encrypted_site(home, keys["recipient"], 'source = "mss"')
        run = lambda *args, check=0, **extra: _run(home, still_display.name, env, *args, check=check, **extra)  # noqa: E731
        run("--profile", "rep", "--duration", "4", "--label", "ticket=T-1")
    finally:
        player.terminate()
        player.wait(10)
    folder = only_session(home)
    session = folder.name.rsplit("_", 1)[1]
    run("list")
    run("info", session, "--identity", str(keys["identity"]))
    run("verify", session)
    export = run("export", session, "--format", "gif", "-o", str(tmp_path / "out" / "review.gif"),
                 "--identity", str(keys["identity"]), "--scale", "0.5", prepare_out=True)
    assert export.stdout.strip().endswith("review.gif.age")
    # play: the page, decrypted parts and thumbnails live in memory until Enter
    play = subprocess.Popen([recorder_command(), "play", session, "--no-open", "--identity", str(keys["identity"])],
                            env=cli_env(home, still_display.name, **env), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    page = Path(play.stdout.readline().strip())
    assert page.name == "index.html" and page.exists(), play.stderr.read() if play.poll() is not None else page
    memory = page.parent
    assert memory.stat().st_mode & 0o777 == 0o700
    held = sorted(p.name for p in memory.iterdir())
    assert "part-001.mp4" in held and any(name.endswith(".jpg") for name in held), held
    with av.open(str(memory / "part-001.mp4")) as container:  # the decrypted part plays, from memory
        assert sum(1 for _ in container.decode(video=0)) >= 2  # a still screen: a frame a heartbeat
    play.communicate("\n", timeout=30)
    assert play.returncode == 0
    assert not memory.exists(), "the decrypted replay is removed when the user is done"

    scanned = _files_under(home, temporary, tmp_path / "out", Path("/dev/shm"))
    assert len(scanned) >= 4
    needles = SIGNATURES + [marker.encode(), row[:64], row[256:320]]
    for path in scanned:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{path} holds {needle[:16]!r}"
        try:
            with av.open(str(path)) as container:
                assert not container.streams.video, f"{path} decodes as video without the key"
        except av.FFmpegError:
            pass  # not media at all: as it should be
    # and the recording did see the marker: decrypted, the pattern is on screen
    part = folder / "part-001.mp4.age"
    plain = tmp_path / "check.mp4"
    plain.write_bytes(age_decrypt(part, keys["identity"]))
    with av.open(str(plain)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
    top_left = frame[40 + 8, 40 + 8]
    assert max(abs(int(a) - int(b)) for a, b in zip(top_left, row[32:35])) <= 24, (top_left, row[32:36])


def _run(home: Path, display: str, env: dict, *args: str, check: int = 0, prepare_out: bool = False):
    if prepare_out:
        Path(args[args.index("-o") + 1]).parent.mkdir(exist_ok=True)
    done = subprocess.run([recorder_command(), *args], env=cli_env(home, display, **env), capture_output=True,
                          text=True, timeout=120, encoding="utf-8")
    assert done.returncode == check, done.stderr
    return done


def test_recipients_from_a_file_and_a_manifest_naming_a_tail_outside_the_folder_is_refused(home, run_cli, keys,
                                                                                           tmp_path):
    listing = tmp_path / "recipients.txt"
    listing.write_text(f"# the auditors\n{keys['recipient']}\n\n", encoding="utf-8")
    site_config(home, f'[profiles.rep]\nguards = ["+encrypt"]\n[profiles.rep.encrypt]\n'
                      f'recipients_file = "{listing}"\n' + SYNTHETIC)
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", check=0)
    folder = only_session(home)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["parts"][0]["stream_meta"]["recipients"] == [keys["recipient"]]
    manifest["parts"][0]["sidecars"] = {"../../../etc/passwd": "0" * 64}
    (folder / "session.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused = run_cli("verify", str(folder))
    assert refused.returncode == 2 or "refused" in refused.stdout
    assert "is not a plain file name" in refused.stdout + refused.stderr
    listing.write_text("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n", encoding="utf-8")
    bad = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", "--new-session", check=2)
    assert "recipients_file" in bad.stderr and "line 1 is a private key" in bad.stderr


def test_a_version_5_manifest_reads_as_parts_of_the_age_stream_with_their_tails():
    """Sessions encrypted before part streams (format 5: encrypted_to, tail) still read, verify and open."""
    from recorder.session import manifest as manifests

    part = {"index": 1, "file": "part-001.mp4.age", "start": 0.0, "state": "sealed", "frames": 10, "duration": 1.0,
            "size": 5, "sha256": "a" * 64, "previous_sha256": "", "encoder": "h264",
            "encrypted_to": ["age1example"], "tail": "part-001.mp4.age.tail", "tail_sha256": "b" * 64}
    plain = dict(part, file="part-002.mp4", encrypted_to=[], tail="", tail_sha256="", index=2)
    old = {"format_version": 5, "session_id": "abc123", "profile": "rep", "role": "rep", "host": "h",
           "started_at": "2026-01-01T00:00:00+00:00", "parts": [part, plain], "events": []}
    manifest = manifests.parse(json.dumps(old))
    assert manifest.format_version == manifests.FORMAT_VERSION == 6
    first, second = manifest.parts
    assert (first.stream, first.stream_meta, first.sidecars) == (
        "age", {"recipients": ["age1example"]}, {"part-001.mp4.age.tail": "b" * 64})
    assert (second.stream, second.stream_meta, second.sidecars) == ("", {}, {})
    again = json.loads(manifests.dumps(manifest))["parts"][0]
    assert "encrypted_to" not in again and again["stream"] == "age"
    outside = dict(old, parts=[dict(part, tail="../../etc/passwd")])
    with pytest.raises(manifests.ManifestError, match="is not a plain file name"):
        manifests.parse(json.dumps(outside))


def test_pyrage_is_imported_only_when_a_profile_encrypts(home, keys):
    """Encryption is a plugin like any other: a recording that does not encrypt never loads pyrage."""
    def imported(*args: str) -> set[str]:
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "recorder", "--profile", "rep",
                               "--source", "synthetic", "--duration", "1", *args], env=cli_env(home),
                              capture_output=True, text=True, timeout=60, encoding="utf-8")
        assert done.returncode == 0, done.stderr
        return {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}

    assert "pyrage" not in imported("--new-session")
    encrypted_site(home, keys["recipient"])
    assert "pyrage" in imported("--new-session")
