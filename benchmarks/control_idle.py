"""What the control channel costs while nobody talks to it, and with idle subscribers.

Starts ``recorder --profile rep --source synthetic`` in a fresh HOME, connects
``--subscribers`` clients that subscribe and then only wait, and samples the
CPU time of every thread of the recorder for ``--seconds``: the control
channel's threads (named recorder-control*) separately from the rest.

    python benchmarks/control_idle.py --seconds 30 --subscribers 2
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

TICK = os.sysconf("SC_CLK_TCK")


ACCEPT4 = {"x86_64": 288, "aarch64": 242}.get(os.uname().machine)


def threads(pid: int) -> dict[int, tuple[float, int, str]]:
    """Per thread id: CPU seconds (user + system), voluntary context switches, the syscall it waits in."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            switches = next(int(line.split()[1]) for line in (task / "status").read_text().splitlines()
                            if line.startswith("voluntary_ctxt_switches"))
            syscall = (task / "syscall").read_text().split()[0]
        except (OSError, StopIteration):
            continue
        found[int(task.name)] = ((int(fields[11]) + int(fields[12])) / TICK, switches, syscall)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--subscribers", type=int, default=2)
    args = parser.parse_args()
    recorder = str(Path(sys.executable).with_name("recorder"))
    home = Path(tempfile.mkdtemp(prefix="recorder-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "RECORDER_"))} | {"HOME": str(home)}
    proc = subprocess.Popen([recorder, "--profile", "rep", "--source", "synthetic", "--fps", "15"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([recorder, "status", "--wait", "20"], env=env, check=True, capture_output=True)
    run = home / ".local" / "state" / "recorder" / "run"
    # Python 3.11 gives threads no OS names: the channel's threads are found by what
    # they do. The listener is the thread waiting in accept4; each subscriber adds two.
    time.sleep(3)  # threads that start lazily (the part sealer) start before the snapshot
    alone = threads(proc.pid)
    listener = [tid for tid, (_, _, syscall) in alone.items() if syscall == str(ACCEPT4)]
    clients = []
    for _ in range(args.subscribers):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        os.chdir(run)  # a short address whatever the HOME
        sock.connect("rep.sock")
        sock.sendall(b'{"id": 1, "command": "subscribe"}\n')
        clients.append(sock)
    time.sleep(2)
    before, began = threads(proc.pid), time.monotonic()
    channel = listener + [tid for tid in before if tid not in alone]
    time.sleep(args.seconds)
    after, elapsed = threads(proc.pid), time.monotonic() - began
    subprocess.run([recorder, "stop"], env=env, check=True, capture_output=True)
    proc.wait(30)

    def spent(tids):
        cpu = sum(after[t][0] - before[t][0] for t in tids if t in after and t in before)
        wakeups = sum(after[t][1] - before[t][1] for t in tids if t in after and t in before)
        return cpu, wakeups

    control_cpu, control_wakeups = spent(channel)
    total_cpu, _ = spent(list(after))
    per_thread = {tid: {"cpu_s": round(after[tid][0] - before[tid][0], 3),
                        "wakeups": after[tid][1] - before[tid][1], "waits_in_syscall": after[tid][2]}
                  for tid in channel if tid in after and tid in before}
    result = {"seconds": round(elapsed, 1), "subscribers": args.subscribers, "per_thread": per_thread,
              "control_threads": len(channel), "control_channel_cpu_s": round(control_cpu, 3),
              "control_channel_wakeups": control_wakeups,
              "recorder_cpu_percent": round(100 * total_cpu / elapsed, 2), "clock_tick_s": 1 / TICK}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
