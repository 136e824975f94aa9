"""Legal hold and retention by policy: ``recorder hold``/``release`` (and the control channel's
``hold``/``release``) put events on the session's timeline, ``list`` shows them, retention
(``keep_days``, ``keep_total_size``, ``recorder retention --dry-run``) never deletes a held
session, a hold survives a crash at every step, and the archive puts an S3 Object Lock legal
hold on the session's objects (moto's real server, a bucket created with Object Lock)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import child_signals, cli_env, recorder_command
from s3_server import MotoServer

HOLD = ["hold:noted", "hold:written", "hold:told"]  # test_crash_points holds every point to a test
needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
LOCKED, PLAIN = "held-recordings", "plain-recordings"


def user_config(home: Path, text: str) -> None:
    """The user's config, which every command reads (hold, retention, archive, verify)."""
    path = home / ".config" / "recorder" / "recorder.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.rep]\nmax_part_duration = 1.0\n' + text
                    + '\n[profiles.rep.synthetic]\nwidth = 320\nheight = 240\n', encoding="utf-8")


def cli(home: Path, *args: str, check: int | None = 0, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([recorder_command(), *args], env=cli_env(home, **CREDENTIALS, **(env or {})),
                            capture_output=True, text=True, timeout=120, encoding="utf-8")
    if check is not None:
        assert result.returncode == check, (args, result.stdout, result.stderr)
    return result


def record(home: Path, seconds: str = "1", *args: str) -> Path:
    result = cli(home, "--profile", "rep", "--source", "synthetic", "--duration", seconds, *args)
    assert "warning" not in result.stderr, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def manifest(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def session_id(folder: Path) -> str:
    return manifest(folder)["session_id"]


def holds(folder: Path) -> list[dict]:
    return [e for e in manifest(folder)["events"] if e["kind"] in ("hold", "release")]


def listed(home: Path) -> dict[str, dict]:
    return {row["id"]: row for row in json.loads(cli(home, "list", "--json").stdout)}


def age(folder: Path, days: float) -> None:
    """Make a session look ``days`` old to retention (its manifest's start), as weeks of waiting would."""
    data = manifest(folder)
    data["started_at"] = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
    (folder / "session.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


# -- hold and release from the command line ------------------------------------------------

def test_hold_and_release_from_the_command_line_are_events_shown_by_list(home):
    user_config(home, "")
    folder = record(home)
    sid = session_id(folder)
    before = (folder / "session.json").read_bytes()
    for args, said in [(["hold", sid[:8]], "--reason: required"),
                       (["hold", sid[:8], "--reason", "   "], "--reason: required"),
                       (["hold", "0123456789ab", "--reason", "x"], "no session '0123456789ab'"),
                       (["hold", sid[:8], "--reason", "a\x1bb"], "control characters"),
                       (["hold", sid[:8], "--reason", "x", "--by", "recorder"], "--by"),
                       (["release", sid[:8], "--reason", "done"], "is not held")]:
        bad = cli(home, *args, check=2)
        assert bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1 and said in bad.stderr, bad.stderr
        assert (folder / "session.json").read_bytes() == before, "bad input writes nothing"

    held = cli(home, "hold", sid[:8], "--reason", "INC-4711: customer disputes the change", "--by", "legal")
    assert held.stdout.startswith(f"session {sid[:8]} held: INC-4711")
    assert listed(home)[sid]["held"] is True
    line = cli(home, "list").stdout.splitlines()[0]
    assert line.startswith(sid[:8]) and "[held]" in line
    assert "held      since" in cli(home, "info", sid[:8]).stdout
    [event] = holds(folder)
    assert (event["by"], event["data"], event["level"]) == ("legal", {"reason": "INC-4711: customer disputes "
                                                                                "the change"}, "info")
    when = datetime.fromisoformat(event["time"])
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 30, "when it was held, not recorded"
    last = manifest(folder)["parts"][-1]
    assert event["t"] == round(last["start"] + last["duration"], 3), "at the end of the timeline"

    again = cli(home, "hold", sid[:8], "--reason", "another matter", check=2)
    assert "already held" in again.stderr and "INC-4711" in again.stderr and len(holds(folder)) == 1
    cli(home, "release", sid[:8], "--reason", "matter closed", "--by", "legal")
    assert [e["kind"] for e in holds(folder)] == ["hold", "release"]
    assert listed(home)[sid]["held"] is False and "[held]" not in cli(home, "list").stdout
    assert cli(home, "verify", sid[:8]).stdout.strip().endswith("verified")


@needs_ssh_keygen
def test_a_signed_session_held_and_released_keeps_a_valid_signature_and_receipt(home, tmp_path):
    user_config(home, 'guards = ["+signing"]')
    folder = record(home)
    sid = session_id(folder)
    head = json.loads((folder / "receipt.json").read_text(encoding="utf-8"))["head"]
    for verb, reason in (("hold", "audit 2026-12"), ("release", "audit done")):
        cli(home, verb, sid[:8], "--reason", reason)
        checked = cli(home, "verify", sid[:8], "--receipt", head)  # exit 0: every check passes
        assert "session.json is signed by recorder@" in checked.stdout, checked.stdout
    # What an auditor runs, with OpenSSH alone: the signature is the held session.json's.
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(cli(home, "key", "--allowed-signers").stdout, encoding="utf-8")
    identity = allowed.read_text(encoding="utf-8").split()[0]
    verified = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", identity, "-n",
                               "recorder-receipt", "-s", str(folder / "session.json.sig")],
                              input=(folder / "session.json").read_bytes(), capture_output=True, timeout=30)
    assert verified.returncode == 0, verified.stderr
    assert [e["kind"] for e in holds(folder)] == ["hold", "release"]


# -- retention -------------------------------------------------------------------------------

def test_retention_by_age_and_size_never_deletes_a_held_session_and_dry_run_deletes_nothing(home):
    user_config(home, "")
    old_held, old, newer, newest = (record(home) for _ in range(4))
    for folder in (old_held, old):
        age(folder, 40)
    age(newer, 10)
    cli(home, "hold", session_id(old_held)[:8], "--reason", "INC-9: kept for the court")
    user_config(home, 'guards = ["+retention"]\n[profiles.rep.retention]\nkeep_days = 30')
    before = {p: sorted(x.name for x in p.iterdir()) for p in (old_held, old, newer, newest)}

    dry = cli(home, "retention", "--dry-run").stdout.splitlines()
    assert dry[0].startswith("keep") and session_id(old_held)[:8] in dry[0] and "held since" in dry[0] \
        and "INC-9" in dry[0] and "older than 30 days" in dry[0]
    assert dry[1].startswith("would delete") and session_id(old)[:8] in dry[1] and "older than 30 days" in dry[1]
    assert dry[-1].startswith("1 session(s)") and "nothing was deleted" in dry[-1] and len(dry) == 3
    assert {p: sorted(x.name for x in p.iterdir()) for p in before} == before, "a dry run deletes nothing"

    gone = session_id(old)
    done = cli(home, "retention").stdout
    assert f"deleted       {gone[:8]}" in done
    assert not old.exists() and old_held.exists() and newer.exists() and newest.exists()
    assert gone not in listed(home)

    # By size, oldest first: the held one counts towards the total but stays; the oldest of
    # the others goes, until the total fits.
    sizes = {p: listed(home)[session_id(p)]["size"] for p in (old_held, newer, newest)}
    limit = sizes[old_held] + sizes[newest] + 10
    user_config(home, f'guards = ["+retention"]\n[profiles.rep.retention]\nkeep_total_size = {limit}')
    dry = cli(home, "retention", "--dry-run").stdout
    assert "would delete" in dry and session_id(newer)[:8] in dry and "in total" in dry
    assert session_id(newest)[:8] not in dry and newer.exists()
    # The guard applies the same rules when the next session starts, and says so on its timeline.
    newer_id = session_id(newer)
    started = record(home)
    assert newer_id not in listed(home) and not newer.exists() and old_held.exists() and newest.exists()
    said = [e["text"] for e in manifest(started)["events"] if e["kind"] == "retention"]
    assert any(str(old_held) in text and "held since" in text for text in said), said
    assert {e["level"] for e in manifest(started)["events"] if "held since" in e["text"]} == {"info"}
    assert any(text.startswith(f"deleted {newer}") for text in said), said


def test_a_hold_placed_after_retention_chose_a_session_still_keeps_it(home):
    """Retention asks again at the moment it deletes: once the folder is set aside (so a hold a
    moment later finds no folder and says so) and before any file goes."""
    import attrs
    from recorder import SessionSummary, delete_session_folder
    from recorder.plugins.retention.policy import RetentionOptions, apply, plan

    user_config(home, "")
    folder = record(home)
    age(folder, 5)
    [row] = json.loads(cli(home, "list", "--json").stdout)
    summary = SessionSummary(**{key: row[key] for key in attrs.fields_dict(SessionSummary)})
    [verdict] = plan([summary], RetentionOptions(keep_days=1), lambda f: {p.name for p in f.iterdir()})
    assert verdict.goes
    cli(home, "hold", row["id"][:8], "--reason", "placed while retention ran")
    assert apply(verdict) and folder.is_dir()
    assert delete_session_folder(folder, unless_held=True) == "it is held (a legal hold: recorder release first)"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["session.json", "part-001.mp4"])
    assert not any(p.name.endswith(".deleting") for p in folder.parent.iterdir())
    cli(home, "release", row["id"][:8], "--reason", "done")
    assert apply(verdict) is None and not folder.exists()


@needs_ssh_keygen
def test_retention_deletes_signed_sessions_but_not_a_folder_with_files_of_someone_else(home):
    """The signing guard's receipt.json and .sig files are its own (recorder_session_files), not foreign."""
    user_config(home, 'guards = ["+signing"]')
    signed, foreign = record(home), record(home)
    assert (signed / "receipt.json.sig").is_file() and (signed / "session.json.sig").is_file()
    (foreign / "notes.txt").write_text("the rep's notes", encoding="utf-8")
    for folder in (signed, foreign):
        age(folder, 3)
    user_config(home, 'guards = ["+signing", "+retention"]\n[profiles.rep.retention]\nkeep_days = 1')
    done = cli(home, "retention").stdout
    assert not signed.exists(), done
    assert foreign.exists() and "files that are not the session's" in done


def test_retention_without_rules_or_with_a_bad_profile_is_one_line(home):
    user_config(home, "")
    for args in (["retention"], ["retention", "--profile", "rep", "--dry-run"], ["retention", "--profile", "n/a"]):
        bad = cli(home, *args, check=2)
        assert len(bad.stderr.strip().splitlines()) == 1 and bad.stdout == "", bad.stderr


# -- a crash at every step ---------------------------------------------------------------------

# The files a hold writes whole, in order: the note, session.json, its signature, the note gone.
WRITES = {f"write:temporary@{n}": n > 2 for n in (1, 2, 3, 4)}  # -> session.json has the hold


@needs_ssh_keygen
@pytest.mark.parametrize("point", HOLD + list(WRITES))
def test_a_hold_cut_by_a_crash_at_each_step_is_whole_or_not_at_all_and_finished_next(home, point):
    user_config(home, 'guards = ["+signing"]')
    folder = record(home)
    sid = session_id(folder)
    head = json.loads((folder / "receipt.json").read_text(encoding="utf-8"))["head"]
    crashed = cli(home, "hold", sid[:8], "--reason", "INC-1", check=None, env={"RECORDER_TEST_CRASH_AT": point})
    assert crashed.returncode == -9, crashed.stderr
    written = [e["kind"] for e in holds(folder)]  # session.json is whole JSON either way
    assert written in ([], ["hold"]), written
    assert written == ([] if point == "hold:noted" or WRITES.get(point) is False else ["hold"])
    # The next command finishes what the crash cut short: the plugins hear of the hold (signing
    # signs the changed session.json again), and a half-written file is gone.
    again = cli(home, "hold", sid[:8], "--reason", "INC-1", check=None)
    assert again.returncode == (2 if written else 0), again.stderr
    if written:
        assert "cut short is finished" in again.stdout
    assert [e["kind"] for e in holds(folder)] == ["hold"]
    assert listed(home)[sid]["held"] is True
    checked = cli(home, "verify", sid[:8], "--receipt", head)
    assert "unexpected file" not in checked.stdout and "session.json is signed by" in checked.stdout


# -- the control channel -------------------------------------------------------------------------

def request(home: Path, **message) -> dict:
    path = home / ".local" / "state" / "recorder" / "run" / "rep.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        reader = sock.makefile("r", encoding="utf-8")
        reader.readline()  # hello
        sock.sendall((json.dumps({"id": 1, **message}) + "\n").encode())
        return json.loads(reader.readline())


def test_the_support_tool_holds_and_releases_the_session_being_recorded(home):
    user_config(home, "")
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "60"],
                            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", preexec_fn=child_signals)
    try:
        cli(home, "status", "--wait", "15")
        refused = [request(home, command="hold", by="support-tool"),
                   request(home, command="hold", reason=" ", by="support-tool"),
                   request(home, command="release", reason="nothing held"),
                   request(home, command="mark", kind="hold", text="forged")]
        assert [r["ok"] for r in refused] == [False] * 4
        assert "reason: required" in refused[0]["error"] and "not held" in refused[2]["error"]
        answer = request(home, command="hold", reason="customer complaint INC-77", by="support-tool")
        assert answer["ok"] and answer["result"]["held"] is True, answer
        assert not request(home, command="hold", reason="twice", by="support-tool")["ok"]
        # The command line reaches a session being recorded through its recorder.
        sid = json.loads(cli(home, "status", "--json").stdout)["session_id"]
        released = cli(home, "release", sid[:8], "--reason", "resolved in the session", "--by", "rep")
        assert "(being recorded) released" in released.stdout
        cli(home, "hold", sid[:8], "--reason", "escalated again", "--by", "rep")
        cli(home, "stop")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    folder = Path(out.strip().splitlines()[-1])
    assert [(e["kind"], e["by"], e["data"]["reason"]) for e in holds(folder)] == [
        ("hold", "support-tool", "customer complaint INC-77"), ("release", "rep", "resolved in the session"),
        ("hold", "rep", "escalated again")]
    assert listed(home)[session_id(folder)]["held"] is True


# -- the archive: S3 Object Lock legal hold on moto's server -------------------------------------

@pytest.fixture(scope="module")
def s3():
    server = MotoServer()
    client = server.client()
    client.create_bucket(Bucket=LOCKED, ObjectLockEnabledForBucket=True)  # versioned, with Object Lock
    client.create_bucket(Bucket=PLAIN)
    assert client.get_object_lock_configuration(Bucket=LOCKED)["ObjectLockConfiguration"]["ObjectLockEnabled"] \
        == "Enabled"
    yield server
    server.stop()


def archive_config(home: Path, endpoint: str, bucket: str, guards: str = '"+signing", "+archive"') -> None:
    user_config(home, f'guards = [{guards}]\n[profiles.rep.archive]\nendpoint = "{endpoint}"\n'
                      f'bucket = "{bucket}"\nregion = "us-east-1"\nprefix = "{{profile}}/{{session_id}}"')


def versions(client, bucket: str, prefix: str) -> list[dict]:
    return [v for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix + "/")
            for v in page.get("Versions", [])]


def legal_holds(client, bucket: str, prefix: str) -> dict[tuple[str, str], str]:
    """Each version's legal hold: ON, OFF, or "never" for one never given one (moto answers without a
    status; S3 answers NoSuchObjectLockConfiguration)."""
    from botocore.exceptions import ClientError

    found = {}
    for v in versions(client, bucket, prefix):
        try:
            answer = client.get_object_legal_hold(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            found[(v["Key"], v["VersionId"])] = answer.get("LegalHold", {}).get("Status", "never")
        except ClientError:
            found[(v["Key"], v["VersionId"])] = "never"
    return found


@needs_ssh_keygen
def test_a_held_session_is_under_an_object_lock_legal_hold_in_the_archive(home, s3):
    from botocore.exceptions import ClientError

    archive_config(home, s3.endpoint, LOCKED)
    client = s3.client()
    folder = record(home, "2")
    sid = session_id(folder)
    prefix = f"rep/{sid}"
    stored = {v["Key"].rsplit("/", 1)[1] for v in versions(client, LOCKED, prefix)}
    # Everything the session folder holds is archived, the signing guard's files included
    # (asked of recorder_session_files, as retention asks).
    assert {p.name for p in folder.iterdir()} <= stored, ({p.name for p in folder.iterdir()}, stored)
    assert set(legal_holds(client, LOCKED, prefix).values()) == {"never"}

    held = cli(home, "hold", sid[:8], "--reason", "INC-4711 litigation", "--by", "legal")
    assert "archive: legal hold ON on" in held.stdout, held.stdout
    statuses = legal_holds(client, LOCKED, prefix)
    assert statuses and set(statuses.values()) == {"ON"}, statuses
    # The held session.json and its new signature went up too, and are what the folder holds; so
    # is the signed receipt, which an auditor checks against its signature in the bucket.
    for name in ("session.json", "session.json.sig", "receipt.json", "receipt.json.sig"):
        body = client.get_object(Bucket=LOCKED, Key=f"{prefix}/{name}")["Body"].read()
        assert body == (folder / name).read_bytes(), name
    assert any(e["kind"] == "hold" for e in json.loads(
        client.get_object(Bucket=LOCKED, Key=f"{prefix}/session.json")["Body"].read())["events"])
    # A held version cannot be deleted, not even by naming its version (moto enforces it as S3 does).
    part = next(v for v in versions(client, LOCKED, prefix) if v["Key"].endswith("part-001.mp4"))
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=LOCKED, Key=part["Key"], VersionId=part["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    released = cli(home, "release", sid[:8], "--reason", "case closed", "--by", "legal")
    assert "archive: legal hold OFF on" in released.stdout, released.stdout
    assert set(legal_holds(client, LOCKED, prefix).values()) == {"OFF"}
    client.delete_object(Bucket=LOCKED, Key=part["Key"], VersionId=part["VersionId"])  # now it may go
    assert cli(home, "archive", "--status").stdout.strip() == "the queue is empty"


@needs_ssh_keygen
def test_a_signature_written_after_the_archive_sent_the_session_goes_up_at_the_next_drain(home, s3):
    """guards = ["+archive", "+signing"]: session.json.sig is written after the archive's end."""
    archive_config(home, s3.endpoint, LOCKED, guards='"+archive", "+signing"')
    client = s3.client()
    folder = record(home)
    prefix = f"rep/{session_id(folder)}"
    cli(home, "archive", "--drain")
    stored = {v["Key"].rsplit("/", 1)[1] for v in versions(client, LOCKED, prefix)}
    assert {p.name for p in folder.iterdir()} <= stored, stored
    signature = client.get_object(Bucket=LOCKED, Key=f"{prefix}/session.json.sig")["Body"].read()
    assert signature == (folder / "session.json.sig").read_bytes()


def test_a_hold_placed_while_recording_holds_what_is_uploaded_after_it(home, s3):
    archive_config(home, s3.endpoint, LOCKED, guards='"+archive"')
    client = s3.client()
    proc = subprocess.Popen([recorder_command(), "--profile", "rep", "--source", "synthetic", "--duration", "60"],
                            env=cli_env(home, **CREDENTIALS), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", preexec_fn=child_signals)
    try:
        sid = json.loads(cli(home, "status", "--json", "--wait", "15").stdout)["session_id"]
        time.sleep(2.5)  # a part or two sealed and uploaded before the hold
        cli(home, "hold", sid[:8], "--reason", "escalation during the session", "--by", "support-tool")
        time.sleep(2.5)  # more parts after it
        cli(home, "stop")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    statuses = legal_holds(client, LOCKED, f"rep/{sid}")
    names = {key.rsplit("/", 1)[1] for key, _ in statuses}
    assert {"part-001.mp4", "session.json", "receipt.json"} <= names and len(names) >= 5, names
    assert set(statuses.values()) == {"ON"}, statuses


def test_a_hold_a_crash_cut_short_before_the_bucket_reaches_it_at_the_next_drain(home, s3):
    archive_config(home, s3.endpoint, LOCKED, guards='"+archive"')
    client = s3.client()
    folder = record(home)
    sid = session_id(folder)
    crashed = cli(home, "hold", sid[:8], "--reason", "INC-8", check=None, env={"RECORDER_TEST_CRASH_AT": "hold:written"})
    assert crashed.returncode == -9 and listed(home)[sid]["held"] is True
    assert set(legal_holds(client, LOCKED, f"rep/{sid}").values()) == {"never"}
    # The queue's reconciliation finds session.json held and the bucket not: it queues the hold.
    drained = cli(home, "archive", "--drain")
    assert drained.stdout.strip().endswith("the queue is empty"), drained.stdout
    assert set(legal_holds(client, LOCKED, f"rep/{sid}").values()) == {"ON"}
    uploaded = json.loads(client.get_object(Bucket=LOCKED, Key=f"rep/{sid}/session.json")["Body"].read())
    assert [e["kind"] for e in uploaded["events"] if e["kind"] == "hold"] == ["hold"]


def test_a_bucket_without_object_lock_is_said_and_the_hold_stands_here(home, s3):
    archive_config(home, s3.endpoint, PLAIN, guards='"+archive"')
    folder = record(home)
    sid = session_id(folder)
    held = cli(home, "hold", sid[:8], "--reason", "INC-5", check=1)
    assert f"bucket '{PLAIN}' has no Object Lock" in held.stderr and "upload queue" in held.stderr, held.stderr
    assert listed(home)[sid]["held"] is True, "held on this machine all the same"
    assert "legal-hold" in cli(home, "archive", "--status").stdout
