"""Benchmark: live-event fan-out over /ws/ to 1,000 and 5,000 websocket clients.

    .venv/bin/python bench/bench_events.py [--sizes 1000,5000] [--configs memory,redis] [--stock]

For each configuration and size N:
- N people, each with a post in ONE unit and a session minted with Django's session store,
  are created in a throwaway database (memory: a SQLite file under a temp folder; redis: the
  PostgreSQL database yw_bench_events, created and dropped here);
- the real asgi.application is served by daphne (memory: one process with the in-memory layer;
  redis: two processes on REDIS_URL with a private channel prefix) and N sockets connect from 4
  client processes (bench/_wsclient.py), each socket authenticated as a different person with
  the sessionid cookie and an allowed Origin, spread over the server processes;
- ONE event addressed to that unit is sent: a transaction writes an audit entry, and right after
  COMMIT (transaction.on_commit) send_event({"type": "bench", ..., "t": time.time()},
  units=[unit]) runs. It runs inside server process 1, as an action behind an HTTP request
  would: a bench-only endpoint of this script's server wrapper (POST /__bench/fire, never part
  of asgi.py) runs the transaction. The in-memory layer exists only inside that process anyway;
  with Redis the event goes through Redis to the hubs of both processes. (Publishing from a
  plain sync process instead costs a fresh event loop and Redis connection per send_event,
  since async_to_sync starts a new loop each time: not what the servers do.);
- each client socket records when the frame reached it in the kernel (SO_TIMESTAMPNS) and when
  the client process read it (time.time()); latency = that - commit timestamp (one machine, one
  clock). Reported: p50/p99/max of both, how many of N arrived, server RSS growth per connection
  (from before the first socket), server CPU time (all server processes) from the send until
  the last client has its frame.
The sizes run in increasing order on the same server processes (1,000 sockets, one event; 4,000
more sockets, one event) to keep the run short: a handshake costs the server ~10 ms of CPU.
The client processes share the 2 cores with the servers (and whatever else runs): the kernel
timestamps keep the clients' own CPU wait out of the main figures; the app columns include it.

--stock adds the same measurement with a stock Channels consumer (joins one group, relays
group_send) at /ws/stock/ of the bench wrapper, for comparison with the hub design.
Runtime: about 2-4 minutes for the default sizes and both configurations (machine load).
"""
import argparse
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs

BASE_DIR = Path(__file__).resolve().parent.parent
CLIENT = Path(__file__).resolve().parent / "_wsclient.py"
PY = sys.executable
PG_DB = "yw_bench_events"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CLIENT_PROCESSES = 4
EVENTS_PER_SIZE = 3  # one event at a time; the figures pool the deliveries of all three


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


# ---- the server process (daphne in this process, serving asgi.application + bench paths) -----
def serve(port):
    raise_fd_limit()
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    import asgi  # noqa: F401 - sets up Django

    from asgiref.sync import sync_to_async
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.layers import get_channel_layer
    from daphne.cli import CommandLineInterface

    class StockConsumer(AsyncWebsocketConsumer):
        """A stock Channels consumer joined to one group (the comparison)."""

        async def connect(self):
            await self.channel_layer.group_add("bench.stock", self.channel_name)
            await self.accept()
            await self.send(text_data='{"type": "hello", "op": "connected"}')

        async def disconnect(self, code):
            await self.channel_layer.group_discard("bench.stock", self.channel_name)

        async def bench_event(self, message):
            await self.send(text_data=message["frame"])

    stock_app = StockConsumer.as_asgi()

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__bench/fire":
            query = parse_qs(scope["query_string"].decode())
            unit_id, stock = int(query["unit"][0]), query.get("stock", ["0"])[0] == "1"
            await sync_to_async(fire, thread_sensitive=True)(unit_id, stock, int(query.get("seq", ["0"])[0]))
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"fired"})
            return
        if scope["type"] == "http" and scope["path"] == "/__bench/hub":  # diagnostics after a miss
            from collections import Counter

            from office.hub import hub

            sockets = {c for members in hub.by_key.values() for c in members}
            states = Counter(str(getattr(getattr(c, "protocol", None), "state", None)) for c in sockets)
            body = json.dumps({
                "listener": None if hub.listener is None else
                ("running" if not hub.listener.done() else "cancelled" if hub.listener.cancelled()
                 else "done: " + repr(hub.listener.exception())),
                "channel": hub.channel_name, "sockets": len(sockets), "protocol_states": states,
            }).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "websocket" and scope["path"] == "/ws/stock/":
            await stock_app(scope, receive, send)
            return
        await asgi.application(scope, receive, send)

    get_channel_layer()  # fail early on a bad layer configuration
    sys.modules["__main__"].application = application
    profile_to = os.environ.get("BENCH_PROFILE_SERVER")  # a path: cProfile the whole server run
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        import atexit

        atexit.register(lambda: (profiler.disable(), profiler.dump_stats(f"{profile_to}.{os.getpid()}")))
    CommandLineInterface().run([
        "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
        "--websocket_connect_timeout", "120", "-v", "0", "__main__:application",
    ])


def fire(unit_id, stock=False, seq=0):
    """One real transaction; the event is stamped and sent right after its COMMIT."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import transaction

    from office import audit
    from office.events import send_event

    def after_commit():
        event = {"type": "bench", "op": "fire", "unit": unit_id, "seq": seq, "t": time.time()}
        if stock:
            async_to_sync(get_channel_layer().group_send)(
                "bench.stock", {"type": "bench.event", "frame": json.dumps(event)})
        else:
            send_event(event, units=[unit_id])  # outside the transaction now: publishes at once

    with transaction.atomic():
        audit.record("bench.fire", data={"unit": unit_id, "stock": stock})
        transaction.on_commit(after_commit)


# ---- the driver: one configuration (one Django settings), all sizes ------------------------
def percentiles(values):
    """(p50, p99, max) of the values, or Nones."""
    if not values:
        return None, None, None
    values = sorted(values)
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[98], values[-1]


def server_rss(procs):
    import psutil

    return sum(psutil.Process(p.pid).memory_info().rss for p in procs)


def server_cpu(procs):
    import psutil

    return sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in procs)


def wait_up(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bench server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"bench server on port {port} did not start")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_people(n, unit_ids=None):
    """N people with a post in one new unit (or one each in `unit_ids`, round robin), and a session
    for each; returns (the first unit's id, session keys)."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from office import actions
    from office.models import Person, Post

    if not unit_ids:
        unit_ids = [actions.do_create_unit(kind="city", name="基准测试市人民政府", short_name="基准市").id]
    tag = secrets.token_hex(3)
    unusable = make_password(None)
    people = Person.objects.bulk_create(
        [Person(username=f"bench-{tag}-{i}", display_name=f"测试{i}", password=unusable) for i in range(n)],
        batch_size=1000)
    if people[0].pk is None:  # backends without RETURNING ids
        people = list(Person.objects.filter(username__startswith=f"bench-{tag}-").order_by("id"))
    Post.objects.bulk_create([Post(person=p, unit_id=unit_ids[i % len(unit_ids)], is_handler=True)
                              for i, p in enumerate(people)], batch_size=1000)
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    backend = settings.AUTHENTICATION_BACKENDS[0]
    keys, rows = [], []
    for p in people:
        key = store._get_new_session_key()
        keys.append(key)
        data = {SESSION_KEY: str(p.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: p.get_session_auth_hash()}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
    Session.objects.bulk_create(rows, batch_size=1000)
    return unit_ids[0], keys


def collect(clients, command):
    """Send one command ("fired SEQ") to every client process; pool their answers →
    (kernel latencies, app latencies, duplicates, errors)."""
    for c in clients:
        c.stdin.write(command + "\n")
        c.stdin.flush()
    kernel, app, duplicates, errors = [], [], 0, []
    for c in clients:
        result = json.loads(c.stdout.readline())
        kernel += result["kernel"]
        app += result["app"]
        duplicates += result["duplicates"]
        errors += result["errors"]
    return kernel, app, duplicates, errors


def run_design(config, sizes, unit_id, sessions_path, server_env, stock):
    """Start the server process(es) once; grow the clients to each size; one event per size."""
    ports = [free_port() for _ in range(1 if config == "memory" else 2)]
    servers = [subprocess.Popen([PY, __file__, "--serve", str(port)], cwd=BASE_DIR, env=server_env,
                                stdout=subprocess.DEVNULL, stderr=sys.stderr) for port in ports]
    clients, rows = [], []
    try:
        for port, proc in zip(ports, servers):
            wait_up(port, proc)
        time.sleep(0.5)
        rss_base = server_rss(servers)
        path = "/ws/stock/" if stock else "/ws/"
        have = connected = 0
        for seq, n in enumerate(sorted(sizes)):
            more = n - have
            per = [more // CLIENT_PROCESSES + (1 if i < more % CLIENT_PROCESSES else 0)
                   for i in range(CLIENT_PROCESSES)]
            start, t0, new_clients = have, time.monotonic(), []
            for i, count in enumerate(per):
                if not count:
                    continue
                port = ports[i % len(ports)]  # every client process on its own server, round robin
                new_clients.append(subprocess.Popen(
                    [PY, str(CLIENT), f"ws://127.0.0.1:{port}{path}", f"http://127.0.0.1:{port}",
                     str(sessions_path), str(start), str(count)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True))
                start += count
            clients += new_clients
            for c in new_clients:
                line = c.stdout.readline().split()
                if not line or line[0] != "READY":
                    raise RuntimeError(f"a client process failed before READY: {line}")
                connected += int(line[1])
            have = n
            log(f"{config}{' stock' if stock else ''}: {connected} of {n} sockets connected "
                f"({time.monotonic() - t0:.1f} s for the last {more})")
            time.sleep(1.0)
            rss = server_rss(servers)
            latencies, app_latencies, cpu_used, duplicates = [], [], 0.0, 0
            for repeat in range(EVENTS_PER_SIZE):
                event_seq = seq * EVENTS_PER_SIZE + repeat
                cpu_before = server_cpu(servers)
                # The event is committed and published inside server process 1, as behind any
                # action's HTTP request; with Redis it reaches server 2's sockets through Redis.
                query = f"unit={unit_id}&stock={int(stock)}&seq={event_seq}"
                req = urllib.request.Request(f"http://127.0.0.1:{ports[0]}/__bench/fire?{query}", method="POST")
                with urllib.request.urlopen(req, timeout=30) as r:
                    r.read()
                kernel, app, dup, errors = collect(clients, f"fired {event_seq}")
                latencies += kernel
                app_latencies += app
                duplicates += dup
                if errors:
                    log(f"client errors: {errors}")
                cpu_used += server_cpu(servers) - cpu_before
                time.sleep(0.5)
            cpu_used /= EVENTS_PER_SIZE
            if len(latencies) < EVENTS_PER_SIZE * connected and not stock:
                for port in ports:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__bench/hub", timeout=30) as r:
                        log(f"MISSING DELIVERIES: hub on port {port}: {r.read().decode()}")
            q, app_q = percentiles(latencies), percentiles(app_latencies)
            rows.append({
                "config": config, "design": "stock group_send" if stock else "hub", "n": n,
                "servers": len(servers), "connected": connected, "events": EVENTS_PER_SIZE,
                "received": len(latencies),
                "p50": q[0], "p99": q[1], "max": q[2], "app_p50": app_q[0], "app_p99": app_q[1], "app_max": app_q[2],
                "kb_per_conn": (rss - rss_base) / 1024 / max(connected, 1),
                "server_cpu_ms": cpu_used * 1000, "duplicates": duplicates,
            })
        return rows
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
            c.wait()
        for s in servers:
            if s.poll() is None:
                s.terminate()
                try:
                    s.wait(10)
                except subprocess.TimeoutExpired:
                    s.kill()
                    s.wait()


def pg_admin(sql):
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql)


def drive(config, sizes, stock):
    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="yw-bench-events-"))
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", "YW_VAR_DIR": str(tmp),
        "SECRET_KEY": secrets.token_urlsafe(48), "DEBUG": "false",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    prefix = None
    if config == "memory":
        env.pop("REDIS_URL", None)
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    else:
        env["REDIS_URL"] = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        prefix = env["YW_CHANNEL_PREFIX"] = f"ywbench{os.getpid()}"
        admin = PG_ADMIN_URL.rsplit("/", 1)[0]
        env["DATABASE_URL"] = f"{admin}/{PG_DB}"
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_DB}")
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        t0 = time.monotonic()
        call_command("migrate", verbosity=0, interactive=False)
        unit_id, keys = build_people(max(sizes))
        sessions_path = tmp / "sessions.json"
        sessions_path.write_text(json.dumps(keys))
        log(f"{config}: database ready with {len(keys)} people in {time.monotonic() - t0:.1f} s")
        connections.close_all()
        for use_stock in ((False, True) if stock else (False,)):
            for row in run_design(config, sizes, unit_id, sessions_path, env, use_stock):
                print("RESULT " + json.dumps(row), flush=True)
    finally:
        connections.close_all()
        if config == "redis":
            try:
                pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop {PG_DB}: {exc}")
            clean_redis(env["REDIS_URL"], prefix)
        shutil.rmtree(tmp, ignore_errors=True)


def clean_redis(url, prefix):
    """Delete the bench's channel-layer keys (its private prefix) from Redis."""
    try:
        import redis

        r = redis.Redis.from_url(url)
        stale = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if stale:
            r.delete(*stale)
    except Exception as exc:  # noqa: BLE001
        log(f"could not clean Redis keys {prefix}*: {exc}")


def fmt_ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--configs", default="memory,redis")
    parser.add_argument("--stock", action="store_true", help="also measure a stock Channels group_send consumer")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.drive:
        drive(args.drive, sizes, args.stock)
        return
    rows, failed = [], False
    for config in args.configs.split(","):
        cmd = [PY, __file__, "--drive", config, "--sizes", args.sizes] + (["--stock"] if args.stock else [])
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=600)
        rows += [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0:
            failed = True
            log(f"configuration {config} failed (exit {proc.returncode})")
    header = (f"{'layer':<8} {'design':<16} {'servers':>7} {'clients':>7} {'received':>15} "
              f"{'p50':>8} {'p99':>8} {'max':>8} {'app p50':>8} {'app p99':>8} {'app max':>8} "
              f"{'KB/conn':>8} {'srv CPU':>8}")
    print(f"bench_events: an event to one unit of N people, one socket each; {EVENTS_PER_SIZE} events per "
          f"size; received = deliveries/(events × N); p50/p99/max: commit → the frame in the client's "
          f"socket (kernel timestamp); app: → read by the client process; srv CPU per event")
    print(header)
    print("-" * len(header))
    for r in rows:
        expected = r["events"] * r["n"]
        print(f"{r['config']:<8} {r['design']:<16} {r['servers']:>7} {r['n']:>7} "
              f"{r['received']:>7}/{expected:<7}{fmt_ms(r['p50']):>7} {fmt_ms(r['p99']):>8} {fmt_ms(r['max']):>8} "
              f"{fmt_ms(r['app_p50']):>8} {fmt_ms(r['app_p99']):>8} {fmt_ms(r['app_max']):>8} "
              f"{r['kb_per_conn']:>8.1f} {fmt_ms(r['server_cpu_ms'] / 1000):>8}"
              + (f"  {r['duplicates']} DUPLICATES" if r["duplicates"] else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
