"""What uploading to the archive costs a recording: 1080p30 on the office workload,
recorded once with nothing to upload and once while a 1 GB backlog drains to
moto's S3 server on loopback (the server's own CPU is not recorder's, but it
competes for the same cores here, which makes this a harsh test).

Reports per run: recorder's CPU seconds (user + system, the uploader thread
included: it runs in the recorder process), dropped frames, and how much of
the backlog arrived, as MB/s.

    python benchmarks/archive_cost.py --seconds 60 --backlog-mb 1024
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare_ffmpeg import RECORDER, Workload, start_xvfb

BUCKET = "recordings"


def moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return proc, endpoint


def backlog(home: Path, endpoint: str, megabytes: int) -> int:
    """A served session of random parts, queued as a crash or a week offline would leave it."""
    env = dict(os.environ, HOME=str(home))
    script = f"""
import hashlib, os, sys
from pathlib import Path
from recorder.plugins.archive import enqueue, ledger
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
target = {{"endpoint": "{endpoint}", "bucket": "{BUCKET}", "region": "us-east-1", "aws_profile": ""}}
ledger.serve("b" * 32, "backlog", target)
for n in range({max(1, megabytes // 128)}):
    path = folder / f"part-{{n + 1:03d}}.mp4"
    path.write_bytes(os.urandom({min(megabytes, 128)} * 2**20))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    enqueue("b" * 32, str(folder), "backlog", target, "part", path.name, sha256=digest, size=path.stat().st_size)
"""
    subprocess.run([sys.executable, "-c", script, str(home / "backlog")], env=env, check=True)
    return sum(p.stat().st_size for p in (home / "backlog").iterdir())


def record(display: str, workload: Workload, home: Path, seconds: int, endpoint: str | None) -> dict:
    config = home / ".config" / "recorder" / "recorder.toml"  # the archive commands read it too
    config.parent.mkdir(parents=True, exist_ok=True)
    archive = (f'guards = ["archive"]\n[profiles.rep.archive]\nendpoint = "{endpoint}"\nbucket = "{BUCKET}"\n'
               f'region = "us-east-1"\ndrain_at_end = 0.0\n') if endpoint else "guards = []\n"
    config.write_text(f"[profiles.rep]\nfps = 30\nnotifiers = []\n{archive}[profiles.rep.mss]\ncursor = false\n")
    env = dict(os.environ, DISPLAY=display, HOME=str(home), AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    typing = workload.during()
    began = time.monotonic()
    proc = subprocess.Popen([str(RECORDER), "--profile", "rep", "--duration", str(seconds),
                             "--new-session"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - began
    workload.stop.set()
    typing.join()
    folder = Path(proc.stdout.read().strip().splitlines()[-1])
    manifest = json.loads((folder / "session.json").read_text())
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "wall_s": round(wall, 1),
            "frames": manifest["frames"], "dropped": manifest["dropped_frames"]}


def arrived(endpoint: str) -> int:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="backlog/"):
        total += sum(item["Size"] for item in page.get("Contents", []))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--backlog-mb", type=int, default=1024)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    xvfb, display = start_xvfb("1920x1080")
    server, endpoint = moto()
    results = {}
    try:
        with Workload("office", display) as workload:
            home = Path(tempfile.mkdtemp(prefix="recorder-bench-"))
            results["without_archive"] = record(display, workload, home, args.seconds, None)
        with Workload("office", display) as workload:
            home = Path(tempfile.mkdtemp(prefix="recorder-bench-"))
            results["archive_nothing_queued"] = record(display, workload, home, args.seconds, endpoint)
        with Workload("office", display) as workload:
            home = Path(tempfile.mkdtemp(prefix="recorder-bench-"))
            queued = backlog(home, endpoint, args.backlog_mb)
            run = record(display, workload, home, args.seconds, endpoint)
            run["backlog_mb"] = round(queued / 2**20)
            run["uploaded_while_recording_mb"] = round(arrived(endpoint) / 2**20, 1)
            results["archive_backlog_uploading"] = run
        # Then the rest at full speed, as the next start or recorder archive --drain does.
        began = time.monotonic()
        env = dict(os.environ, HOME=str(home))
        subprocess.run([str(RECORDER), "archive", "--drain"], env=env, capture_output=True)
        took = time.monotonic() - began
        left = queued / 2**20 - run["uploaded_while_recording_mb"]
        results["drain"] = {"mb": round(left, 1), "seconds": round(took, 1), "mb_per_s": round(left / took, 1)}
    finally:
        server.terminate()
        xvfb.terminate()
    base, idle, busy = (results[k]["cpu_s"] for k in ("without_archive", "archive_nothing_queued",
                                                      "archive_backlog_uploading"))
    results["start_cost_s"] = round(idle - base, 2)  # loading the S3 client, checking the bucket
    results["cpu_ratio_uploading_vs_archive_idle"] = round(busy / idle, 3)
    results["cpu_ratio_uploading_vs_no_archive"] = round(busy / base, 3)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
