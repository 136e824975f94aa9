"""The ScreenCast portal (org.freedesktop.portal.ScreenCast) over D-Bus, with jeepney.

CreateSession, SelectSources, Start, OpenPipeWireRemote: each request's answer
comes as a ``Response`` signal on a request object whose path the caller can
predict (``.../request/SENDER/TOKEN``), so the match rule is added before the
call. Response 0 is success, 1 the user refused, 2 anything else that ended it.
"""

from __future__ import annotations

import secrets

import attrs
from jeepney import DBusAddress, MatchRule, message_bus, new_method_call
from jeepney.io.blocking import DBusConnection, Proxy, open_dbus_connection

PORTAL = DBusAddress("/org/freedesktop/portal/desktop", bus_name="org.freedesktop.portal.Desktop",
                     interface="org.freedesktop.portal.ScreenCast")
SOURCE_TYPES = {"monitor": 1, "window": 2}
CURSOR_MODES = {"hidden": 1, "embedded": 2, "metadata": 4}
PERSIST_UNTIL_REVOKED = 2
ANSWER_TIMEOUT = 120.0  # seconds: a person may be answering the permission dialog


class Refused(Exception):
    """The user (or the portal on their behalf) said no: Response 1 or 2."""


class Unavailable(Exception):
    """No session bus, no portal, or a portal without ScreenCast."""


@attrs.frozen
class Stream:
    node: int  # the PipeWire node to read
    size: tuple[int, int] | None
    restore_token: str  # "" when the portal gave none (persist_mode unsupported)


class ScreenCast:
    """One portal screen-cast session; ``close()`` ends it (so does this process exiting)."""

    def __init__(self):
        try:
            self.conn: DBusConnection = open_dbus_connection(bus="SESSION", enable_fds=True)
        except (KeyError, OSError, ValueError) as exc:
            raise Unavailable(f"no D-Bus session bus ({exc or type(exc).__name__})") from None
        self.bus = Proxy(message_bus, self.conn)
        self.sender = self.conn.unique_name[1:].replace(".", "_")
        self.session: str | None = None
        self.version = self._version()

    def _property(self, name: str) -> int:
        msg = new_method_call(PORTAL.with_interface("org.freedesktop.DBus.Properties"), "Get", "ss",
                              (PORTAL.interface, name))
        reply = self.conn.send_and_get_reply(msg, timeout=10)
        if reply.header.message_type.name == "error":
            raise Unavailable(f"the desktop portal has no ScreenCast ({reply.body[0] if reply.body else 'error'})")
        return int(reply.body[0][1])

    def _version(self) -> int:
        return self._property("version")

    def _check_offered(self, source: str, cursor: str) -> None:
        """A request the desktop cannot grant is a one-line error, not a dialog that fails."""
        types = self._property("AvailableSourceTypes")
        if not types & SOURCE_TYPES[source]:
            offered = [name for name, bit in SOURCE_TYPES.items() if types & bit]
            raise Unavailable(f"this desktop's portal cannot share a {source} (it offers: {', '.join(offered)})")
        modes = self._property("AvailableCursorModes")
        if not modes & CURSOR_MODES[cursor]:
            offered = [name for name, bit in CURSOR_MODES.items() if modes & bit]
            raise Unavailable(f"this desktop's portal cannot show the cursor as {cursor!r} "
                              f"(it offers: {', '.join(offered)})")

    def _request(self, method: str, signature: str, args: tuple, options: dict) -> dict:
        token = "recorder" + secrets.token_hex(6)
        path = f"/org/freedesktop/portal/desktop/request/{self.sender}/{token}"
        rule = MatchRule(type="signal", interface="org.freedesktop.portal.Request", member="Response", path=path)
        self.bus.AddMatch(rule)
        with self.conn.filter(rule) as answers:
            options = {**options, "handle_token": ("s", token)}
            reply = self.conn.send_and_get_reply(new_method_call(PORTAL, method, signature, (*args, options)),
                                                 timeout=10)
            if reply.header.message_type.name == "error":
                raise Unavailable(f"{method}: {reply.body[0] if reply.body else 'error'}")
            try:
                signal = self.conn.recv_until_filtered(answers, timeout=ANSWER_TIMEOUT)
            except TimeoutError:
                raise Refused(f"{method} was not answered within {ANSWER_TIMEOUT:.0f} s") from None
        self.bus.RemoveMatch(rule)
        code, results = signal.body
        if code != 0:
            raise Refused(f"{method} answered {'cancelled by the user' if code == 1 else 'refused'} "
                          f"(response {code})")
        return {key: value for key, (_sig, value) in results.items()}

    def start(self, source: str, cursor: str, restore_token: str = "") -> Stream:
        self._check_offered(source, cursor)
        results = self._request("CreateSession", "a{sv}", (),
                                {"session_handle_token": ("s", "recorder" + secrets.token_hex(6))})
        self.session = results["session_handle"]
        select = {"types": ("u", SOURCE_TYPES[source]), "multiple": ("b", False),
                  "cursor_mode": ("u", CURSOR_MODES[cursor])}
        if self.version >= 4:
            select["persist_mode"] = ("u", PERSIST_UNTIL_REVOKED)
            if restore_token:
                select["restore_token"] = ("s", restore_token)
        self._request("SelectSources", "oa{sv}", (self.session,), select)
        started = self._request("Start", "osa{sv}", (self.session, ""), {})
        streams = started.get("streams") or []
        if not streams:
            raise Refused("Start gave no stream")
        node, props = streams[0]
        size = props.get("size")
        return Stream(node, tuple(size[1]) if size else None, started.get("restore_token", ""))

    def pipewire_fd(self) -> int:
        """A file descriptor on the PipeWire remote that can see this session's stream (ours to close)."""
        msg = new_method_call(PORTAL, "OpenPipeWireRemote", "oa{sv}", (self.session, {}))
        reply = self.conn.send_and_get_reply(msg, timeout=10)
        if reply.header.message_type.name == "error":
            raise Unavailable(f"OpenPipeWireRemote: {reply.body[0] if reply.body else 'error'}")
        return reply.body[0].to_raw_fd()

    def closed_rule(self) -> MatchRule:
        return MatchRule(type="signal", interface="org.freedesktop.portal.Session", member="Closed",
                         path=self.session)

    def close(self) -> None:
        try:
            if self.session:
                address = DBusAddress(self.session, bus_name=PORTAL.bus_name,
                                      interface="org.freedesktop.portal.Session")
                self.conn.send(new_method_call(address, "Close"))
        except OSError:
            pass  # the bus is gone: so is the session
        finally:
            self.session = None
            self.conn.close()
