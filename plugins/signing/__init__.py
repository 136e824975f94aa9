"""Signed receipts: each session's receipt and final ``session.json`` signed with an
Ed25519 key in OpenSSH's signature format (SSHSIG, namespace ``recorder-receipt``),
so that anyone checks them with the stock ``ssh-keygen -Y verify`` and an
``allowed_signers`` file. ``ssh-keygen`` itself signs and checks: recorder has no
cryptography of its own here.

The guard (guard.py) signs; ``recorder key --show`` (commands.py) prints the
public key; ``recorder verify --receipt`` checks the signatures and names the
signer (checking.py), through hooks as a third-party plugin's would be.
"""

from __future__ import annotations

import click
from recorder import hookimpl

from recorder.plugins.signing import checking, commands
from recorder.plugins.signing.guard import SIGNED_FILES, SigningGuard, SigningOptions, resign_manifest


@hookimpl
def recorder_register_guards(register):
    register("signing", SigningGuard, options=SigningOptions,
             description="sign the receipt and the final session.json (ssh-keygen -Y sign, SSHSIG)")


@hookimpl
def recorder_register_commands(cli: click.Group):
    cli.add_command(commands.key_cmd)


@hookimpl
def recorder_session_files(folder):
    return list(SIGNED_FILES)


@hookimpl
def recorder_verify_receipt(folder, manifest, receipt):
    return checking.check(folder, receipt)


@hookimpl
def recorder_session_saved(session):
    resign_manifest(session)


@hookimpl
def recorder_session_indexed(session):
    """``recorder index`` listed the text index in a signed session.json: signed again."""
    resign_manifest(session)


@hookimpl
def recorder_session_hold(session, event):
    """A hold or release added its event to a signed session.json: signed again, as after a save."""
    resign_manifest(session)
    return []
