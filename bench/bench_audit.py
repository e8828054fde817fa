"""Benchmark: audited writes per second on PostgreSQL (issue 11 §8: at least 1,000/s).

Starts its own PostgreSQL cluster (tests/pg_server.py; BENCH_DATABASE_URL may name another database,
which is wiped), migrates it, then runs PROCESSES × THREADS writers for SECONDS: each write is one
transaction with one audit.record() (the audited part of every action), committed. The sealer runs
as in production (after commits, at most every 0.2 s per process). Reported: writes/s, how long the
last seal took to catch up, and audit_verify over the result. For comparison the same load runs with
the former scheme's cost (every write locks the one head row until its commit).

Timings on a shared machine are noisy; run it alone for figures worth quoting.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.pg_server import Postgres  # noqa: E402

PROCESSES = int(os.environ.get("BENCH_AUDIT_PROCESSES", 4))
THREADS = int(os.environ.get("BENCH_AUDIT_THREADS", 4))
SECONDS = float(os.environ.get("BENCH_AUDIT_SECONDS", 8))
PY = sys.executable

WORKER = r"""
import os, sys, threading, time
import django
django.setup()
from django.db import connections, transaction
from office import audit
from office.models import AuditHead

seconds, threads, locked = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
counts = [0] * threads
connections["default"].ensure_connection()
print("READY", flush=True)
start_at = float(sys.stdin.readline())  # the same clock start for every process, once all are ready

def run(t):
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    n = 0
    while time.time() < end:
        with transaction.atomic():
            if locked:  # the former scheme: one head row, locked by every write until its commit
                head = AuditHead.objects.select_for_update().get(id=1)
                AuditHead.objects.filter(id=1).update(seq=head.seq)
            audit.record("bench.write", data={"worker": os.getpid(), "thread": t, "n": n})
        n += 1
    counts[t] = n
    connections.close_all()

import resource
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
print("WRITES", sum(counts), "CPU", cpu)
"""

CATCH_UP = r"""
import time, django
django.setup()
from office import audit
from office.models import AuditEntry
pending = AuditEntry.objects.filter(seq__isnull=True).count()
t = time.perf_counter(); sealed = audit.seal(wait=True); seal_s = time.perf_counter() - t
t = time.perf_counter(); n = audit.verify(); verify_s = time.perf_counter() - t
print("PENDING", pending, "SEALED", sealed, "SEAL_S", seal_s, "VERIFIED", n, "VERIFY_S", verify_s)
"""


def row(name, value, note=""):
    print(f"| audit | {name:<50} | {value:>18} | {note}")


def manage(env, *args):
    done = subprocess.run([PY, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed: {done.stderr[-2000:]}")


def server_cpu(server):
    """CPU seconds used so far by our PostgreSQL cluster (the postmaster and its children)."""
    if server is None:
        return None
    root = server.pid()
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        if pid == root:  # itself, and the backends it has reaped (connections closed)
            total += sum(int(x) for x in fields[11:15]) / tick
        elif ppid == root:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_load(env, locked, server=None):
    procs = [subprocess.Popen([PY, "-c", WORKER, str(SECONDS), str(THREADS), "1" if locked else "0"],
                              cwd=BASE_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(PROCESSES)]
    for proc in procs:  # every process imported and connected before the clock starts
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit(f"writer did not start: {proc.stderr.read()[-2000:]}")
    start_at = time.time() + 0.5
    total, client_cpu = 0, 0.0
    server_before = server_cpu(server)
    for proc in procs:
        proc.stdin.write(f"{start_at}\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=SECONDS + 120)
        if proc.returncode != 0:
            raise SystemExit(f"writer failed: {err[-2000:]}")
        total += int(re.search(r"WRITES (\d+)", out).group(1))
        client_cpu += float(re.search(r"CPU (\S+)", out).group(1))
    server_used = server_cpu(server) - server_before if server is not None else None
    return total, client_cpu, server_used


def catch_up(env):
    done = subprocess.run([PY, "-c", CATCH_UP], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"seal/verify failed: {done.stderr[-2000:]}")
    fields = done.stdout.split()
    return dict(zip(fields[0::2], fields[1::2]))


def main():
    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    server = None
    try:
        url = os.environ.get("BENCH_DATABASE_URL")
        if not url:
            server = Postgres(tmp / "pg").start()
            url = server.createdb("bench_audit")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LDAP_", "REDIS_"))}
        env.update({"DJANGO_SETTINGS_MODULE": "office.settings", "DATABASE_URL": url, "YW_VAR_DIR": str(tmp / "var"),
                    "LOG_LEVEL": "ERROR"})
        if os.environ.get("BENCH_DATABASE_URL"):
            manage(env, "flush", "--no-input")
        manage(env, "migrate", "--no-input")
        print(f"| area | measurement{' ' * 39} | {'value':>18} | notes")
        writers = PROCESSES * THREADS
        for locked, label in ((False, "sealed in batches (now)"), (True, "one head row locked per write (before)")):
            total, client_cpu, server_used = run_load(env, locked, server)
            result = catch_up(env)
            row(f"audited writes/s, {label}", f"{total / SECONDS:,.0f} /s",
                f"{total} writes by {writers} writers ({PROCESSES} processes × {THREADS} threads) in {SECONDS:.0f} s; "
                f"{result['PENDING']} left to seal at the end, sealed in {float(result['SEAL_S']) * 1000:.0f} ms")
            per_write = (client_cpu + (server_used or 0)) / max(total, 1) * 1000
            row(f"CPU per audited write ({label})", f"{per_write:.2f} ms",
                f"client {client_cpu / max(total, 1) * 1000:.2f} ms + PostgreSQL "
                f"{(server_used or 0) / max(total, 1) * 1000:.2f} ms (incl. sealing): an idle 2-core machine "
                f"does about {2000 / max(per_write, 0.001):,.0f} writes/s")
            row(f"audit_verify after it ({label})", f"{float(result['VERIFY_S']):.2f} s",
                f"{result['VERIFIED']} entries, chain intact")
    finally:
        if server is not None:
            server.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
