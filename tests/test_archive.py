"""The archive guard against a real S3 server (moto, on loopback): sessions arrive
whole and verified, survive the endpoint going away and kill -9, and bad
configuration is refused before anything is recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import child_signals, cli_env, recorder_command
from s3_server import MotoServer, Relay

BUCKET = "recordings"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@pytest.fixture(scope="module")
def s3():
    server = MotoServer()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def bucket(s3):
    """An empty bucket for each test."""
    client = s3.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    return client


def config(home: Path, endpoint: str, noise: bool = False, part_seconds: float = 1.0, width: int = 320,
           **archive: object) -> None:
    """The user's config, as an administrator would set it (the archive commands read it too)."""
    options = {"endpoint": endpoint, "bucket": BUCKET, "region": "us-east-1",
               "prefix": "site-a/{profile}/{date}/{session_id}", **archive}
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in options.items())
    path = home / ".config" / "recorder" / "recorder.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[profiles.rep]\nguards = ["+archive"]\nmax_part_duration = {part_seconds}\n'
                    f'[profiles.rep.synthetic]\nwidth = {width}\nheight = {width * 3 // 4}\n'
                    + ("noise = true\n" if noise else "") + f"[profiles.rep.archive]\n{lines}\n", encoding="utf-8")


def env(home: Path, **extra: str) -> dict[str, str]:
    return cli_env(home, **CREDENTIALS, **extra)


def recorder(home: Path, *args: str, check: int | None = 0, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=env(home), capture_output=True, text=True,
                            timeout=timeout, encoding="utf-8")
    if check is not None:
        assert result.returncode == check, (args, result.stdout, result.stderr)
    return result


def objects(client) -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return found


def assert_archived(client, folder: Path) -> str:
    """Every part, the manifest and the receipt, under the session's prefix, byte for byte."""
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    prefix = f"site-a/rep/{manifest['started_at'][:10]}/{manifest['session_id']}"
    stored = {key: data for key, data in objects(client).items() if key.startswith(prefix + "/")}
    expected = {f"{prefix}/{part['file']}" for part in manifest["parts"]} | {f"{prefix}/session.json"}
    assert expected <= set(stored), sorted(set(expected) - set(stored))
    for part in manifest["parts"]:
        assert hashlib.sha256(stored[f"{prefix}/{part['file']}"]).hexdigest() == part["sha256"]
    assert json.loads(stored[f"{prefix}/session.json"]) == manifest
    return prefix


def test_sessions_arrive_whole_and_are_found_from_the_archive(home, tmp_path, s3, bucket):
    config(home, s3.endpoint)
    first = recorder(home, "--profile", "rep", "--source", "synthetic", "--duration", "3",
                     "--session-id", "A-1", "--label", "ticket=INC-1")
    folder = Path(first.stdout.strip())
    # The second is restarted in the middle: the same support session continues in a new part.
    args = [recorder_command(), "--profile", "rep", "--source", "synthetic",
            "--session-id", "B-2"]
    proc = subprocess.Popen([*args, "--duration", "60"], env=env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    second = Path(subprocess.run([*args, "--duration", "2"], env=env(home), capture_output=True, text=True,
                                 check=True, timeout=60, encoding="utf-8").stdout.strip())
    assert assert_archived(bucket, folder)
    prefix = assert_archived(bucket, second)
    manifest = json.loads((second / "session.json").read_text(encoding="utf-8"))
    assert any(e["kind"] == "resumed" for e in manifest["events"]) and len(manifest["parts"]) >= 3
    receipt = json.loads(bucket.get_object(Bucket=BUCKET, Key=f"{prefix}/receipt.json")["Body"].read())
    assert receipt["support_session_id"] == "B-2"
    assert recorder(home, "archive", "--status").stdout.strip() == "the queue is empty"
    assert not bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads")

    listed = json.loads(recorder(home, "list", "--archive", "--json").stdout)
    assert {row["support_session_id"] for row in listed} == {"A-1", "B-2"}
    assert json.loads(recorder(home, "list", "--archive", "--json", "--label", "ticket=INC-1").stdout)[0][
        "id"] == json.loads((folder / "session.json").read_text(encoding="utf-8"))["session_id"]
    # Gone from this machine, still there for review: fetched into the private cache.
    session_id = json.loads((folder / "session.json").read_text(encoding="utf-8"))["session_id"]
    shutil.rmtree(folder)
    verified = recorder(home, "verify", session_id[:12])
    assert verified.stdout.strip().endswith("verified") and ".cache" in verified.stdout
    assert "support   A-1" in recorder(home, "info", session_id[:12]).stdout


def test_the_endpoint_going_away_mid_upload_loses_nothing(home, tmp_path, s3, bucket):
    relay = Relay(s3.port)
    config(home, relay.endpoint, noise=True, max_rate="400KB", drain_at_end=0.0)
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "4"], env=env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    time.sleep(2.5)
    relay.cut()  # mid-upload: parts are sealed every second, uploads crawl at 400 KB/s
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err  # the recording never depended on the upload
    folder = Path(out.strip().splitlines()[-1])
    status = recorder(home, "archive", "--status", "--json").stdout
    assert json.loads(status), "what did not arrive waits in the queue"
    local = {p.name: p.read_bytes() for p in folder.iterdir()}
    relay.restore()
    drained = recorder(home, "archive", "--drain")
    assert drained.stdout.strip().endswith("the queue is empty"), drained.stdout
    assert_archived(bucket, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == local, "nothing local was touched"
    relay.cut()


def test_kill_9_mid_upload_then_the_next_start_finishes_it(home, tmp_path, s3, bucket):
    config(home, s3.endpoint, noise=True, max_rate="300KB")
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source",
                             "synthetic", "--session-id", "K-9"], env=env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=child_signals)
    time.sleep(4)
    proc.kill()
    proc.communicate(timeout=10)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    # The next start recovers the session and its archive finishes every upload.
    recorder(home, "--profile", "rep", "--source", "synthetic", "--session-id", "K-9",
             "--duration", "1", timeout=180)
    recorder(home, "archive", "--drain", timeout=180)
    assert_archived(bucket, folder)
    manifest = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    names = [key.rsplit("/", 1)[1] for key in objects(bucket)]
    assert sorted(n for n in names if n.startswith("part-")) == sorted(p["file"] for p in manifest["parts"])
    assert not bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads"), "no upload left half done"


def test_a_corrupted_upload_is_caught_retried_and_reported(home, tmp_path, s3, bucket):
    relay = Relay(s3.port)
    # Parts of about 8 MB in 5 MiB pieces: a multipart upload, whose ETag is the MD5 of the pieces' MD5s
    config(home, relay.endpoint, noise=True, part_seconds=4.0, width=640, multipart_chunk="5MiB")
    relay.corrupt_next()
    result = recorder(home, "--profile", "rep", "--source", "synthetic",
                      "--duration", "5")
    folder = Path(result.stdout.strip())
    assert_archived(bucket, folder)
    # Reported on the timeline while recording, or to the person here once the session has ended
    events = json.loads((folder / "session.json").read_text(encoding="utf-8"))["events"]
    failed = [e["text"] for e in events if e["kind"] == "archive-failed"] + \
        [line for line in result.stderr.splitlines() if "archive:" in line]
    assert any("differs from the part" in text and "retried" in text for text in failed), result.stderr
    parts = json.loads((folder / "session.json").read_text(encoding="utf-8"))["parts"]
    assert max(part["size"] for part in parts) > 5 * 2**20, "a part large enough for a multipart upload"
    assert not bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    relay.cut()


@pytest.mark.parametrize("change, named", [
    ({"bucket": "no-such-bucket"}, "bucket 'no-such-bucket' does not exist"),
    ({"prefix": "{profile}/{hostname}"}, "unknown field {hostname}"),
    ({"verify": "maybe"}, "verify"),
])
def test_bad_archive_configuration_is_refused_before_recording(home, tmp_path, s3, change, named):
    config(home, s3.endpoint, **change)
    result = recorder(home, "--profile", "rep", "--source", "synthetic", "--duration", "1",
                      check=2)
    [line] = result.stderr.strip().splitlines()
    assert named in line, line
    assert not (home / "Documents" / "SessionRecordings").exists() or \
        not list((home / "Documents" / "SessionRecordings").iterdir()), "nothing was written"


def test_an_unreachable_endpoint_queues_and_tells_the_rep(home, tmp_path):
    from s3_server import free_port

    config(home, f"http://127.0.0.1:{free_port()}", drain_at_end=0.0)
    result = recorder(home, "--profile", "rep", "--source", "synthetic", "--duration", "2")
    assert "The archive cannot be reached" in result.stderr
    queued = json.loads(recorder(home, "archive", "--status", "--json").stdout)
    assert {item["kind"] for item in queued} >= {"part", "manifest", "receipt"}
    rows = json.loads(recorder(home, "list", "--json").stdout)
    assert rows[0]["archive_queued"] == len(queued)


def test_credentials_the_server_refuses_or_none_at_all_are_refused_before_recording(home, tmp_path):
    # moto checks signatures once its first request (creating the bucket) is done
    strict = MotoServer(INITIAL_NO_AUTH_ACTION_COUNT="1")
    try:
        strict.client().create_bucket(Bucket=BUCKET)
        config(home, strict.endpoint)
        refused = recorder(home, "--profile", "rep", "--source", "synthetic", "--duration", "1", check=2)
        [line] = refused.stderr.strip().splitlines()
        assert f"bucket '{BUCKET}' refused the credentials" in line, line
        missing = subprocess.run([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "1"],
                                 env=cli_env(home, AWS_EC2_METADATA_DISABLED="true"), capture_output=True,
                                 text=True, timeout=60, encoding="utf-8")
        assert missing.returncode == 2 and "no credentials for" in missing.stderr, missing.stderr
        assert not (home / "Documents" / "SessionRecordings").exists() or \
            not list((home / "Documents" / "SessionRecordings").iterdir()), "nothing was written"
    finally:
        strict.stop()



def test_what_the_bucket_holds_is_read_as_untrusted_input():
    """A session.json in the bucket may come from anyone who can write there: each field is
    checked for its type and made printable, and one without a plain session id is no session."""
    from recorder.plugins.archive.s3 import ArchivedSession

    hostile = json.dumps({"session_id": "ab12cd34", "profile": "rep\x1b]0;owned\x07", "duration": "long",
                          "parts": {"not": "a list"}, "labels": {"ticket": "INC-1", "n": 3, "x": "\x1b[2J"},
                          "support_session_id": ["A-1"], "started_at": 20260101}).encode()
    session = ArchivedSession.parse("site-a/rep/ab12cd34", hostile)
    assert session == ArchivedSession(key="site-a/rep/ab12cd34", session_id="ab12cd34", profile="rep?]0;owned?",
                                      labels={"ticket": "INC-1", "x": "?[2J"})
    for body in [b"not json", b"\xff\xfe", b"[1, 2]", json.dumps({"profile": "rep"}).encode(),
                 json.dumps({"session_id": "../../etc"}).encode(), json.dumps({"session_id": 42}).encode()]:
        assert ArchivedSession.parse("k", body) is None, body


# Which files a fetch writes (only those the manifest names, plainly): tests/test_archive_untrusted.py
