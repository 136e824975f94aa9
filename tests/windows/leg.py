"""The Windows leg: recorder's Windows bundle unpacked into a fresh Wine prefix, and
the Windows test suite (tests/windows/test_*.py) run by the bundle's own CPython
(python.org's embeddable 3.11, win_amd64 wheels) under Wine, on an Xvfb screen.

Run from the Linux side, after .ci/windows-setup (Wine, MinGW) and with the
project's virtualenv (which builds the bundle):

    .venv/bin/python tests/windows/leg.py [--bundle ZIP] [pytest arguments]

Without --bundle, a bundle is built from the working tree first (about 30 s), so
that what is tested is what is checked out; CI builds it once into dist/ and passes
it, so that the tests run from the bundle it ships. pytest for
the Windows interpreter is installed beside it, never into the bundle. Wine gaps
(Wine 8 is not Windows) are named in docs/platforms.md; the one filled here:
bcryptprimitives.dll (see wine/bcryptprimitives.c), put in the prefix's system32.
Exits with pytest's status.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "packaging" / "windows"))
import build_bundle  # noqa: E402

# numpy: decoded frames as arrays, in the tests only. numpy 2 calls ucrtbase's crealf,
# which Wine 8 does not implement (the import aborts): a Wine gap, docs/platforms.md.
TEST_REQUIREMENTS = ["pytest>=8", "numpy>=1.24,<2"]
NEEDED = ["wine", "wineboot", "wineserver", "Xvfb", "x86_64-w64-mingw32-gcc"]


def fail(message: str) -> None:
    print(f"windows leg: {message}", file=sys.stderr)
    sys.exit(2)




def start_xvfb() -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        fail("Xvfb did not start")
    return proc, f":{number}"


def windows_path(path: Path) -> str:
    """A Linux path as Wine's Windows processes name it (Z: is the root)."""
    return "Z:" + str(path).replace("/", "\\")


def main(argv: list[str]) -> int:
    missing = [p for p in NEEDED if shutil.which(p) is None]
    if missing:
        fail(f"missing {', '.join(missing)}: run .ci/windows-setup as root")
    work = Path(tempfile.mkdtemp(prefix="recorder-wine-"))
    if argv[:1] == ["--bundle"]:
        zip_path, argv = Path(argv[1]).resolve(), argv[2:]
    else:
        zip_path = build_bundle.build(work / "dist", [], [])
    xvfb, display = start_xvfb()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WINE", "RECORDER_", "XDG_"))},
           "WINEPREFIX": str(work / "prefix"), "WINEARCH": "win64", "WINEDEBUG": "-all",
           # no Mono or Gecko installer dialogs: recorder needs neither
           # and no debugger waiting on a crash for a user to answer: the crash is the test's failure
           "WINEDLLOVERRIDES": "mscoree,mshtml=;winedbg.exe=d", "DISPLAY": display}
    try:
        subprocess.run(["wineboot", "-i"], env=env, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        drive_c = work / "prefix" / "drive_c"
        subprocess.run(["x86_64-w64-mingw32-gcc", "-O2", "-shared", "-Wl,--kill-at", "-o",
                        str(drive_c / "windows" / "system32" / "bcryptprimitives.dll"),
                        str(HERE / "wine" / "bcryptprimitives.c"), "-lbcrypt"], check=True)
        _map_drives(work, env)
        _own_user_folders(work / "prefix")
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(drive_c)
        [unpacked] = [p for p in drive_c.iterdir() if p.name.startswith("recorder-")]
        unpacked.rename(drive_c / "recorder")
        test_site = work / "test-site"
        build_bundle.install_wheels(build_bundle.windows_closure(
            [build_bundle.fetch_wheel(r, _wheels(work)) for r in TEST_REQUIREMENTS], _wheels(work), []), test_site)
        env.update(RECORDER_WINDOWS_TEST_SITE=windows_path(test_site), RECORDER_WINDOWS_BUNDLE=r"C:\recorder",
                   WINEPATH=r"C:\recorder")
        # Wine 8 gives a Windows process whose stdout is a regular file an invalid handle:
        # the output goes through a pipe.
        # Test files or folders named on the command line (Linux paths) are run alone.
        paths = [windows_path(Path(a.partition("::")[0]).resolve()) + "".join(a.partition("::")[1:])
                 for a in argv if Path(a.split("::")[0]).exists()]
        options = [a for a in argv if not Path(a.split("::")[0]).exists()]
        run = subprocess.Popen(["wine", r"C:\recorder\python\python.exe", "-X", "utf8",
                                windows_path(HERE / "run_pytest.py"), *(paths or [windows_path(HERE)]),
                                "-p", "no:cacheprovider", "-ra", *options],
                               env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=work)
        # The output is copied on a thread: a Windows process a test left running (or
        # explorer.exe) holds the pipe open after pytest ends, so its end is the exit of
        # pytest's interpreter, not the pipe's end of file.
        copier = threading.Thread(target=_copy, args=(run.stdout,), daemon=True)
        copier.start()
        code = run.wait()
        subprocess.run(["wineserver", "-k"], env=env, stdin=subprocess.DEVNULL, check=False)
        copier.join(30)
        return code
    finally:
        subprocess.run(["wineserver", "-k"], env=env, stdin=subprocess.DEVNULL, check=False)
        for point in DRIVES:
            subprocess.run(["umount", "-l", str(work / "drives" / point)], capture_output=True, check=False)
        xvfb.send_signal(signal.SIGTERM)
        xvfb.wait(10)
        shutil.rmtree(work, ignore_errors=True)


# Drives of their own filesystem for the storage tests (tests/windows/test_storage.py):
# D: for saving across drives (a move there is a copy, not a rename), T: small enough for
# the disk-space guard to see it fill. Each a tmpfs (leg.py runs as root, as in CI), mapped
# by the prefix's dosdevices link; the tests learn their letters from the environment.
DRIVES = {"d": "256m", "t": "48m"}


def _map_drives(work: Path, env: dict[str, str]) -> None:
    for letter, size in DRIVES.items():
        point = work / "drives" / letter
        point.mkdir(parents=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
                                 capture_output=True, text=True, encoding="utf-8")
        if mounted.returncode != 0:
            fail(f"cannot mount a tmpfs for drive {letter.upper()}: (run as root, as CI does): "
                 f"{mounted.stderr.strip()}")
        link = work / "prefix" / "dosdevices" / f"{letter}:"
        link.unlink(missing_ok=True)  # wineboot may have mapped a drive there
        link.symlink_to(point)
    env.update(RECORDER_WINDOWS_OTHER_DRIVE="D:", RECORDER_WINDOWS_SMALL_DRIVE="T:")


def _own_user_folders(prefix: Path) -> None:
    """wineboot links the user's Documents, Desktop... to the Linux home: every prefix
    (each leg running at the same time, and the home itself) would share one
    Documents\\SessionRecordings, which each test empties. Real folders instead."""
    for user in (prefix / "drive_c" / "users").iterdir():
        for entry in user.iterdir():
            if entry.is_symlink():
                entry.unlink()
                entry.mkdir()


def _copy(stream) -> None:
    for line in stream:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def _wheels(work: Path) -> Path:
    (work / "wheels").mkdir(exist_ok=True)
    return work / "wheels"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
