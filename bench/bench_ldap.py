"""Benchmark: directory sign-in latency and ldap_sync at Xianyang size (loopback only, < 4 min).

1. 50 concurrent sign-ins through POST /login/ against a local slapd (START_TLS): p50/p99 for the
   first sign-in (creates person + post) and a repeat sign-in, on running processes; before them, the
   first burst of 50 (other people's first sign-ins) just after the processes start, on a row of its
   own (it also opens the database pool's and the directory's connections).
3. A hung directory (slapd stopped with SIGSTOP for 30 s): p50/p99 of ordinary pages (GET /, the
   workbench) of 8 signed-in directory people whose re-checks come due during the hang
   (LDAP_RECHECK_SECONDS=2), beside the same load with the directory answering; under two loads:
   saturating (each person's next page 50 ms after the last: p99 is the queue, the throughput shows)
   and paced (a page every 0.5 s per person on a fixed schedule, 16 pages/s offered; latency from
   the scheduled time, so a stall that delays requests is counted).
   Parts 1 and 3 run twice: one daphne on the embedded default (SQLite), and the README's production
   layout for this 2-core machine: two daphnes (one per core) behind Debian's nginx with
   deploy/nginx/yiwangtong.conf, on PostgreSQL (BENCH_LDAP_PG_URL, a database created and dropped
   here) and Redis (BENCH_LDAP_REDIS_URL).
2. ldap_sync of a generated directory of 3,000 units and 10,000 people into an empty database:
   wall time and peak memory (max RSS of the sync process), then a second run with no changes.

Everything runs in a temporary folder with its own SQLite database (BENCH_DATABASE_URL may name a
PostgreSQL database to use instead; it is wiped). Prints one table row per measurement, with the
machine's load average: figures taken while other work runs are not the machine's.

    .venv/bin/python bench/bench_ldap.py [signin] [hang] [sync]
"""
import http.client
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.ldap_server import (GROUP_BASE, PASSWORD, SUFFIX, Slapd, generated_entries, group,  # noqa: E402
                               ldif, org_entries, person)

CONCURRENCY = 50
PY = sys.executable


def ldap_env(server):
    values = server.settings()
    return {
        "LDAP_URL": ",".join(values["LDAP_URL"]), "LDAP_BIND_DN": values["LDAP_BIND_DN"],
        "LDAP_BIND_PASSWORD": values["LDAP_BIND_PASSWORD"], "LDAP_USER_BASE": SUFFIX,
        "LDAP_GROUP_BASE": GROUP_BASE, "LDAP_START_TLS": "1", "LDAP_CA_FILE": values["LDAP_CA_FILE"],
        "LDAP_DISABLED_ATTR": "employeeType", "LDAP_DISABLED_VALUES": "disabled", "LDAP_TIMEOUT": "5",
        "LOGIN_MAX_FAILURES": "1000",
    }


def base_env(tmp, name):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP_")}
    env.update({"DJANGO_SETTINGS_MODULE": "office.settings", "YW_VAR_DIR": str(tmp / f"var-{name}"),
                "LOG_LEVEL": "ERROR"})
    env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / f'{name}.sqlite3'}"
    env.pop("REDIS_URL", None)
    return env


def manage(env, *args, check=True):
    result = subprocess.run([PY, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result


def fresh_database(env):
    if env["DATABASE_URL"].startswith("postgres"):
        manage(env, "flush", "--no-input", check=False)
    manage(env, "migrate", "--no-input")


def row(name, value, note=""):
    print(f"| ldap | {name:<52} | {value:>22} | {note}")


# --- the servers: one daphne, or the README's production layout ------------------------------------
LAYOUTS = [("one daphne, SQLite", 1), ("2 daphnes + nginx, PostgreSQL", 2)]
PG_URL = os.environ.get("BENCH_LDAP_PG_URL", "postgres://postgres@127.0.0.1:5432/yw_bench_ldap")
REDIS_URL = os.environ.get("BENCH_LDAP_REDIS_URL", "redis://127.0.0.1:6379/0")


def layout_env(env, processes):
    """The embedded default for one daphne; for several, the production settings (PostgreSQL in a
    database of its own, created afresh, and Redis for cache and channel layer)."""
    if processes == 1:
        return env
    import psycopg

    base, _, name = PG_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return {**env, "DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL, "YW_CHANNEL_PREFIX": f"benchldap{os.getpid()}"}


class Front:
    """`processes` daphnes on one database; with more than one, Debian's nginx in front of them with the
    suite's own site file (deploy/nginx/yiwangtong.conf), as the README's production layout runs them
    (one daphne per core). .port is where clients go."""

    def __init__(self, env, processes, workdir):
        self.env, self.processes, self.workdir = env, processes, Path(workdir)
        self.servers, self.nginx = [], None

    def __enter__(self):
        from tests.conftest import ServerProcess, free_port

        env = {**self.env, "YW_TRUSTED_PROXIES": "127.0.0.1"} if self.processes > 1 else self.env
        self.servers = [ServerProcess(env).start() for _ in range(self.processes)]
        if self.processes == 1:
            self.port = self.servers[0].port
            return self
        from tests.multihost import start_nginx

        self.port = free_port()
        root = self.workdir / "nginx"
        self.nginx, _log = start_nginx(root, [f"127.0.0.1:{s.port}" for s in self.servers], self.port, root / "static")
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/login/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or self.nginx.poll() is not None:
                    raise SystemExit(f"nginx did not start: {(root / 'logs' / 'error.log').read_text()[-500:]}")
                time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        if self.nginx is not None:
            self.nginx.terminate()
            self.nginx.wait(10)
        for server in self.servers:
            server.stop()


# --- 1. concurrent sign-ins ----------------------------------------------------------------------
def sign_in(port, username, password, barrier, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login/")
    page = conn.getresponse()
    body = page.read().decode()
    cookie = next(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") if c.startswith("csrftoken="))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    barrier.wait()
    started = time.perf_counter()
    conn.request("POST", "/login/", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    results.append((time.perf_counter() - started, response.status))
    conn.close()


def round_of_sign_ins(port, users):
    barrier = threading.Barrier(len(users))
    results = []
    threads = [threading.Thread(target=sign_in, args=(port, u, PASSWORD, barrier, results)) for u in users]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    ok = sum(1 for _s, status in results if status == 302)
    if ok < len(users):
        print("  statuses:", sorted({status for _s, status in results}))
    times = sorted(s for s, _status in results)
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    return p50, p99, ok, wall


def bench_sign_in(tmp):
    server = Slapd(tmp / "slapd-signin").start()
    try:
        rounds = {n: [f"b{n}x{i:02d}" for i in range(CONCURRENCY)] for _label, n in LAYOUTS}
        starts = {n: [f"s{n}x{i:02d}" for i in range(CONCURRENCY)] for _label, n in LAYOUTS}
        solo = [f"solo{i:02d}" for i in range(20)]
        everyone = [u for users in [*rounds.values(), *starts.values()] for u in users] + solo
        county = f"ou=秦都区,ou=咸阳市,{SUFFIX}"
        entries = org_entries() + [person(f"uid={u},{county}", u, f"测试{i:03d}", title="干部")
                                   for i, u in enumerate(everyone)]
        entries.append(group(f"cn=承办人,{county}", [f"uid={u},{county}" for u in everyone]))
        server.add(entries)
        for label, processes in LAYOUTS:
            env = layout_env({**base_env(tmp, "signin"), **ldap_env(server)}, processes)
            fresh_database(env)
            manage(env, "seed_demo", "--size", "small")
            with Front(env, processes, tmp / f"front-signin-{processes}") as web:
                if processes == 1:
                    times = []
                    for user in solo:  # one at a time: the latency without queueing
                        results = []
                        sign_in(web.port, user, PASSWORD, threading.Barrier(1), results)
                        times.append(results[0][0])
                    times.sort()
                    row("single sign-in, one at a time (20, first sign-in)",
                        f"p50 {statistics.median(times) * 1000:.0f} ms", f"max {times[-1] * 1000:.0f} ms")
                # The first burst after the processes start also opens their database pool's connections
                # (PostgreSQL: one new backend each) and directory connections: its own row, then the
                # measured rounds on running processes.
                p50, p99, ok, wall = round_of_sign_ins(web.port, starts[processes])
                row(f"{CONCURRENCY} concurrent sign-ins just after the start, {label}", f"p99 {p99 * 1000:.0f} ms",
                    f"p50 {p50 * 1000:.0f} ms; {ok}/{CONCURRENCY} signed in (first sign-ins); all done in "
                    f"{wall:.2f} s; load {os.getloadavg()[0]:.1f}")
                for what in ("first sign-in (creates person + post)", "repeat sign-in"):
                    p50, p99, ok, wall = round_of_sign_ins(web.port, rounds[processes])
                    row(f"{CONCURRENCY} concurrent sign-ins, {what}, {label}", f"p99 {p99 * 1000:.0f} ms",
                        f"p50 {p50 * 1000:.0f} ms; {ok}/{CONCURRENCY} signed in; all done in {wall:.2f} s; "
                        f"load {os.getloadavg()[0]:.1f}")
    finally:
        server.destroy()


# --- 3. other people's pages while the directory hangs ----------------------------------------------
HANG_SECONDS = 30
PAGE_CLIENTS = 8
# Saturating: as many pages as the server gives (p99 = the queue, i.e. throughput); paced: a page
# every 0.5 s per person (16 pages/s offered, well below saturation: what a busy office sends).
PAGE_LOADS = [("saturating", None), ("paced 2/s each", 0.5)]


def signed_in_cookie(port, username):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login/")
    page = conn.getresponse()
    body = page.read().decode()
    csrf = next(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") if c.startswith("csrftoken="))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    conn.request("POST", "/login/", body=form, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                        "Cookie": csrf})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"sign-in of {username} failed: {response.status}")
    session = next(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") if c.startswith("sessionid="))
    conn.close()
    return session


def page_loop(port, cookie, until, times, statuses, interval=None):
    """GET / until `until`. interval=None: saturating (the next page 50 ms after the last answer).
    interval=T: paced (a page every T seconds on a fixed schedule; the latency counts from the
    scheduled time, so a slow answer that delays the next request is not hidden)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    scheduled = time.perf_counter() + (interval or 0) * random.random()
    while time.monotonic() < until:
        if interval:
            pause = scheduled - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        started = scheduled if interval else time.perf_counter()
        conn.request("GET", "/", headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - started)
        statuses.append(response.status)
        if interval:
            scheduled += interval
        else:
            time.sleep(0.05)
    conn.close()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def bench_hung_directory(tmp):
    import signal

    server = Slapd(tmp / "slapd-hang").start()
    try:
        users = [f"hang{i:02d}" for i in range(PAGE_CLIENTS)]
        county = f"ou=秦都区,ou=咸阳市,{SUFFIX}"
        server.add(org_entries() + [person(f"uid={u},{county}", u, f"挂起{i:02d}", title="干部")
                                    for i, u in enumerate(users)]
                   + [group(f"cn=承办人,{county}", [f"uid={u},{county}" for u in users])])
        for layout, processes in LAYOUTS:
            env = layout_env({**base_env(tmp, "hang"), **ldap_env(server), "LDAP_RECHECK_SECONDS": "2"}, processes)
            fresh_database(env)
            manage(env, "seed_demo", "--size", "small")
            with Front(env, processes, tmp / f"front-hang-{processes}") as web:
                cookies = [signed_in_cookie(web.port, u) for u in users]
                for mode, interval in PAGE_LOADS:
                    for label, hang in (("directory answering", False), (f"directory hung ({HANG_SECONDS} s)", True)):
                        if hang:
                            os.kill(server.pid(), signal.SIGSTOP)
                        times, statuses = [], []
                        until = time.monotonic() + HANG_SECONDS
                        threads = [threading.Thread(target=page_loop,
                                                    args=(web.port, c, until, times, statuses, interval))
                                   for c in cookies]
                        for t in threads:
                            t.start()
                        for t in threads:
                            t.join()
                        if hang:
                            os.kill(server.pid(), signal.SIGCONT)
                        ok = sum(1 for st in statuses if st == 200)
                        row(f"pages of {PAGE_CLIENTS} people, {mode}, {label}, {layout}",
                            f"p99 {percentile(times, 0.99) * 1000:.0f} ms",
                            f"p50 {percentile(times, 0.5) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
                            f"{len(times)} pages ({len(times) / HANG_SECONDS:.0f}/s), {ok} answered 200; "
                            f"re-check every 2 s, LDAP_TIMEOUT 5 s; load {os.getloadavg()[0]:.1f}")
    finally:
        try:
            os.kill(server.pid(), signal.SIGCONT)
        except (OSError, TypeError):
            pass
        server.destroy()


# --- 2. ldap_sync at Xianyang size ---------------------------------------------------------------
SYNC_SNIPPET = """
import resource, sys, time, django
django.setup()
from django.core.management import call_command
started = time.perf_counter()
call_command("ldap_sync", "--no-progress")
print("WALL", time.perf_counter() - started)
usage = resource.getrusage(resource.RUSAGE_SELF)
print("RSS", usage.ru_maxrss)
print("CPU", usage.ru_utime + usage.ru_stime)
"""


def run_sync(env):
    result = subprocess.run([PY, "-c", SYNC_SNIPPET], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"ldap_sync failed: {result.stderr[-2000:]}")
    wall = float(re.search(r"^WALL (\S+)", result.stdout, re.M).group(1))
    rss_mb = int(re.search(r"^RSS (\d+)", result.stdout, re.M).group(1)) / 1024
    cpu = float(re.search(r"^CPU (\S+)", result.stdout, re.M).group(1))
    summary = next((line for line in result.stdout.splitlines() if line.startswith("单位")), "")
    return wall, rss_mb, cpu, summary


def bench_sync(tmp):
    server = Slapd(tmp / "slapd-sync").start()
    try:
        entries, n_units, n_people = generated_entries(3000, 10000)
        path = tmp / "xianyang.ldif"
        path.write_text(ldif(entries), encoding="utf-8")
        started = time.perf_counter()
        server.add_ldif_file(path)
        row("load generated directory with ldapadd (setup)", f"{time.perf_counter() - started:.1f} s",
            f"{n_units} ous, {n_people} people, {len(entries)} entries")
        env = {**base_env(tmp, "sync"), **ldap_env(server)}
        fresh_database(env)
        wall, rss, cpu, summary = run_sync(env)
        row(f"ldap_sync first run ({n_units} units, {n_people} people)", f"{wall:.1f} s",
            f"CPU {cpu:.1f} s (process, incl. start-up); peak RSS {rss:.0f} MB; {summary}")
        wall, rss, cpu, summary = run_sync(env)
        row("ldap_sync second run, nothing changed", f"{wall:.1f} s",
            f"CPU {cpu:.1f} s; peak RSS {rss:.0f} MB; {summary}")
    finally:
        server.destroy()


def main():
    tmp = Path(tempfile.mkdtemp(prefix="bench-ldap-"))
    try:
        parts = sys.argv[1:] or ["signin", "hang", "sync"]
        print(f"| area | measurement{' ' * 41} | {'value':>22} | notes")
        if "signin" in parts:
            bench_sign_in(tmp)
        if "hang" in parts:
            bench_hung_directory(tmp)
        if "sync" in parts:
            bench_sync(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        drop_pg_database()


def drop_pg_database():
    try:
        import psycopg

        base, _, name = PG_URL.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001
        print(f"(could not drop the bench database: {exc})")


if __name__ == "__main__":
    main()
