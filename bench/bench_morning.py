"""Benchmark: a prefecture's morning — 10,000 websockets through nginx, 200 people loading pages, one 核发.

    .venv/bin/python bench/bench_morning.py [--connections 10000] [--pages 200] [--configs four,one]
    .venv/bin/python bench/run_all.py morning

On the Xianyang-sized organisation (office.seed.build_demo, ~3,200 units) in PostgreSQL
(BENCH_MORNING_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/yw_bench_morning, dropped
and created here) with the Redis channel layer (REDIS_URL, a private channel prefix):
- N people (default 10,000) get a post each, spread over the units that the city's notice goes to
  (every unit under the city), and a session minted with Django's session store;
- for each configuration — "four": four daphne processes behind nginx, "one": one daphne behind
  nginx — nginx (deploy/nginx/yiwangtong.conf, as tests/multihost.py starts it) listens on
  loopback and every client goes through it;
- N sockets connect to /ws/ through nginx (bench/_wsclient.py, 5 client processes), one person each;
- 200 of those people, signed in, load their inbox (/documents/) and a document page
  (/documents/<id>/) in turn for the whole measurement, each every ~PAGE_INTERVAL seconds;
- meanwhile the city secretary's 核发 of a registered notice to every unit under the city runs
  inside daphne 1 (the real documents.actions.do_dispatch behind a bench-only endpoint of this
  script's server wrapper, never part of asgi.py); an on_commit hook registered before it stamps
  the commit time; the "arrived" event goes to every recipient unit through Redis;
- reported per configuration: sockets connected and the time to connect them; deliveries of the
  "arrived" frame (must be N of N); p50/p99/max from commit to the frame in the client's socket
  (kernel timestamp, SO_TIMESTAMPNS) and to the client process reading it; the 核发's own time to
  commit; pages loaded, errors and p50/p99 page latency (measured by the page client); daphne RSS
  growth per connection (all daphnes, from before the first socket); nginx RSS; the load average.
The clients share this machine's cores with the servers, nginx, PostgreSQL and Redis: the kernel
timestamps keep the clients' own CPU wait out of the delivery figures; page latencies include it.
Raises the file-descriptor limit (RLIMIT_NOFILE) of this process and its children as needed.
Runtime at full size: roughly 10 minutes on 2 cores.
"""
import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_DIR = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(BASE_DIR))

import bench_events as ev  # noqa: E402 - the fan-out bench's helpers (percentiles, RSS, ports, PostgreSQL)

CLIENT = HERE / "_wsclient.py"
PY = sys.executable
DB_URL = os.environ.get("BENCH_MORNING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/yw_bench_morning")
CLIENT_PROCESSES = 5
NGINX_WORKERS = 4  # nginx worker processes (each has its own file-descriptor limit)
PAGE_INTERVAL = 10.0  # seconds between one person's page loads (uniformly 0.5x-1.5x)
WARM_SECONDS = 8.0  # pages load this long before the 核发, and after it until the deliveries are in + this


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def raise_fd_limit(wanted):
    """Raise RLIMIT_NOFILE (inherited by the servers, nginx and the clients) to `wanted`: the hard
    limit too where this process may (root with CAP_SYS_RESOURCE), else up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            pass
    target = min(max(soft, wanted), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


# ---- the server process: daphne serving asgi.application + the bench's 核发 endpoint ----------
def serve(port):
    raise_fd_limit(1 << 16)
    os.chdir(BASE_DIR)
    import asgi  # noqa: F401 - sets up Django

    from asgiref.sync import sync_to_async
    from daphne.cli import CommandLineInterface

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/__bench/dispatch":
            from urllib.parse import parse_qs

            doc_id = int(parse_qs(scope["query_string"].decode())["doc"][0])
            try:
                result = await sync_to_async(dispatch, thread_sensitive=True)(doc_id)
            except Exception as exc:  # noqa: BLE001 - reported in the table, not a crash of the run
                result = {"error": repr(exc)[:300]}
            body = json.dumps(result).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await asgi.application(scope, receive, send)

    sys.modules["__main__"].application = application
    CommandLineInterface().run([
        "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
        "--websocket_connect_timeout", "120", "-v", "0", "__main__:application",
    ])


def dispatch(doc_id):
    """The city secretary's real 核发; the commit time is stamped before the action's own hooks
    (send_event) run."""
    from django.db import transaction

    from documents import actions
    from documents.models import Document
    from office.models import Person

    sec = Person.objects.get(username="city_secretary")
    post = actions.person_posts(sec)[0]
    stamp = {}
    started = time.time()
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.setdefault("t", time.time()))
        result = actions.do_dispatch(person=sec, post=post, doc=Document.objects.get(id=doc_id))
    return {"t": stamp["t"], "seconds": stamp["t"] - started, "recipients": result.recipient_count}


# ---- the page clients: signed-in people loading their inbox and a document ------------------
def pages_client(url, sessions_path, doc_id, seconds):
    keys = json.loads(Path(sessions_path).read_text())

    async def main():
        import aiohttp

        timings, errors = [], []
        stop = time.monotonic() + seconds
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            async def person(key, index):
                await asyncio.sleep(random.uniform(0, PAGE_INTERVAL))
                paths = ["/documents/", f"/documents/{doc_id}/"]
                n = index
                while time.monotonic() < stop:
                    path = paths[n % 2]
                    n += 1
                    t = time.monotonic()
                    try:
                        async with http.get(url + path, headers={"Cookie": f"sessionid={key}"},
                                            allow_redirects=False) as r:
                            await r.read()
                            if r.status != 200:
                                errors.append(f"{path}: {r.status}")
                            else:
                                timings.append((path, time.monotonic() - t))
                    except Exception as exc:  # noqa: BLE001 - counted and reported
                        errors.append(f"{path}: {exc!r}"[:200])
                    await asyncio.sleep(PAGE_INTERVAL * random.uniform(0.5, 1.5))

            await asyncio.gather(*(person(k, i) for i, k in enumerate(keys)))
        print(json.dumps({"timings": timings, "errors": errors}), flush=True)

    asyncio.run(main())


# ---- the driver ----------------------------------------------------------------------------
def setup_django():
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "office.settings")
    import django

    django.setup()


def recreate_database():
    base, _, name = DB_URL.rpartition("/")
    admin = f"{base}/postgres"
    ev.PG_ADMIN_URL = admin
    ev.pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ev.pg_admin(f'CREATE DATABASE "{name}"')
    return lambda: ev.pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def registered_notice(sec, leader, city, title):
    """A notice of the city to every unit under it, signed and numbered, ready for 核发."""
    from documents import actions
    from documents.models import Document

    post = actions.person_posts(sec)[0]
    doc = actions.do_create_document(person=sec, post=post, data={
        "title": title, "doc_type": "通知", "urgency": "特急",
        "body": [{"kind": "p", "text": "各单位要高度重视冬季防火工作。"}],
        "main": [f"under:{city.id}:all"], "cc": []})
    actions.do_submit(person=sec, post=post, doc=doc, signers=[actions.person_posts(leader)[0].id])
    step = actions.active_steps(Document.objects.get(id=doc.id))[0]
    actions.do_decide(person=leader, step_id=step.id, decision="agree")
    return actions.do_register(person=sec, post=post, doc=Document.objects.get(id=doc.id))


def prepare(n, configs):
    """The organisation, the notices and N people with sessions; returns what the runs need."""
    from django.core.management import call_command

    from documents import actions
    from office.models import Person, Unit, UnitKind
    from office.seed import build_demo

    t0 = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    build_demo()
    city = Unit.objects.get(kind=UnitKind.CITY)
    sec = Person.objects.get(username="city_secretary")
    leader = Person.objects.get(username="city_leader")
    # yesterday's notice: in every inbox, its page is the document page the people load
    earlier = registered_notice(sec, leader, city, "咸阳市人民政府关于做好冬季安全生产工作的通知")
    actions.do_dispatch(person=sec, post=actions.person_posts(sec)[0], doc=earlier)
    notices = {c: registered_notice(sec, leader, city, f"咸阳市人民政府关于做好冬季防火工作的通知（{c}）").id
               for c in configs}
    units = list(earlier.main_recipients.values_list("id", flat=True))
    _first, keys = ev.build_people(n, unit_ids=units)
    log(f"prepared {Unit.objects.count()} units, {n} people in {len(units)} recipient units, "
        f"in {time.monotonic() - t0:.0f} s")
    return {"keys": keys, "earlier": earlier.id, "notices": notices, "units": len(units)}


def nginx_rss(pidfile):
    import psutil

    try:
        master = psutil.Process(int(Path(pidfile).read_text().strip()))
        return sum(p.memory_info().rss for p in [master, *master.children()])
    except (OSError, ValueError, psutil.Error):
        return 0


def run_config(config, n, pages, prep, env, tmp, seconds_after):
    from tests.multihost import start_nginx

    count = 4 if config == "four" else 1
    ports = [ev.free_port() for _ in range(count)]
    servers = [subprocess.Popen([PY, __file__, "--serve", str(p)], cwd=BASE_DIR, env=env,
                                stdout=subprocess.DEVNULL, stderr=sys.stderr) for p in ports]
    procs, clients = [], []
    root = tmp / f"nginx-{config}"
    try:
        for port, proc in zip(ports, servers):
            ev.wait_up(port, proc, timeout=120)
        nginx_port = ev.free_port()
        # each socket is two connections in nginx (the client's and the daphne's); several workers
        # share them where the file-descriptor limit is below 2 N
        nginx, _log = start_nginx(root, [f"127.0.0.1:{p}" for p in ports], nginx_port, tmp / "static",
                                  connections=2 * n + 2000, workers=NGINX_WORKERS)
        procs.append(nginx)
        front = f"http://127.0.0.1:{nginx_port}"
        ev.wait_up(nginx_port, nginx)
        time.sleep(1.0)
        rss_base = ev.server_rss(servers)
        nginx_base = nginx_rss(root / "nginx.pid")

        sessions = tmp / "sessions.json"
        per = [n // CLIENT_PROCESSES + (1 if i < n % CLIENT_PROCESSES else 0) for i in range(CLIENT_PROCESSES)]
        start, t0 = 0, time.monotonic()
        for count_i in per:
            if count_i:
                clients.append(subprocess.Popen(
                    [PY, str(CLIENT), front.replace("http://", "ws://") + "/ws/", front, str(sessions),
                     str(start), str(count_i)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True))
                start += count_i
        connected = 0
        for c in clients:
            line = c.stdout.readline().split()
            if not line or line[0] != "READY":
                raise RuntimeError(f"a client process failed before READY: {line}")
            connected += int(line[1])
        connect_seconds = time.monotonic() - t0
        log(f"{config}: {connected} of {n} sockets connected through nginx in {connect_seconds:.0f} s")
        time.sleep(2.0)
        rss = ev.server_rss(servers)
        nginx_mem = nginx_rss(root / "nginx.pid") - nginx_base

        # the page clients run through the 核发; the 核发 in the middle
        page_keys = prep["keys"][:: max(1, n // pages)][:pages]
        (tmp / "page-sessions.json").write_text(json.dumps(page_keys))
        duration = 2 * WARM_SECONDS + seconds_after
        pager = subprocess.Popen([PY, __file__, "--pages-client", front, str(tmp / "page-sessions.json"),
                                  str(prep["earlier"]), str(duration)], cwd=BASE_DIR, env=env,
                                 stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        procs.append(pager)
        time.sleep(WARM_SECONDS)
        load_before = os.getloadavg()
        cpu_before = ev.server_cpu(servers)
        doc = prep["notices"][config]
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{ports[0]}/__bench/dispatch?doc={doc}", method="POST"), timeout=120) as r:
            fired = json.loads(r.read())
        if "error" in fired:
            log(f"{config}: the 核发 failed: {fired['error']}")
            fired = {"t": time.time(), "seconds": float("nan"), "recipients": 0}
        latencies, app_latencies, duplicates, errors = ev.collect(clients, f"arrived {doc} {fired['t']}")
        server_cpu = ev.server_cpu(servers) - cpu_before
        load_after = os.getloadavg()
        out, _ = pager.communicate(timeout=duration + 120)
        page_result = json.loads(out.strip().splitlines()[-1])
        page_times = [t for _path, t in page_result["timings"]]
        q, app_q, pq = ev.percentiles(latencies), ev.percentiles(app_latencies), ev.percentiles(page_times)
        if errors:
            log(f"{config}: client errors: {errors[:3]}")
        if page_result["errors"]:
            log(f"{config}: page errors ({len(page_result['errors'])}): {page_result['errors'][:3]}")
        return {
            "config": config, "servers": len(servers), "n": n, "connected": connected,
            "connect_s": connect_seconds, "received": len(latencies), "duplicates": duplicates,
            "p50": q[0], "p99": q[1], "max": q[2], "app_p99": app_q[1],
            "dispatch_s": fired["seconds"], "recipients": fired["recipients"],
            "pages": len(page_times), "page_errors": len(page_result["errors"]),
            "page_p50": pq[0], "page_p99": pq[1],
            "kb_per_conn": (rss - rss_base) / 1024 / max(connected, 1),
            "nginx_kb_per_conn": nginx_mem / 1024 / max(connected, 1),
            "server_cpu_s": server_cpu, "load": [round(x, 1) for x in (*load_before, *load_after)],
        }
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
            c.wait()
        for p in procs + servers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs + servers:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def drive(n, pages, configs, seconds_after):
    limit = raise_fd_limit(4 * n + 10_000)
    if limit < n + 1000:  # one daphne alone holds every socket
        raise SystemExit(f"the file-descriptor limit is {limit}: too low for {n} sockets (raise ulimit -Hn)")
    log(f"file-descriptor limit {limit} per process")
    tmp = Path(tempfile.mkdtemp(prefix="yw-bench-morning-"))
    (tmp / "static").mkdir()
    prefix = f"ywmorning{os.getpid()}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", "YW_VAR_DIR": str(tmp / "var"),
           "SECRET_KEY": secrets.token_urlsafe(48), "DEBUG": "false", "YW_JOBS_IN_PROCESS": "0",
           "DATABASE_URL": DB_URL, "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
           "YW_CHANNEL_PREFIX": prefix, "YW_TRUSTED_PROXIES": "127.0.0.1", "LOG_LEVEL": "ERROR"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    os.environ.update(env)
    drop = recreate_database()
    rows = []
    try:
        setup_django()
        prep = prepare(n, configs)
        (tmp / "sessions.json").write_text(json.dumps(prep["keys"]))
        from django.db import connections

        connections.close_all()
        for config in configs:
            row = run_config(config, n, pages, prep, env, tmp, seconds_after)
            row["units"] = prep["units"]
            print("RESULT " + json.dumps(row), flush=True)
            rows.append(row)
            time.sleep(3)
    finally:
        from django.db import connections

        connections.close_all()
        try:
            drop()
        except Exception as exc:  # noqa: BLE001
            log(f"could not drop the bench database: {exc}")
        ev.clean_redis(env["REDIS_URL"], prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def print_table(rows):
    fmt = ev.fmt_ms
    print("bench_morning: one 核发 from the city to every unit under it, heard live by N people's sockets held "
          "through nginx while 200 signed-in people load inbox and document pages; delivery: commit → frame in "
          "the client's socket (kernel timestamp); app p99: → read by the client process; KB/conn: daphne RSS "
          "growth per socket (all daphnes); load: 1/5/15-min load average before and after the 核发")
    header = (f"{'daphnes':>7} {'sockets':>13} {'connect':>8} {'delivered':>13} {'p50':>7} {'p99':>7} {'max':>7} "
              f"{'app p99':>8} {'核发':>7} {'pages':>6} {'page p50':>9} {'page p99':>9} {'KB/conn':>8} "
              f"{'nginx KB':>8} {'load':>24}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ok = "" if r["received"] == r["n"] and r["connected"] == r["n"] else "  MISSED"
        print(f"{r['servers']:>7} {r['connected']:>6}/{r['n']:<6} {r['connect_s']:>6.0f} s "
              f"{r['received']:>6}/{r['n']:<6} {fmt(r['p50']):>7} {fmt(r['p99']):>7} {fmt(r['max']):>7} "
              f"{fmt(r['app_p99']):>8} {r['dispatch_s']:>5.1f} s {r['pages']:>6} {fmt(r['page_p50']):>9} "
              f"{fmt(r['page_p99']):>9} {r['kb_per_conn']:>8.1f} {r['nginx_kb_per_conn']:>8.1f} "
              f"{' '.join(str(x) for x in r['load']):>24}"
              + (f"  {r['page_errors']} PAGE ERRORS" if r["page_errors"] else "")
              + (f"  {r['duplicates']} DUPLICATES" if r["duplicates"] else "") + ok)
    for r in rows:
        verdict = "meets" if r["p99"] is not None and r["p99"] < 0.5 and r["received"] == r["n"] else "MISSES"
        print(f"{r['servers']} daphne(s): {r['recipients']} receipts committed in {r['dispatch_s']:.1f} s; "
              f"p99 delivery {fmt(r['p99'])} to {r['received']} of {r['n']} sockets: {verdict} the goal "
              f"(p99 < 500 ms, every event delivered); daphne CPU for the fan-out {r['server_cpu_s']:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_MORNING_CONNECTIONS", 10_000)))
    parser.add_argument("--pages", type=int, default=int(os.environ.get("BENCH_MORNING_PAGES", 200)))
    parser.add_argument("--configs", default="four,one")
    parser.add_argument("--after", type=float, default=WARM_SECONDS, help="seconds of pages after the 核发")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pages-client", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.pages_client:
        url, sessions, doc_id, seconds = args.pages_client
        pages_client(url, sessions, int(doc_id), float(seconds))
        return
    configs = [c for c in args.configs.split(",") if c]
    if set(configs) - {"four", "one"}:
        raise SystemExit("--configs takes four and/or one")
    started = time.monotonic()
    rows = drive(args.connections, args.pages, configs, args.after)
    print_table(rows)
    print(f"total {time.monotonic() - started:.0f} s")
    failed = any(r["received"] < r["n"] or r["connected"] < r["n"] or r["page_errors"] for r in rows)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
