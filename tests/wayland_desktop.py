"""A real headless Wayland desktop for the portal tests: sway, a private session bus,
PipeWire, WirePlumber, xdg-desktop-portal and the xdg-desktop-portal-wlr that
.ci/wayland-setup builds (Debian 12's refuses a compositor without dmabuf).

sway refuses to run as root, so it runs as an unprivileged user (``recorder-wl``,
created here when missing) with its own 0700 runtime dir; the portal stack runs
as the test's user with another 0700 runtime dir, and reaches sway's socket by
its absolute path. Every process is started here and stopped by its id.
A missing piece fails the test with a line saying what to install, never skips.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

USER = "recorder-wl"
XDPW = "/usr/local/libexec/xdg-desktop-portal-wlr-shm"  # built by .ci/wayland-setup
PORTAL = "/usr/libexec/xdg-desktop-portal"
PERMISSION_STORE = "/usr/libexec/xdg-permission-store"  # where the portal keeps what a restore token restores
PROGRAMS = ["sway", "swaymsg", "grim", "foot", "dbus-daemon", "pipewire", "wireplumber", "gst-launch-1.0"]
# xdg-desktop-portal finds its backends through .portal files; Debian's package of the
# backend installs one in /usr/share, the rebuilt backend installs none, so the desktop
# gives the portal a folder of its own (XDG_DESKTOP_PORTAL_DIR) holding this one.
WLR_PORTAL = """[portal]
DBusName=org.freedesktop.impl.portal.desktop.wlr
Interfaces=org.freedesktop.impl.portal.Screenshot;org.freedesktop.impl.portal.ScreenCast;
UseIn=wlroots;sway;
"""
SETUP = "run .ci/wayland-setup as root (it installs the Wayland stack and builds the patched portal backend)"
WIDTH, HEIGHT = 1280, 720

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

SWAY_CONFIG = f"""output HEADLESS-1 resolution {WIDTH}x{HEIGHT} position 0 0 bg #202020 solid_color
default_border none
default_floating_border none
focus_follows_mouse no
for_window [app_id="recorder-mover"] floating enable, resize set 240 160, move position 0 0
"""


def missing_parts() -> list[str]:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    missing += [p for p in (PORTAL, PERMISSION_STORE, XDPW) if not os.access(p, os.X_OK)]
    return missing


def ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    if os.geteuid() != 0:
        pytest.fail(f"the Wayland tests need the user {USER} (sway refuses root): {SETUP}")
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
    return pwd.getpwnam(USER)


class WaylandDesktop:
    """Start with ``start()``, stop with ``stop()``; ``env`` is what a client of it needs."""

    def __init__(self, chooser: str = "none", xwayland: bool = False):
        # "none": the portal shares HEADLESS-1 without asking; otherwise a shell command
        # that answers the portal's question as a person would (prints the output's name)
        self.chooser = chooser
        self.xwayland = xwayland  # off unless asked: it would take an X display number from the X tests
        self.procs: dict[str, subprocess.Popen] = {}
        self.base = Path(tempfile.mkdtemp(prefix="recorder-wayland-"))
        os.chmod(self.base, 0o711)  # the compositor's user reaches its own folder below
        self.wl_dir = self.base / "wl"  # sway's runtime dir, its user's, 0700
        self.rt_dir = self.base / "rt"  # the portal stack's runtime dir, 0700
        self.logs = self.base / "logs"

    # -- environment ---------------------------------------------------------
    @property
    def wayland_socket(self) -> Path:
        return self.wl_dir / "wayland-1"

    @property
    def swaysock(self) -> Path:
        return self.wl_dir / "sway-ipc.sock"

    @property
    def bus(self) -> str:
        return f"unix:path={self.rt_dir / 'bus'}"

    @property
    def env(self) -> dict[str, str]:
        """For a client on the portal side (the recorder): the bus, the runtime dir, the display."""
        return {"WAYLAND_DISPLAY": str(self.wayland_socket), "DBUS_SESSION_BUS_ADDRESS": self.bus,
                "XDG_RUNTIME_DIR": str(self.rt_dir), "XDG_SESSION_TYPE": "wayland",
                "XDG_CURRENT_DESKTOP": "sway"}

    def _base_env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL")
        return {k: v for k, v in os.environ.items() if k in keep}

    def _user_env(self) -> dict[str, str]:
        return {**self._base_env(), "HOME": str(self.wl_dir), "XDG_RUNTIME_DIR": str(self.wl_dir),
                "WAYLAND_DISPLAY": "wayland-1", "SWAYSOCK": str(self.swaysock)}

    # -- processes -----------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str], as_user: bool = False) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        extra = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if as_user else {}
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.base, start_new_session=True, **extra)
        log.close()
        self.procs[name] = proc
        return proc

    def _wait(self, what: str, ready, timeout: float = 15.0, proc: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if proc and self.procs[proc].poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        log = (self.logs / f"{proc}.log").read_text(encoding="utf-8", errors="replace")[-2000:] if proc else ""
        pytest.fail(f"the Wayland test desktop did not start: {what}\n{log}")

    def _owned(self, name: str) -> bool:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        try:
            with open_dbus_connection(self.bus) as conn:
                dbus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
                return bool(conn.send_and_get_reply(new_method_call(dbus, "NameHasOwner", "s", (name,))).body[0])
        except OSError:
            return False

    def start(self) -> "WaylandDesktop":
        missing = missing_parts()
        if missing:
            pytest.fail(f"the Wayland stack is missing {', '.join(missing)}: {SETUP}")
        self.user = ensure_user()
        for folder in (self.wl_dir, self.rt_dir, self.logs):
            folder.mkdir(mode=0o700)
        os.chown(self.wl_dir, self.user.pw_uid, self.user.pw_gid)
        (self.wl_dir / "sway.conf").write_text(SWAY_CONFIG + ("" if self.xwayland else "xwayland disable\n"), encoding="utf-8")
        sway_env = {**self._user_env(), "WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1",
                    "WLR_RENDERER": "pixman", "XDG_CURRENT_DESKTOP": "sway"}
        sway_env.pop("WAYLAND_DISPLAY")
        self._spawn("sway", ["sway", "-c", str(self.wl_dir / "sway.conf")], sway_env, as_user=True)
        self._wait("sway's socket", lambda: self.wayland_socket.exists() and self.swaysock.exists(), proc="sway")

        bus_config = self.rt_dir / "bus.conf"
        bus_config.write_text(BUS_CONFIG.format(path=self.rt_dir / "bus"), encoding="utf-8")
        self._spawn("dbus", ["dbus-daemon", "--nofork", f"--config-file={bus_config}"], self._base_env())
        self._wait("the session bus", lambda: (self.rt_dir / "bus").exists(), proc="dbus")

        stack_env = {**self._base_env(), **self.env, "HOME": str(self.rt_dir)}
        self._spawn("pipewire", ["pipewire"], stack_env)
        self._wait("PipeWire", lambda: (self.rt_dir / "pipewire-0").exists(), proc="pipewire")
        self._spawn("wireplumber", ["wireplumber"], stack_env)
        xdpw_config = self.rt_dir / "xdpw.conf"
        chooser = ("chooser_type=none" if self.chooser == "none"
                   else f"chooser_type=simple\nchooser_cmd={self.chooser}")
        xdpw_config.write_text(f"[screencast]\noutput_name=HEADLESS-1\nmax_fps=30\n{chooser}\n", encoding="utf-8")
        self._spawn("permission-store", [PERMISSION_STORE, "--replace"], stack_env)
        self._wait("the permission store", lambda: self._owned("org.freedesktop.impl.portal.PermissionStore"),
                   proc="permission-store")
        # A permission given through the chooser is kept until revoked (as a desktop's dialog does).
        self._spawn("xdpw", [XDPW, "-c", str(xdpw_config), "-l", "INFO"],
                    {**stack_env, "XDPW_PERSIST_MODE": "permanent"})
        self._wait("xdg-desktop-portal-wlr", lambda: self._owned("org.freedesktop.impl.portal.desktop.wlr"),
                   proc="xdpw")
        portals = self.rt_dir / "portals"
        portals.mkdir()
        (portals / "wlr.portal").write_text(WLR_PORTAL, encoding="utf-8")
        self._spawn("portal", [PORTAL, "--replace"], {**stack_env, "XDG_DESKTOP_PORTAL_DIR": str(portals)})
        self._wait("xdg-desktop-portal", lambda: self._owned("org.freedesktop.portal.Desktop"), proc="portal")
        if "org.freedesktop.portal.ScreenCast" not in self._portal_interfaces():
            self.stop()
            pytest.fail(f"xdg-desktop-portal did not load {portals / 'wlr.portal'} (no ScreenCast interface): "
                        "does this xdg-desktop-portal read XDG_DESKTOP_PORTAL_DIR?")
        return self

    def _portal_interfaces(self) -> str:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        desktop = DBusAddress("/org/freedesktop/portal/desktop", "org.freedesktop.portal.Desktop",
                              "org.freedesktop.DBus.Introspectable")
        with open_dbus_connection(self.bus) as conn:
            return conn.send_and_get_reply(new_method_call(desktop, "Introspect")).body[0]

    # -- what runs on it -----------------------------------------------------
    def client(self, name: str, argv: list[str]) -> subprocess.Popen:
        """A Wayland client, as the desktop's user (as on a real desktop)."""
        return self._spawn(name, argv, self._user_env(), as_user=True)

    def swaymsg(self, *command: str) -> None:
        subprocess.run(["swaymsg", "-s", str(self.swaysock), *command], capture_output=True, timeout=10)

    def screenshot(self, path: Path) -> Path:
        subprocess.run(["grim", str(path)], env={**self._base_env(), "WAYLAND_DISPLAY": str(self.wayland_socket),
                                                 "XDG_RUNTIME_DIR": str(self.rt_dir)},
                       check=True, capture_output=True, timeout=20)
        return path

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, sig)
            proc.wait(10)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        self.procs.clear()
        shutil.rmtree(self.base, ignore_errors=True)


if __name__ == "__main__":  # bring a desktop up by hand: python tests/wayland_desktop.py
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    desktop = WaylandDesktop().start()
    print(" ".join(f"{k}={v}" for k, v in desktop.env.items()), flush=True)
    try:
        signal.pause()
    finally:
        desktop.stop()
