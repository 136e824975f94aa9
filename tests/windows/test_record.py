"""Recording on Windows, end to end: the bundle's recorder.cmd, GDI capture through mss,
the control channel over the named pipe, verify, as a Windows user runs them."""

from __future__ import annotations

import json

import av

from conftest import RECORDINGS, run, sessions, status, wait_until


def test_records_notepad_for_20_s_and_answers_over_the_pipe(start, notepad):
    left, top, right, bottom = notepad
    recording = start("--profile", "rep", "--duration", "120")
    state = wait_until("the recorder to answer status over the pipe", lambda: status("rep"))
    assert state["state"] == "recording"
    follower = start("events", "--follow", "--json", "--profile", "rep")
    assert run("pause", "--by", "customer", "--reason", "typing a password", "--profile", "rep",
               check=0).stdout.strip() == "paused"
    assert status("rep")["state"] == "paused"
    assert run("resume", "--by", "customer", "--profile", "rep", check=0).stdout.strip() == "recording"
    run("mark", "notepad opened", "--profile", "rep", check=0)
    assert "notepad opened" in run("events", "--profile", "rep", check=0).stdout
    # elapsed counts the pause too; the recording itself is to last 20 s
    wait_until("20 s of video", lambda: (status("rep") or {}).get("elapsed", 0) >= 25, timeout=90)
    run("stop", "--profile", "rep", check=0)
    assert recording.finish(60) == 0, recording.err
    assert follower.finish(60) == 0, follower.err
    followed = [json.loads(line) for line in follower.out.splitlines()]
    texts = [m["event"]["text"] for m in followed if m.get("type") == "event"]
    assert "notepad opened" in texts and any("typing a password" in t for t in texts), texts
    assert followed[-1]["type"] == "ended"
    [folder] = sessions()
    assert folder.parent == RECORDINGS and str(folder) in recording.out
    assert run("verify", folder.name[-8:], check=0).stdout.strip().endswith("verified")
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert [e for e in manifest["events"] if e["kind"] == "mark" and e.get("text") == "notepad opened"], manifest["events"]
    assert manifest["end_reason"] == "user" and 20 <= manifest["duration"] < 60
    with av.open(str(folder / "part-001.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    # notepad's edit area is white; Wine's empty desktop around it is not
    inside = frame[top + 60:bottom - 30, left + 20:right - 20]
    assert (inside.min(axis=2) > 240).mean() > 0.9
    assert (frame[:top - 10].min(axis=2) > 240).mean() < 0.5


def test_the_encrypt_guard_under_windows_cpython(start, tmp_path):
    """pyrage (age) in the bundle: the parts are age files to the configured recipient,
    verify checks them without the key, and the key holder gets the video back."""
    import io

    import pyrage

    identity = pyrage.x25519.Identity.generate()
    config = tmp_path / "encrypt.toml"
    config.write_text(f'[profiles.rep]\nguards = ["+encrypt"]\n[profiles.rep.encrypt]\n'
                      f'recipients = ["{identity.to_public()}"]\n', encoding="utf-8")
    recording = start("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "4")
    assert recording.finish(120) == 0, recording.err
    [folder] = sessions()
    assert run("verify", folder.name[-8:], check=0).stdout.strip().endswith("verified")
    part = folder / manifest_part(folder)
    sealed = part.read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1\n")
    with av.open(io.BytesIO(pyrage.decrypt(sealed, [identity]))) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 3 * 10
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    assert manifest["parts"][0]["stream_meta"] == {"recipients": [str(identity.to_public())]}


def manifest_part(folder) -> str:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))["parts"][0]["file"]
