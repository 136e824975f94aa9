"""Signed receipts: each session's receipt and final session.json carry an SSH signature
(SSHSIG, namespace recorder-receipt) that the stock ``ssh-keygen -Y verify`` checks, with
nothing of recorder's; ``recorder verify --receipt`` names the signer."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
NAMESPACE = "recorder-receipt"


def record(run_cli, tmp_path: Path, events: Path, extra: str = "") -> Path:
    config = tmp_path / "signed.toml"
    config.write_text(f'[profiles.rep]\nguards = ["+signing"]\nnotifiers = ["+events-file"]\n'
                      f'max_part_duration = 1.0\n{extra}'
                      f'[profiles.rep.events-file]\npath = "{events}"\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "2",
                     "--session-id", "S-7", check=0)
    assert "warning: signing" not in result.stderr, result.stderr
    return Path(result.stdout.strip())


def the_receipt(events: Path) -> dict:
    [receipt] = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()
                 if json.loads(line)["kind"] == "receipt"]
    return receipt


def ssh_verify(allowed: Path, identity: str, signature: Path, data: bytes) -> subprocess.CompletedProcess:
    """What an auditor runs: OpenSSH alone."""
    return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", identity, "-n", NAMESPACE,
                           "-s", str(signature)], input=data, capture_output=True, timeout=30)


@pytest.fixture
def signed(run_cli, home, tmp_path):
    events = tmp_path / "events.jsonl"
    folder = record(run_cli, tmp_path, events)
    shown = run_cli("key", "--show", check=0)
    return folder, the_receipt(events), shown


def test_stock_ssh_keygen_verifies_the_receipt_and_the_manifest(signed, tmp_path):
    folder, receipt, shown = signed
    public, line = shown.stdout.splitlines()[:2]
    assert public.startswith("ssh-ed25519 ") and line.startswith("allowed_signers: ")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(line.removeprefix("allowed_signers: ") + "\n", encoding="utf-8")
    identity = line.split()[1]
    assert identity.startswith("recorder@")
    for name in ("receipt.json", "session.json"):
        done = ssh_verify(allowed, identity, folder / f"{name}.sig", (folder / name).read_bytes())
        assert done.returncode == 0, done.stderr
        assert f'Good "{NAMESPACE}" signature for {identity}' in done.stdout.decode()
    # The support tool's copy: the key and the signature came in the receipt event, and its
    # signed bytes are the receipt's own keys (signed.keys), sorted, indented by 2, a newline.
    offered = receipt["signed"]
    assert offered["public_key"] == public and offered["signer"] == identity
    assert offered["allowed_signers"] == line.removeprefix("allowed_signers: ")
    kept = {key: receipt[key] for key in offered["keys"]}
    assert "head" in kept and "signed" not in kept and "kind" not in kept
    assert (folder / "receipt.json").read_bytes() == (json.dumps(kept, indent=2, sort_keys=True) + "\n").encode()
    (tmp_path / "kept.sig").write_text(offered["signature"], encoding="utf-8")
    assert ssh_verify(allowed, identity, tmp_path / "kept.sig", (folder / "receipt.json").read_bytes()).returncode == 0


def test_a_tampered_receipt_fails(signed, tmp_path):
    folder, _, shown = signed
    line = shown.stdout.splitlines()[1].removeprefix("allowed_signers: ")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(line + "\n", encoding="utf-8")
    data = json.loads((folder / "receipt.json").read_text(encoding="utf-8"))
    data["frames"] += 1
    tampered = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    done = ssh_verify(allowed, line.split()[0], folder / "receipt.json.sig", tampered)
    assert done.returncode != 0 and b"incorrect signature" in done.stderr


def test_the_wrong_signer_fails(signed, tmp_path):
    folder, _, shown = signed
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mallory", "-f", str(other)], check=True)
    identity = shown.stdout.splitlines()[1].split()[1]
    algorithm, blob = other.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'{identity} namespaces="{NAMESPACE}" {algorithm} {blob}\n', encoding="utf-8")
    done = ssh_verify(allowed, identity, folder / "receipt.json.sig", (folder / "receipt.json").read_bytes())
    assert done.returncode != 0


def test_recorder_verify_names_the_signer_and_catches_a_changed_file(signed, run_cli, tmp_path):
    folder, receipt, shown = signed
    identity = shown.stdout.splitlines()[1].split()[1]
    kept = tmp_path / "receipt.json"
    kept.write_text(json.dumps(receipt), encoding="utf-8")
    plain = run_cli("verify", str(folder), check=0).stdout
    assert "unexpected" not in plain and plain.strip().endswith("verified"), "the signatures are known files"
    result = run_cli("verify", str(folder), "--receipt", str(kept), check=0).stdout
    assert f"ok       receipt.json is signed by {identity}" in result
    assert f"ok       session.json is signed by {identity}" in result
    assert f"ok       the receipt you keep is signed by {identity}" in result
    assert run_cli("verify", str(folder), "--receipt", receipt["head"], check=0)
    manifest = folder / "session.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"S-7"', b'"S-8"'))
    changed = run_cli("verify", str(folder), "--receipt", str(kept), check=1).stdout
    assert "PROBLEM  session.json: its signature does not match it (the file was changed after it was signed)" \
        in changed


def test_the_key_is_private_and_never_in_a_session_folder(signed, home):
    folder, _, shown = signed
    key = Path(shown.stderr.strip().removeprefix("key: "))
    assert key.is_file() and home in key.parents
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert folder not in key.parents
    for path in folder.iterdir():
        assert b"PRIVATE KEY" not in path.read_bytes(), path
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("part-")) == \
        ["receipt.json", "receipt.json.sig", "session.json", "session.json.sig"]


def test_without_ssh_keygen_the_recording_is_kept_unsigned(run_cli, home, tmp_path):
    """One warning line; the session is whole and verifies."""
    path = os.pathsep.join(str(_without_ssh_keygen(Path(p), tmp_path / f"bin{n}"))
                           for n, p in enumerate(os.environ.get("PATH", "").split(os.pathsep)) if p)
    events = tmp_path / "events.jsonl"
    config = tmp_path / "signed.toml"
    config.write_text(f'[profiles.rep]\nguards = ["+signing"]\nnotifiers = ["+events-file"]\n'
                      f'[profiles.rep.events-file]\npath = "{events}"\n'
                      '[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")
    result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic", "--duration", "1",
                     env={"PATH": path}, check=0)
    warnings = [line for line in result.stderr.splitlines() if "warning: signing" in line]
    assert len(warnings) == 1 and "ssh-keygen" in warnings[0], result.stderr
    folder = Path(result.stdout.strip())
    assert "signed" not in the_receipt(events)
    assert run_cli("verify", str(folder), check=0).stdout.strip().endswith("verified")


def _without_ssh_keygen(folder: Path, copy: Path) -> Path:
    """``folder`` itself, or (if it holds ssh-keygen) a folder of links to everything else in it."""
    if not (folder / "ssh-keygen").exists():
        return folder
    copy.mkdir()
    for entry in folder.iterdir():
        if entry.name != "ssh-keygen":
            (copy / entry.name).symlink_to(entry)
    return copy


def test_the_guard_signs_and_verify_checks_without_a_recording(tmp_path):
    """The guard and the verify hook on their own: a folder, a receipt, this machine's key."""
    from types import SimpleNamespace

    from recorder.plugins.signing import checking
    from recorder.plugins.signing.guard import SigningGuard, SigningOptions

    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "session.json").write_text('{"session_id": "abc"}\n', encoding="utf-8")
    session = SimpleNamespace(folder=folder)
    receipt = {"receipt_version": 1, "session_id": "abc", "parts": [], "frames": 0, "duration": 0.0, "head": "h"}
    guard = SigningGuard(SigningOptions())
    guard.session_receipt(session, receipt)
    guard.session_ended(session)
    assert receipt["signed"]["keys"] == ["duration", "frames", "head", "parts", "receipt_version", "session_id"]
    said = checking.check(folder, receipt)
    assert [ok for ok, _ in said] == [True, True, True], said
    assert all(f"signed by {receipt['signed']['signer']}" in line for _, line in said)
    changed = dict(receipt, frames=1)
    assert not checking.check(folder, changed)[0][0], "the receipt kept was changed"
    (folder / "session.json.sig").unlink()
    assert (False, "session.json.sig is missing, though the session was signed") in checking.check(folder, "h")


def test_an_index_made_after_the_end_keeps_session_json_signed(signed, run_cli, tmp_path):
    """``recorder index`` lists the text index in session.json after its session ended (and
    after it was signed): the signing plugin signs it again, as after a save or a hold."""
    folder, receipt, shown = signed
    identity = shown.stdout.splitlines()[1].split()[1]
    before = (folder / "session.json.sig").read_bytes()
    run_cli("index", str(folder), check=0)
    assert json.loads((folder / "session.json").read_text(encoding="utf-8"))["text_index"]["complete"]
    assert (folder / "session.json.sig").read_bytes() != before
    kept = tmp_path / "receipt.json"
    kept.write_text(json.dumps(receipt), encoding="utf-8")
    result = run_cli("verify", str(folder), "--receipt", str(kept), check=0).stdout
    assert f"ok       session.json is signed by {identity}" in result
