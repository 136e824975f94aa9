"""Storage rules made for Windows, tested on Linux where Linux can show them (the same
behaviours run under Wine in tests/windows/test_storage.py): one folder level per app
in every platformdirs path, UTF-8 on pipes whatever the code page, the disk guard's
write rate from the parts' bytes, and retention that deletes a session whole or not
at all while another program holds one of its files."""

from __future__ import annotations

import ast
import importlib
import io
import os
import types
from pathlib import Path

import platformdirs
import platformdirs.windows
import pytest
from recorder.store import saving
from recorder.store import verify as verifying
from recorder.disk.files import make_private_dir
from recorder.store.saving import delete_session_folder
from recorder.testing import record
from recorder.plugins.disk_space_guard import RESERVE, DiskSpaceGuard, DiskSpaceOptions
from recorder.session.model import Part

import foreign_os

cli_main = importlib.import_module("recorder.cli.main")  # (recorder.cli.main is also a function)

ROOT = Path(__file__).resolve().parents[1]


# -- platformdirs: C:\ProgramData\recorder, not C:\ProgramData\recorder\recorder ---------

def _platformdirs_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted([*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "platformdirs":
                calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return calls


def test_every_platformdirs_path_names_the_app_once():
    """On Windows platformdirs puts an author folder above the app's, defaulting to the
    app's name: without appauthor=False, C:\\ProgramData\\recorder\\recorder\\recorder.toml."""
    calls = _platformdirs_calls()
    assert len(calls) >= 8  # site and user config, state, data, cache, runtime, staging...
    missing = [where for where, call in calls if call.func.attr != "user_documents_dir" and not any(
        k.arg == "appauthor" and isinstance(k.value, ast.Constant) and k.value.value is False
        for k in call.keywords)]
    assert missing == []


def test_platformdirs_windows_folders_with_no_author(monkeypatch):
    known = {"CSIDL_COMMON_APPDATA": "C:\\ProgramData", "CSIDL_LOCAL_APPDATA": "C:\\Users\\u\\AppData\\Local",
             "CSIDL_APPDATA": "C:\\Users\\u\\AppData\\Roaming"}
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", known.__getitem__)
    dirs = platformdirs.windows.Windows("recorder", appauthor=False)
    windows = lambda path: path.replace("/", "\\")  # noqa: E731 - os.path.join is posixpath here
    assert windows(dirs.site_config_dir) == "C:\\ProgramData\\recorder"
    assert windows(dirs.user_data_dir) == windows(dirs.user_state_dir) == "C:\\Users\\u\\AppData\\Local\\recorder"
    assert windows(dirs.user_runtime_dir) == "C:\\Users\\u\\AppData\\Local\\Temp\\recorder"
    # what recorder got before: the app's name twice
    assert windows(platformdirs.windows.Windows("recorder").site_config_dir) == "C:\\ProgramData\\recorder\\recorder"


def test_linux_paths_are_unchanged_by_the_author(monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/u/.config")
    assert platformdirs.user_config_path("recorder", appauthor=False) == Path("/home/u/.config/recorder")
    assert platformdirs.user_config_path("recorder", appauthor=False) == platformdirs.user_config_path("recorder")


# -- what recorder prints to a pipe is UTF-8 on Windows ----------------------------------

class Stream(io.TextIOWrapper):
    def __init__(self, encoding: str, tty: bool):
        super().__init__(io.BytesIO(), encoding=encoding, errors="strict")
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_a_pipe_gets_utf8_on_windows_whatever_the_code_page(monkeypatch):
    pipe, console = Stream("cp1252", tty=False), Stream("cp1252", tty=True)
    with pytest.raises(UnicodeEncodeError):  # what click.echo met before
        pipe.write("Łódź 東京")
    monkeypatch.setattr(cli_main, "sys", types.SimpleNamespace(platform="win32", stdout=pipe, stderr=console))
    cli_main.utf8_output()
    pipe.write("customer=Zoë city=Łódź 東京\ud800\n")  # a lone surrogate (a broken file name) is escaped
    pipe.flush()
    assert pipe.buffer.getvalue().decode("utf-8") == "customer=Zoë city=Łódź 東京\\ud800\n"
    assert console.encoding == "cp1252"  # the console keeps its own (Python writes it as UTF-16)


def test_linux_streams_are_left_as_they_are(monkeypatch):
    pipe = Stream("latin-1", tty=False)
    monkeypatch.setattr(cli_main, "sys", types.SimpleNamespace(platform="linux", stdout=pipe, stderr=pipe))
    cli_main.utf8_output()
    assert pipe.encoding == "latin-1"


# -- the disk guard's write rate: the parts' bytes, not a folder listing ---------------------

def test_the_write_rate_counts_the_parts_bytes_only(tmp_path, monkeypatch):
    (tmp_path / "part-001.mp4").write_bytes(bytes(1000))
    (tmp_path / "part-002.mp4.partial").write_bytes(bytes(300))
    (tmp_path / RESERVE).write_bytes(bytes(4000))
    (tmp_path / "copied-in-by-the-user.mkv").write_bytes(bytes(50_000))  # not recorder's writing
    parts = [Part(1, "part-001.mp4", 0.0, state="sealed", size=1000), Part(2, "part-002.mp4", 3.0)]
    guard = DiskSpaceGuard(DiskSpaceOptions())
    guard.session = types.SimpleNamespace(folder=tmp_path, parts=parts)
    assert guard.written() == 1300
    # NTFS: a folder listing says 0 bytes for a file still open for writing; the guard does
    # not read sizes from a listing, so the part being written keeps counting.
    monkeypatch.setattr(os, "scandir", lambda *a: pytest.fail("the guard read a folder listing"))
    with open(tmp_path / "part-002.mp4.partial", "ab") as part:
        part.write(bytes(700))
    assert guard.written() == 2000


# -- retention: a session in use is skipped whole ----------------------------------------------

def _saved_session(root: Path) -> Path:
    folder = root / "2026-01-01_10-00-00_rep_abcdef12"
    folder.mkdir(parents=True)
    for name in ("part-001.mp4", "part-002.mp4", "session.json"):
        (folder / name).write_bytes(name.encode())
    return folder


def test_retention_skips_a_session_whose_file_another_program_holds(monkeypatch, tmp_path):
    foreign_os.windows(monkeypatch)
    folder = _saved_session(tmp_path / "recordings")
    with open(folder / "part-002.mp4", "rb"):  # an antivirus scanning it
        why = delete_session_folder(folder)
    assert why and "in use" in why
    assert sorted(p.name for p in folder.iterdir()) == ["part-001.mp4", "part-002.mp4", "session.json"]
    assert delete_session_folder(folder) is None  # closed: deleted at the next start
    assert list(folder.parent.iterdir()) == []


def test_retention_deletes_the_manifest_last_and_gives_the_folder_back(monkeypatch, tmp_path):
    """A file opened between its rename and its deletion: the session keeps its name and
    its manifest (deleted last), and what is left of it is deleted at a later start."""
    folder = _saved_session(tmp_path / "recordings")
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if Path(path).name == "part-002.mp4.deleting":
            raise PermissionError(13, "in use", str(path))
        return real_unlink(path, *args, **kwargs)
    monkeypatch.setattr(saving.os, "unlink", unlink)
    why = delete_session_folder(folder)
    assert why == "part-002.mp4 is in use (in use)"
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    assert sorted(p.name for p in folder.iterdir()) == ["part-002.mp4", "session.json"]



def test_a_save_whose_original_is_in_use_is_undone(monkeypatch, host, tmp_settings, tmp_path):
    """Across drives the session is copied, verified, then the original deleted; when the
    original cannot be deleted (Windows, a file of it open), the copy goes instead: the
    recording is never left in two places, one of them unknown to recorder."""
    session = record(host, tmp_settings, 1.0)
    foreign_os.windows(monkeypatch)
    target = tmp_path / "other-drive" / session.folder.name
    make_private_dir(target.parent)
    with open(session.folder / "session.json", "rb"):
        with pytest.raises(saving.SaveError, match=r"in use .*; it is still in "):
            saving._copy_verify_delete(session.folder, target)
    assert list(target.parent.iterdir()) == []
    assert verifying.verify(session.folder)[1] == []
    assert saving._copy_verify_delete(session.folder, target) == target  # closed: it goes through
    assert not session.folder.exists() and verifying.verify(target)[1] == []
