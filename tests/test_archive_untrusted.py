"""The archive against a bucket it must not trust, and a user it must not confuse (issue 30,
items 7, 15 and 18), with the real S3 server of the other archive tests (moto, on loopback).

Anyone who may write to the bucket (or any machine that uploads there) can put any object
anywhere in it: ``list --archive`` and a fetch must read what they find there as untrusted
input. A label is typed by a person or sent by a support tool: it must not decide where in
the bucket a session lands. And ``--debug`` output, pasted into a ticket, must not carry the
credentials that sign the requests it shows.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import cli_env, recorder_command
from test_archive import BUCKET, assert_archived, bucket, config, objects, recorder, s3  # noqa: F401 (fixtures)

NO_ARCHIVE = "no profile has an archive configured"


@pytest.fixture(scope="module")
def archived(s3, tmp_path_factory):  # noqa: F811
    """One real session, recorded and uploaded once: (its objects in the bucket, its manifest)."""
    home = tmp_path_factory.mktemp("recorded") / "home"
    home.mkdir()
    config(home, s3.endpoint)
    folder = Path(recorder(home, "--profile", "rep", "--source", "synthetic", "--duration", "2",
                           "--session-id", "A-1", "--label", "ticket=INC-9").stdout.strip())
    client = s3.client()
    prefix = assert_archived(client, folder)
    stored = {key: data for key, data in objects(client).items() if key.startswith(prefix + "/")}
    return stored, prefix, json.loads((folder / "session.json").read_text(encoding="utf-8"))


def plant(client, found: dict[str, bytes]) -> None:
    for key, data in found.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=data)


def listed(home: Path) -> list[dict]:
    return json.loads(recorder(home, "list", "--archive", "--json").stdout)


def cache_of(home: Path) -> Path:
    [found] = [path for path in (home / ".cache").rglob("found") if path.is_dir()]
    return found


# -- item 7: no archive is said the same way by every archive command


@pytest.mark.parametrize("args", [("list", "--archive"), ("list", "--archive", "--json"),
                                  ("archive", "--status"), ("archive", "--status", "--json")])
def test_without_an_archive_every_archive_command_says_so_and_exits_2(home, args):
    """Not "no sessions in the archive" (exit 0): a script could not tell an empty archive
    from none at all, and a user would look for sessions that were never uploaded."""
    result = recorder(home, *args, check=2)
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert NO_ARCHIVE in line and "docs/archive.md" in line, line


# -- item 15: the bucket is untrusted input


def test_a_deeply_nested_session_json_anywhere_breaks_neither_listing_nor_fetching(home, s3, bucket, archived):  # noqa: F811
    stored, prefix, manifest = archived
    plant(bucket, stored)
    plant(bucket, {"zzz/deep/session.json": b"[" * 200_000,
                   "zzz/deeper/session.json": b'{"session_id": "feed1234", "x": ' + b'{"a": ' * 100_000 + b"1"
                   + b"}" * 100_001})
    config(home, s3.endpoint)
    assert [row["id"] for row in listed(home)] == [manifest["session_id"]]
    verified = recorder(home, "verify", manifest["session_id"][:12])
    assert verified.stdout.strip().endswith("verified"), verified.stdout


def test_a_manifest_whose_parts_are_not_a_list_does_not_break_the_listing(home, s3, bucket, archived):  # noqa: F811
    stored, prefix, manifest = archived
    plant(bucket, stored)
    plant(bucket, {"zzz/five/session.json": json.dumps({"session_id": "cafe1234", "profile": "rep", "parts": 5,
                                                         "started_at": "2026-01-01T00:00:00"}).encode()})
    config(home, s3.endpoint)
    rows = {row["id"]: row for row in listed(home)}
    assert set(rows) == {"cafe1234", manifest["session_id"]} and rows["cafe1234"]["parts"] == 0
    assert "0 part(s)" in recorder(home, "list", "--archive").stdout


def test_only_the_files_the_manifest_names_are_fetched_into_the_cache(home, s3, bucket, archived):  # noqa: F811
    stored, prefix, manifest = archived
    plant(bucket, stored)
    plant(bucket, {f"{prefix}/evil.sh": b"#!/bin/sh\necho owned\n", f"{prefix}/%2e%2e%2fpct.txt": b"owned",
                   f"{prefix}/.hidden": b"owned", f"{prefix}/sub/x": b"owned"})
    config(home, s3.endpoint)
    verified = recorder(home, "verify", manifest["session_id"][:12])
    assert verified.stdout.strip().endswith("verified"), verified.stdout
    cache = cache_of(home)
    names = {str(path.relative_to(cache)) for path in cache.rglob("*")}
    sid = manifest["session_id"]
    assert names == {sid, f"{sid}.receipt.json", f"{sid}/session.json",
                     *(f"{sid}/{part['file']}" for part in manifest["parts"])}, sorted(names)
    assert not [path for path in home.rglob("*") if "owned" in path.name or path.name in ("evil.sh", "pct.txt")]


@pytest.mark.parametrize("name", ["..\\evil", "C:evil", ".hidden", "sub/x", "../x"])
def test_a_manifest_naming_a_file_outside_the_session_folder_is_not_fetched(home, s3, bucket, archived, name):  # noqa: F811
    stored, prefix, manifest = archived
    plant(bucket, stored)
    changed = {**manifest, "parts": [{**manifest["parts"][0], "file": name}, *manifest["parts"][1:]]}
    plant(bucket, {f"{prefix}/session.json": json.dumps(changed).encode(), f"{prefix}/{name}": b"owned"})
    config(home, s3.endpoint)
    refused = recorder(home, "verify", manifest["session_id"][:12], check=2)
    assert "refused" in refused.stderr and "not a plain file name" in refused.stderr, refused.stderr
    assert not [path for path in home.rglob("*") if path.is_file() and path.read_bytes() == b"owned"]
    assert not list(cache_of(home).rglob("*")), "nothing of the session was fetched"


def test_an_object_larger_than_its_manifest_says_is_refused_and_no_object_is_read_whole(
        home, s3, bucket, archived, monkeypatch):  # noqa: F811
    stored, prefix, manifest = archived
    plant(bucket, stored)
    first = manifest["parts"][0]
    plant(bucket, {f"{prefix}/{first['file']}": stored[f"{prefix}/{first['file']}"] + b"\0" * (3 * 2**20)})
    config(home, s3.endpoint)
    refused = recorder(home, "verify", manifest["session_id"][:12], check=2)  # found nowhere whole
    [line] = [line for line in refused.stderr.splitlines() if first["file"] in line]
    assert f"more than the {first['size']}" in line, refused.stderr
    assert not list(cache_of(home).rglob(first["file"])), "nothing of it was kept"

    # In this process, against the same server: every read of an object's body asks for a bounded amount.
    from botocore.response import StreamingBody

    from recorder.plugins.archive import s3 as store
    from recorder.plugins.archive.guard import ArchiveGuard, ArchiveOptions

    asked = []
    read = StreamingBody.read

    def bounded(self, amt=None):
        asked.append(amt)
        return read(self, amt)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setattr(StreamingBody, "read", bounded)
    guard = ArchiveGuard(ArchiveOptions(endpoint=s3.endpoint, bucket=BUCKET, region="us-east-1"))
    assert [row.session_id for row in guard.archive_sessions()] == [manifest["session_id"]]
    with pytest.raises(store.StoreError, match="more than"):
        guard.archive_fetch(manifest["session_id"], home / "cache")
    # and an upload checked by reading it back (verify = "read-back")
    part = home / "part.bin"
    part.write_bytes(b"x" * (2 * store.CHUNK + 5))
    sha256 = hashlib.sha256(part.read_bytes()).hexdigest()
    store.upload(s3.client(), guard.target, "readback/part.bin", part, sha256, chunk_size=16 * 2**20,
                 throttle=store.Throttle(0), remember_upload=lambda upload_id: None, verify="read-back")
    assert len(asked) > 4 and None not in asked and max(asked) <= store.CHUNK + 1, asked


def test_text_from_the_bucket_reaches_the_terminal_escaped(home, s3, bucket, archived):  # noqa: F811
    stored, prefix, manifest = archived
    plant(bucket, stored)
    hostile = {"session_id": "beef1234", "profile": "rep\x1b]0;owned\x07", "state": "complete\x1b[2J",
               "support_session_id": "S-1\x1b[31m", "labels": {"ticket\x1b[1m": "INC\x1b]8;;http://x\x07-1"},
               "started_at": "2026-01-01T00:00:00\x9b"}
    plant(bucket, {"zzz/escaped/session.json": json.dumps(hostile).encode(),
                   "zzz/\x1b[31mred/session.json": json.dumps({**hostile, "session_id": "dead1234"}).encode()})
    config(home, s3.endpoint)
    for args in (("list", "--archive"), ("list", "--archive", "--json")):
        result = recorder(home, *args)
        shown = result.stdout + result.stderr
        assert "beef1234" in shown and not re.search(r"[\x00-\x1f\x7f-\x9f](?<!\n)", shown), repr(shown)
    assert "rep?]0;owned?" in recorder(home, "list", "--archive").stdout


@pytest.mark.parametrize("value", ["..", "."])
def test_a_label_that_would_be_a_dot_segment_of_the_keys_refuses_the_session(home, s3, bucket, value):  # noqa: F811
    """Refused before recording rather than made into something else: see docs/archive.md."""
    config(home, s3.endpoint, prefix="site-a/{profile}/{label[ticket]}/{support_id}/{session_id}")
    result = recorder(home, "--profile", "rep", "--source", "synthetic", "--duration", "1", "--session-id",
                      "INC-9", "--label", f"ticket={value}", check=2)
    [line] = result.stderr.strip().splitlines()
    assert "label 'ticket'" in line and f"is '{value}'" in line, line
    assert not objects(bucket), "nothing reached the bucket"
    assert not (home / "Documents" / "SessionRecordings").exists() or \
        not list((home / "Documents" / "SessionRecordings").iterdir()), "nothing was recorded"


# -- item 18: --debug shows botocore's requests, never their credentials


def test_debug_logging_shows_requests_but_never_credentials(home, s3, bucket):  # noqa: F811
    secrets = {"AWS_ACCESS_KEY_ID": "AKIAREDACTME0000KEY1", "AWS_SECRET_ACCESS_KEY": "s3cr3t-redact-me-please",
               "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEREDACTMETOKEN"}
    config(home, s3.endpoint, drain_at_end=30.0)
    runs = {"PutObject": ["--debug", "--profile", "rep", "--source", "synthetic", "--duration", "1"],
            "ListObjectsV2": ["--debug", "list", "--archive"]}
    for operation, args in runs.items():
        result = subprocess.run([recorder_command(), *args], env=cli_env(home, **secrets), capture_output=True,
                                text=True, timeout=120, encoding="utf-8")
        assert result.returncode == 0, result.stderr[-3000:]
        log = result.stderr
        for name, secret in secrets.items():
            assert secret not in log, f"{args}: {name} in the debug log"
        assert not re.search(r"(?i)signature\s*[:=]\s*[0-9a-f]{16}", log), "a signature in the debug log"
        assert not re.search(r"(?i)credential=(?!<redacted>)", log)
        # still useful: the requests are there, their credentials replaced
        assert f"OperationModel(name={operation})" in log, log[-3000:]
        assert "'Authorization': b'<redacted>'" in log and "X-Amz-Security-Token': b'<redacted>'" in log
    assert any(key.endswith("/session.json") for key in objects(bucket)), "the session was uploaded"


def test_credentials_in_a_query_string_or_a_canonical_request_are_redacted():
    from recorder.plugins.archive.redact import redact

    url = ("GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAXYZ%2F20261207"
           "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z&X-Amz-Expires=60"
           "&X-Amz-Security-Token=FwoTOKEN&X-Amz-Signature=" + "ab" * 32)
    clean = redact(url)
    assert "AKIAXYZ" not in clean and "FwoTOKEN" not in clean and "ab" * 32 not in clean, clean
    assert "X-Amz-Date=20261207T000000Z" in clean and "X-Amz-Expires=60" in clean
    canonical = "GET\n/k\n\nhost:b\nauthorization:AWS4 x\nx-amz-security-token:FwoTOKEN\n\nhost;x-amz-security-token"
    assert redact(canonical).splitlines()[4:7] == ["authorization:<redacted>", "x-amz-security-token:<redacted>", ""]
    assert redact("found key AKIAXYZ in env", {"AKIAXYZ"}) == "found key <redacted> in env"
