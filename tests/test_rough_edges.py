"""Rough edges a new user meets (issue 30): a bad enum value in the config (item 6), the
remembered save location (item 11), a webhook that redirects (item 17), a library's raw
warning on stderr (item 23)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pexpect

EXAMPLE = Path(__file__).parent.parent / "examples" / "recorder.toml"
PROMPT = r"Save the recording to which folder\? \(Ctrl-C to decide later\) \[(.*)\]: "
CUSTOMER = ("--profile", "customer", "--config", str(EXAMPLE), "--source", "synthetic", "--duration", "1")


def saved_folder(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1])


# -- item 6: a bad enum value ---------------------------------------------------------------

def test_a_bad_choice_in_the_config_is_one_line_naming_file_profile_key_and_the_choices(run_cli, tmp_path):
    config = tmp_path / "recorder.toml"
    config.write_text('[profiles.rep.h264]\npreset = "fast-ish"\n', encoding="utf-8")
    for args in (["config"], ["--source", "synthetic", "--duration", "1"]):
        result = run_cli("--profile", "rep", "--config", str(config), *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        line = result.stderr
        assert "Attribute(" not in line and "validator" not in line, line
        for part in (str(config), "profile 'rep'", "preset", "'fast-ish'",
                     "ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow"):
            assert part in line, (part, line)


# -- item 11: what is remembered, and what is said --------------------------------------------

def test_with_nothing_remembered_the_default_location_is_named_as_the_default(run_cli, home):
    result = run_cli(*CUSTOMER, check=0)
    documents = home / "Documents" / "SessionRecordings"
    assert saved_folder(result.stdout).parent == documents
    assert "remembered location" not in result.stderr, result.stderr
    assert f"no one to ask where to save; saving to the default location {documents}" in result.stderr
    events = json.loads((saved_folder(result.stdout) / "session.json").read_text(encoding="utf-8"))["events"]
    assert events[-1]["kind"] == "saved" and events[-1]["text"].endswith("(default)")


def test_a_folder_used_once_with_save_or_save_to_is_not_where_unattended_runs_go(spawn_cli, run_cli, home,
                                                                                  tmp_path):
    """Only an answer given at the prompt is remembered: ``recorder save ID DIR`` and
    ``--save-to DIR`` choose for one session."""
    child = spawn_cli(*CUSTOMER)
    child.expect(PROMPT)
    child.send("\x04")  # the user gives up: the session stays in staging
    child.expect(pexpect.EOF)
    child.close()
    [row] = json.loads(run_cli("list", "--json", check=0).stdout)
    once = tmp_path / "once"
    run_cli("save", row["id"][:8], str(once), check=0)
    run_cli(*CUSTOMER, "--save-to", str(tmp_path / "just-this-one"), check=0)
    unattended = run_cli(*CUSTOMER, check=0)
    assert saved_folder(unattended.stdout).parent == home / "Documents" / "SessionRecordings", unattended.stderr

    chosen = tmp_path / "chosen"
    child = spawn_cli(*CUSTOMER)
    child.expect(PROMPT)
    child.sendline(str(chosen))
    child.expect(pexpect.EOF)
    child.close()
    unattended = run_cli(*CUSTOMER, check=0)
    assert saved_folder(unattended.stdout).parent == chosen
    assert f"saving to the remembered location {chosen}" in unattended.stderr


# -- item 17: a webhook that redirects ------------------------------------------------------------

class Http:
    """A real local HTTP server answering every request with ``status`` (and ``location``)."""

    def __init__(self, status: int = 200, location: str = ""):
        self.requests: list[dict] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                served.requests.append({"method": self.command, "path": self.path,
                                        "authorization": self.headers.get("Authorization")})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_webhook_redirected_to_another_port_keeps_its_token_and_the_failure_is_recorded(run_cli, tmp_path):
    elsewhere = Http(200)
    try:
        for status in (301, 302, 303, 307, 308):
            redirector = Http(status, f"{elsewhere.url}/steal/s3cr3t-path")
            config = tmp_path / "hook.toml"
            config.write_text(f"""
[profiles.rep]
notifiers = ["webhook"]
[profiles.rep.webhook]
url = "{redirector.url}/chat"
token_env = "CHAT_TOKEN"
retries = 1
backoff = 0.1
""", encoding="utf-8")
            result = run_cli("--profile", "rep", "--config", str(config), "--source", "synthetic",
                             "--duration", "1", env={"CHAT_TOKEN": "t0ken-s3cret"}, check=0)
            redirector.close()
            assert redirector.requests and redirector.requests[0]["authorization"] == "Bearer t0ken-s3cret"
            assert elsewhere.requests == [], (status, elsewhere.requests)
            folder = saved_folder(result.stdout)
            text = (folder / "session.json").read_text(encoding="utf-8")
            manifest = json.loads(text)
            failures = [e for e in manifest["events"] if e["kind"] == "notifier-failure"]
            assert failures, (status, [e["kind"] for e in manifest["events"]])
            assert f"HTTP {status}" in failures[0]["text"] and "redirect" in failures[0]["text"], failures
            assert "s3cr3t" not in text + result.stderr and "t0ken" not in text + result.stderr
    finally:
        elsewhere.close()


# -- item 23: a library's warning -----------------------------------------------------------------

def test_xdg_runtime_dir_pointing_at_a_file_brings_no_library_warning(run_cli, home, tmp_path):
    not_a_folder = tmp_path / "runtime-file"
    not_a_folder.write_text("", encoding="utf-8")
    env = {"XDG_RUNTIME_DIR": str(not_a_folder)}
    status = run_cli("status", env=env)
    assert status.returncode == 2 and status.stderr == "recorder: error: no recorder is running\n", status.stderr
    recorded = run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1", env=env, check=0)
    assert "Warning" not in recorded.stderr and ".py" not in recorded.stderr, recorded.stderr


def test_with_an_unusable_xdg_runtime_dir_the_lock_is_kept_in_recorders_state_folder(run_cli, home, tmp_path):
    """As without the variable: not platformdirs' fallback in /tmp, shared by every HOME of the user."""
    not_a_folder = tmp_path / "runtime-file"
    not_a_folder.write_text("", encoding="utf-8")
    run_cli("--profile", "rep", "--source", "synthetic", "--duration", "1",
            env={"XDG_RUNTIME_DIR": str(not_a_folder)}, check=0)
    assert (home / ".local" / "state" / "recorder" / "run" / "rep.lock").exists()


def test_a_library_warning_is_one_line_of_recorders_own(capsys):
    """What ``warnings.showwarning`` is set to (cli/main.py): no source file, no line of code."""
    from recorder.console import library_warning

    library_warning(UserWarning("a library\nsays this"), UserWarning, "/site-packages/lib/api.py", 441)
    assert capsys.readouterr().err == "recorder: warning: a library says this\n"
