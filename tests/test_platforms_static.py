"""Static check of core/ and plugins/ as Windows and macOS see them: mypy with
``--platform win32`` and ``--platform darwin`` must find no module attribute that
those systems lack (os.posix_fallocate, signal.SIGKILL, socket.AF_UNIX, fcntl,
os.getuid...) outside a branch that checks ``sys.platform`` first. Other typing
findings are not this test's business and are left out."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# "Module has no attribute": an attribute of a module (os, signal, socket, ctypes, fcntl)
# that the platform's stubs do not have. Optional/None noise is another code's business.
PLATFORM_ERROR = re.compile(r"error: Module has no attribute .*\[attr-defined\]|error: .*\[(import-not-found|name-defined)\].*(fcntl|termios|pwd|grp|msvcrt|winreg)")


# Linux-only by design, never chosen elsewhere: the portal source speaks xdg-desktop-portal and
# PipeWire, which exist only on Linux desktops (Wayland: see docs/wayland.md).
LINUX_ONLY = ("recorder/plugins/portal/",)


def _package(tmp: Path) -> Path:
    """The package as installed (``recorder`` = core/, ``recorder.plugins`` = plugins/), as links."""
    package = tmp / "recorder"
    package.mkdir(parents=True)
    for entry in (ROOT / "core").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "plugins").symlink_to(ROOT / "plugins")
    return tmp


@pytest.mark.parametrize("system", ["win32", "darwin"])
def test_no_attribute_the_platform_lacks(system, tmp_path):
    tree = _package(tmp_path / "src")
    result = subprocess.run([sys.executable, "-m", "mypy", "--platform", system, "--python-version", "3.11",
                             "--ignore-missing-imports", "--follow-imports=silent", "--show-error-codes",
                             "--no-error-summary", "--cache-dir", str(tmp_path / "cache"), "-p", "recorder"],
                            cwd=tree, env={"MYPYPATH": str(tree), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert "Can't find package" not in result.stdout + result.stderr, result.stdout + result.stderr
    found = [line for line in result.stdout.splitlines()
             if PLATFORM_ERROR.search(line) and not line.startswith(LINUX_ONLY)]
    assert found == [], "\n".join(found)


def test_the_check_finds_what_it_looks_for(tmp_path):
    """Not a test that cannot fail: the old disk-space guard's call is found under win32."""
    tree = tmp_path / "src"
    (tree / "probe").mkdir(parents=True)
    (tree / "probe" / "__init__.py").write_text("import os\n\ndef reserve(fd: int) -> None:\n"
                                                "    os.posix_fallocate(fd, 0, 8)\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mypy", "--platform", "win32", "--show-error-codes",
                             "--no-error-summary", "--cache-dir", str(tmp_path / "cache"), "-p", "probe"],
                            cwd=tree, env={"MYPYPATH": str(tree), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert [line for line in result.stdout.splitlines() if PLATFORM_ERROR.search(line)] != []
