"""``recorder key --show``: the public half of the key that signs receipts, and the
allowed_signers line an auditor puts in a file to check them with ssh-keygen."""

from __future__ import annotations

import click
from recorder import UsageError, profiles_using

from recorder.plugins.signing import keys


@click.command("key")
@click.option("--show", is_flag=True, help="Print the public key and its allowed_signers line.")
@click.option("--allowed-signers", "line_only", is_flag=True,
              help="Print only the allowed_signers line (for: >> allowed_signers).")
@click.option("--profile", "-p", metavar="NAME", help="The key this profile signs with (default: this "
                                                       "machine's own, made now if there is none).")
def key_cmd(show, line_only, profile):
    """The key that signs each session's receipt and final session.json (guard 'signing')."""
    if not (show or line_only):
        raise UsageError("give --show (or --allowed-signers)")
    profile = profile or (click.get_current_context().obj or {}).get("profile")
    options = profiles_using("signing", profile).get(profile) if profile else None
    try:
        who = keys.signer(options.key, options.identity) if options else keys.signer()
    except keys.SigningUnavailable as exc:
        raise UsageError(str(exc)) from None
    if line_only:
        click.echo(who.allowed_signers_line())
        return
    click.echo(who.public)
    click.echo(f"allowed_signers: {who.allowed_signers_line()}")
    click.echo(f"key: {who.key}", err=True)
