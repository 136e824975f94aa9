"""Guard ``logind``: systemd-logind's ``PrepareForShutdown`` signal over D-Bus.

While recording it holds a *delay* inhibitor lock, so that logind waits (up to
its ``InhibitDelayMaxSec``) while the part is sealed; the lock is released
once sealing is done. Without a system bus (a container, a non-systemd
machine) it says so once at debug level and does nothing.
"""

from __future__ import annotations

import logging
import os
import threading

import attrs
from recorder import hookimpl, option

log = logging.getLogger("recorder.logind")
LOGIN1 = dict(object_path="/org/freedesktop/login1", bus_name="org.freedesktop.login1",
              interface="org.freedesktop.login1.Manager")


@attrs.frozen
class LogindOptions:
    bus: str = option("system", "D-Bus bus to listen on: system (logind's) or session (for testing).",
                      validator=attrs.validators.in_(("system", "session")))


class LogindGuard:
    def __init__(self, options: LogindOptions):
        self.options = options
        self.connection = None
        self.inhibitor: int | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, session) -> None:
        try:
            from jeepney import DBusAddress, MatchRule, message_bus, new_method_call
            from jeepney.io.blocking import open_dbus_connection
        except ImportError as exc:
            log.debug("logind: jeepney is not available (%s)", exc)
            return
        try:
            self.connection = open_dbus_connection(bus=self.options.bus.upper(), enable_fds=True)
        except (OSError, KeyError, ValueError) as exc:
            log.debug("logind: no %s bus (%s); shutdown is still detected through signals",
                      self.options.bus, exc)
            return
        self.rule = MatchRule(type="signal", interface=LOGIN1["interface"], member="PrepareForShutdown",
                              path=LOGIN1["object_path"])
        self.connection.send_and_get_reply(message_bus.AddMatch(self.rule))
        address = DBusAddress(LOGIN1["object_path"], bus_name=LOGIN1["bus_name"], interface=LOGIN1["interface"])
        try:
            reply = self.connection.send_and_get_reply(
                new_method_call(address, "Inhibit", "ssss",
                                ("shutdown", "recorder", "Sealing the session recording", "delay")), timeout=2)
            if reply.header.message_type.name == "method_return":
                self.inhibitor = reply.body[0].to_raw_fd()
            else:
                log.debug("logind: no delay inhibitor lock: %s", reply.body)
        except Exception as exc:  # noqa: BLE001 - best effort: listening still works
            log.debug("logind: no delay inhibitor lock: %s", exc)
        self.session = session
        self.thread = threading.Thread(target=self._listen, name="recorder-logind", daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        with self.connection.filter(self.rule) as messages:
            while not self.stopping.is_set():
                try:
                    message = self.connection.recv_until_filtered(messages, timeout=0.25)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if message.body and message.body[0] is True:
                    self.session.notify("warning", "The recording is paused: the machine is shutting down "
                                                   "or restarting. It continues in a new part when the "
                                                   "session resumes.", by="logind")
                    self.session.request_end("interrupted", by="logind", text="PrepareForShutdown")
                    return

    def stop(self) -> None:
        # After sealing: only now may logind go ahead with the shutdown.
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(2)
        if self.inhibitor is not None:
            os.close(self.inhibitor)
            self.inhibitor = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@hookimpl
def recorder_register_guards(register):
    register("logind", LogindGuard, options=LogindOptions,
             description="systemd-logind PrepareForShutdown: seal and mark the session interrupted")
