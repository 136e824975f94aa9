"""The signing key and every use of it, through OpenSSH's own ``ssh-keygen``.

Nothing here is cryptography of recorder's own: ``ssh-keygen -Y sign`` writes
the signature (the SSHSIG format, namespace ``recorder-receipt``) and
``ssh-keygen -Y verify`` checks it, exactly as an auditor would without
recorder. The key is the administrator's (a path in the profile) or this
machine's own, made on first use in recorder's state folder (0600), never in a
session folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import attrs
from recorder import RecorderError, plugin_state_dir

NAMESPACE = "recorder-receipt"
MACHINE_KEY = "id_ed25519"  # in the plugin's state folder, beside its .pub
TIMEOUT = 30.0  # seconds for one ssh-keygen run: it signs a few kilobytes


class SigningUnavailable(RecorderError):
    """No ssh-keygen, or no usable key: said once, and the recording is kept unsigned."""


@attrs.frozen
class Signer:
    key: Path  # the private key file
    public: str  # its public half, one line: "ssh-ed25519 AAAA... comment"
    identity: str  # the signer's name in an allowed_signers file

    def allowed_signers_line(self) -> str:
        algorithm, blob = self.public.split()[:2]
        return f'{self.identity} namespaces="{NAMESPACE}" {algorithm} {blob}'


def ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        raise SigningUnavailable("ssh-keygen (OpenSSH) is not installed: receipts are not signed "
                                 "(Debian/Ubuntu: apt-get install openssh-client)")
    return found


def _run(args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ssh_keygen(), *args], input=data if data is not None else b"", capture_output=True,
                          timeout=TIMEOUT, check=False)


def machine_identity() -> str:
    return f"recorder@{socket.gethostname() or 'localhost'}"


def machine_key_path() -> Path:
    return plugin_state_dir("signing") / MACHINE_KEY


def signer(key: str = "", identity: str = "") -> Signer:
    """The administrator's key when ``key`` names one, else this machine's, made now if it has none."""
    path = Path(key).expanduser() if key else machine_key_path()
    if not key and not path.is_file():
        _generate(path)
    # A .pub given: the private half is in ssh-agent, which ssh-keygen -Y sign asks.
    public_path = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
    try:
        public = public_path.read_text(encoding="utf-8").strip()
    except OSError:
        done = _run(["-y", "-f", str(path)])  # the public half from the private key
        if done.returncode != 0:
            raise SigningUnavailable(f"the signing key {path} cannot be read: "
                                     f"{done.stderr.decode(errors='replace').strip()}") from None
        public = done.stdout.decode().strip()
    if not public.startswith("ssh-ed25519 "):
        raise SigningUnavailable(f"the signing key {path} is not an Ed25519 key")
    comment = public.split(maxsplit=2)[2] if len(public.split()) > 2 else ""
    return Signer(path, public, identity or (comment if key and comment else machine_identity()))


def _generate(path: Path) -> None:
    """ssh-keygen writes the private key 0600 itself; it goes under a temporary name first so that
    two recorders starting at once never see half a key."""
    folder = Path(tempfile.mkdtemp(prefix=".new-key-", dir=path.parent))
    try:
        made = folder / path.name
        done = _run(["-q", "-t", "ed25519", "-N", "", "-C", machine_identity(), "-f", str(made)])
        if done.returncode != 0:
            raise SigningUnavailable(f"no signing key could be made: {done.stderr.decode(errors='replace').strip()}")
        os.chmod(made, 0o600)
        if not path.exists():  # the first recorder to finish wins; its key is everyone's
            os.replace(made.with_name(made.name + ".pub"), path.with_name(path.name + ".pub"))
            os.replace(made, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sign(who: Signer, data: bytes) -> str:
    """The armored SSH signature of ``data`` (what ``ssh-keygen -Y sign`` writes to FILE.sig)."""
    done = _run(["-Y", "sign", "-f", str(who.key), "-n", NAMESPACE], data)
    if done.returncode != 0 or b"BEGIN SSH SIGNATURE" not in done.stdout:
        raise SigningUnavailable(f"ssh-keygen could not sign with {who.key}: "
                                 f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode()


def signed_by(allowed_signers: Path, signature: Path, data: bytes) -> str | None:
    """The principal in ``allowed_signers`` whose good signature ``signature`` is, or None."""
    found = _run(["-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)])
    for principal in found.stdout.decode(errors="replace").split():
        done = _run(["-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE,
                     "-s", str(signature)], data)
        if done.returncode == 0:
            return principal
    return None


def key_of(signature: Path, data: bytes) -> str | None:
    """The fingerprint of the key that made a good signature, trusted or not; None if it is not one."""
    done = _run(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(signature)], data)
    said = done.stdout.decode(errors="replace").strip()
    return said.rsplit(" ", 1)[-1] if done.returncode == 0 and said else None
