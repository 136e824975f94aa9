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
import math
import re
from pathlib import Path
from typing import Any

PROTOCOL = 1
MAX_LINE = 64 * 1024  # a request longer than this is refused and the connection closed
MAX_DEPTH = 16  # objects and arrays within each other: deeper is no request of ours
MAX_DIGITS = 40  # in a JSON number: an id or a line number, never more
COMMANDS = ("status", "stop", "pause", "resume", "mark", "hold", "release", "subscribe")
COUNTED = ("mark", "hold", "release")  # each puts an event on the timeline: counted against the marks' limits
SURROGATE = re.compile("[\ud800-\udfff]")
KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
WHO = re.compile(r"[\w.@:+-][\w .@:+-]{0,63}")
MAX_TEXT = 1000
MAX_DATA = 4096
# Every mark rewrites session.json: a session keeps at most this many, of this many bytes in all.
MAX_MARKS = 500
MAX_MARK_BYTES = 256 * 1024
# Kinds core writes: a client marking one would forge the timeline's account.
RESERVED = frozenset({
    "started", "stopped", "paused", "unpaused", "gap", "resumed", "crashed", "end-requested", "end-reason",
    "notification", "error", "rescued", "receipt", "plugin-error", "plugin-slow", "notifier-failure",
    "part-repaired", "staged", "saved", "unsaved", "kept", "closed", "retention", "disk-full",
    "consent-requested", "consent", "consent-declined", "hold", "release"})


class BadRequest(ValueError):
    """A request the recorder will not carry out; the message names what is wrong."""

    ident: Any = None  # the request's id, when known before the request was found wrong


def socket_path(runtime_dir: Path, profile: str) -> Path:
    """Where the recorder of ``profile`` listens (on macOS a short stand-in when the
    runtime dir is too long for a socket there: control/address.py)."""
    from recorder.control.address import fitting  # imported here: this module stays free of the OS

    return fitting(runtime_dir / f"{profile}.sock")


def encode(message: dict[str, Any]) -> bytes:
    """One line; never fails on text (a lone surrogate in it goes out as a JSON ``\\u`` escape)."""
    line = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        return (line + "\n").encode()
    except UnicodeEncodeError:
        return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()


def _number(digits: str) -> Any:
    if len(digits) > MAX_DIGITS:
        raise BadRequest(f"a number of more than {MAX_DIGITS} digits")
    value = json.loads(digits)  # int or float, as json itself would make it
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"number {digits[:12]!r}: out of range")
    return value


def _constant(name: str) -> Any:
    raise BadRequest(f"number {name}: not a finite number")


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest in ``value`` (without recursion)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_DEPTH:
                break
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def decode_request(line: bytes) -> tuple[Any, str, dict[str, Any]]:
    """(id, command, arguments) of one request line."""
    try:
        request = json.loads(line, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"not a JSON object: {exc}") from None
    except RecursionError:
        raise BadRequest(f"nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(request, dict):
        raise BadRequest("not a JSON object")
    ident = request.get("id")
    if ident is not None and not isinstance(ident, (int, str)):
        raise BadRequest("id: must be a number or a string")
    if isinstance(ident, str):
        ident = clean(ident)
    try:
        if _depth(request) > MAX_DEPTH:
            raise BadRequest(f"nested more than {MAX_DEPTH} levels deep")
        command = request.get("command")
        if command not in COMMANDS:
            raise BadRequest(f"command: unknown {command!r} (known: {', '.join(COMMANDS)})")
    except BadRequest as exc:
        exc.ident = ident  # answered with the request's own id
        raise
    args = {k: v for k, v in request.items() if k not in ("id", "command")}
    return ident, command, args


def clean(value: str) -> str:
    """``value`` with each lone surrogate (half of a UTF-16 pair: an emoji a chat bridge cut
    in two) replaced by U+FFFD, so that it can be written as UTF-8 everywhere it goes."""
    if not SURROGATE.search(value):
        return value
    return SURROGATE.sub("\ufffd", value)


def text(args: dict, key: str, default: str = "", *, limit: int = MAX_TEXT) -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"{key}: must be a string")
    if len(value) > limit:
        raise BadRequest(f"{key}: longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise BadRequest(f"{key}: control characters are not allowed")
    return clean(value)


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
    return _cleaned(value)


def _cleaned(value: Any) -> Any:
    """``value`` with every string in it (keys too) cleaned; the depth is checked already."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value


def mark_size(args: dict) -> int:
    """What a mark adds to the session's manifest, near enough (its fields as JSON)."""
    return len(json.dumps(args, default=str).encode())
