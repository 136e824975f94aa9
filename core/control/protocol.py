"""The control protocol, version 1: JSON lines over a Unix stream socket.

On connect the recorder sends a hello line. Each request is one JSON object on
one line (``{"id": 1, "command": "status"}``), answered by one line with the
same id (``{"id": 1, "ok": true, "result": {...}}`` or ``"ok": false`` and an
``error``). After ``subscribe`` the connection streams ``{"type": ...}`` lines
(event, notification, end-session-requested, receipt, ended) until the
session ends. Requests are untrusted: every field is checked here, and a bad
one is answered with an error naming it, never with a crash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PROTOCOL = 1
MAX_LINE = 64 * 1024  # a request longer than this is refused and the connection closed
COMMANDS = ("status", "stop", "pause", "resume", "mark", "subscribe")
KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
WHO = re.compile(r"[\w.@:+-][\w .@:+-]{0,63}")
MAX_TEXT = 1000
MAX_DATA = 4096
# Kinds core writes: a client marking one would forge the timeline's account.
RESERVED = frozenset({
    "started", "stopped", "paused", "unpaused", "gap", "resumed", "crashed", "end-requested", "end-reason",
    "notification", "error", "rescued", "receipt", "plugin-error", "plugin-slow", "notifier-failure",
    "part-repaired", "staged", "saved", "unsaved", "kept", "closed", "retention", "disk-full",
    "consent-requested", "consent", "consent-declined"})


class BadRequest(ValueError):
    """A request the recorder will not carry out; the message names what is wrong."""


def socket_path(runtime_dir: Path, profile: str) -> Path:
    """Where the recorder of ``profile`` listens (on macOS a short stand-in when the
    runtime dir is too long for a socket there: control/address.py)."""
    from recorder.control.address import fitting  # imported here: this module stays free of the OS

    return fitting(runtime_dir / f"{profile}.sock")


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()


def decode_request(line: bytes) -> tuple[Any, str, dict[str, Any]]:
    """(id, command, arguments) of one request line."""
    try:
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"not a JSON object: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest("not a JSON object")
    ident = request.get("id")
    if ident is not None and not isinstance(ident, (int, str)):
        raise BadRequest("id: must be a number or a string")
    command = request.get("command")
    if command not in COMMANDS:
        raise BadRequest(f"command: unknown {command!r} (known: {', '.join(COMMANDS)})")
    args = {k: v for k, v in request.items() if k not in ("id", "command")}
    return ident, command, args


def text(args: dict, key: str, default: str = "", *, limit: int = MAX_TEXT) -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"{key}: must be a string")
    if len(value) > limit:
        raise BadRequest(f"{key}: longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise BadRequest(f"{key}: control characters are not allowed")
    return value


def who(args: dict, default: str = "control") -> str:
    value = args.get("by", default)
    if not isinstance(value, str) or not WHO.fullmatch(value) or value.strip() == "recorder":
        raise BadRequest("by: 1 to 64 letters, digits, spaces or . @ : + - (and not 'recorder')")
    return value.strip()


def kind(args: dict) -> str:
    value = args.get("kind", "mark")
    if not isinstance(value, str) or not KIND.fullmatch(value):
        raise BadRequest("kind: 1 to 32 lowercase letters, digits or '-', starting with a letter")
    if value in RESERVED:
        raise BadRequest(f"kind: {value!r} is recorder's own; choose another (e.g. 'chat', 'remote-control')")
    return value


def data(args: dict) -> dict[str, Any]:
    value = args.get("data", {})
    if not isinstance(value, dict):
        raise BadRequest("data: must be a JSON object")
    if len(json.dumps(value)) > MAX_DATA:
        raise BadRequest(f"data: larger than {MAX_DATA} bytes")
    return value
