"""Benchmark of the 公文 flow on PostgreSQL with the Xianyang-sized organisation (loopback, < 4 min).

1. 核发 of one notice from the city to every unit below it (~3,200 recipients): seconds to commit.
2. 10,000 发文字号 registrations (real do_register on signed documents) from 8 concurrent
   processes on one 机关代字: duplicates and gaps (both must be 0) and registrations per second.
3. The inbox page (/documents/) of a county with 100,000 documents in the database: p50/p95
   latency and the number of queries per request (also for GET /api/documents/inbox).

Uses its own database BENCH_DOCUMENTS_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/yw_bench),
dropped and created at the start and dropped at the end. Prints table rows.
"""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DB_URL = os.environ.get("BENCH_DOCUMENTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/yw_bench")
WORKERS = 8
REGISTRATIONS = 10_000
INBOX_DOCUMENTS = 100_000
PREFIX = "咸政测发"
# The registrations stop after this many seconds (the bench must stay bounded on a loaded machine);
# the gap and duplicate check then covers every number handed out.
BUDGET_SECONDS = float(os.environ.get("BENCH_DOCUMENTS_REGISTRATION_SECONDS", "150"))


def row(name, value, note=""):
    print(f"| documents | {name:<58} | {value:>16} | {note}", flush=True)


def _admin_conn():
    import psycopg

    base, _, name = DB_URL.rpartition("/")
    return psycopg.connect(f"{base}/postgres", autocommit=True), name


def recreate_database():
    conn, name = _admin_conn()
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database():
    conn, name = _admin_conn()
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django():
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.pop("REDIS_URL", None)  # events go to the in-memory layer: the lead's bench measures fan-out
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "office.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()


def insert_select(model, from_sql, exprs, constants, exclude_where=""):
    """INSERT INTO model's table SELECT … FROM from_sql: exprs are SQL by field name, constants are values;
    every other non-null field gets its default."""
    from django.db import connection

    cols, values, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        name = f.name
        cols.append(connection.ops.quote_name(f.column))
        if name in exprs:
            values.append(exprs[name])
            continue
        if name in constants:
            value = constants[name]
        elif f.null:
            value = None
        else:
            value = f.get_default()
        values.append("%s")
        params.append(f.get_db_prep_save(value, connection))
    where = ""
    if exclude_where:
        where = (" AND " if " WHERE " in from_sql else " WHERE ") + exclude_where
    sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(cols)}) "
           f"SELECT {', '.join(values)} FROM {from_sql}{where}")
    with connection.cursor() as cur:
        cur.execute(sql, params)


# --- worker process for part 2 ----------------------------------------------------------
def worker(index, start_at):
    setup_django()
    from django.db import connection

    from documents import actions
    from documents.models import Document
    from office.models import Person

    person = Person.objects.get(username="city_secretary")
    post = actions.person_posts(person)[0]
    ids = list(Document.objects.filter(title__startswith="登记压测").order_by("id").values_list("id", flat=True))
    mine = ids[index::WORKERS]
    while time.time() < start_at:
        time.sleep(0.005)
    stop_at = start_at + BUDGET_SECONDS
    for doc_id in mine:
        if time.time() > stop_at:
            break
        actions.do_register(person=person, post=post, doc=Document(id=doc_id), prefix=PREFIX)
    connection.close()


def main():
    started = time.monotonic()
    recreate_database()
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from office.seed import build_demo

    t = time.monotonic()
    build_demo()
    from office.models import Unit

    row("seed Xianyang-sized organisation (units)", Unit.objects.count(), f"{time.monotonic() - t:.1f} s")
    parts = os.environ.get("BENCH_DOCUMENTS_PARTS", "dispatch,registrations,inbox").split(",")
    try:
        for name in parts:
            globals()[f"part_{name.strip()}"]()
    finally:
        from django.db import connections

        connections.close_all()
        drop_database()
    row("total bench time", f"{time.monotonic() - started:.0f} s")


def part_dispatch():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from documents import actions
    from documents.models import Document, Receipt
    from office.models import Person, Unit, UnitKind

    city = Unit.objects.get(kind=UnitKind.CITY)
    sec = Person.objects.get(username="city_secretary")
    leader = Person.objects.get(username="city_leader")
    post = actions.person_posts(sec)[0]
    t = time.monotonic()
    doc = actions.do_create_document(person=sec, post=post, data={
        "title": "咸阳市人民政府关于做好冬季防火工作的通知", "doc_type": "通知", "urgency": "特急",
        "body": [{"kind": "p", "text": "各单位要高度重视冬季防火工作。"}],
        "main": [f"under:{city.id}:all"], "cc": [f"under:{city.id}:departments"]})
    row("draft to every unit (expand + routing rules)", f"{time.monotonic() - t:.2f} s",
        f"{doc.main_recipients.count()} main + {doc.cc_recipients.count()} cc")
    actions.do_submit(person=sec, post=post, doc=doc, signers=[actions.person_posts(leader)[0].id])
    step = actions.active_steps(Document.objects.get(id=doc.id))[0]
    actions.do_decide(person=leader, step_id=step.id, decision="agree")
    doc = actions.do_register(person=sec, post=post, doc=Document.objects.get(id=doc.id))
    with CaptureQueriesContext(connection) as ctx:
        t = time.monotonic()
        dispatch = actions.do_dispatch(person=sec, post=post, doc=doc)
        elapsed = time.monotonic() - t
    assert Receipt.objects.filter(document=doc).count() == dispatch.recipient_count
    row("核发 to every unit: time to commit", f"{elapsed:.2f} s",
        f"{dispatch.recipient_count} receipts, {len(ctx.captured_queries)} queries")
    t = time.monotonic()
    actions.do_sign(person=Person.objects.get(username="village_cadre"),
                    post=actions.person_posts(Person.objects.get(username="village_cadre"))[0],
                    receipt_id=Receipt.objects.get(document=doc, unit__kind=UnitKind.VILLAGE,
                                                   unit__posts__person__username="village_cadre").id)
    from documents import queries

    t = time.monotonic()
    data = queries.tracking(Document.objects.get(id=doc.id))
    row("tracking data for that dispatch (rows + tree)", f"{(time.monotonic() - t) * 1000:.0f} ms",
        f"{len(data['rows'])} rows, {len(data['tree'])} tree nodes")


def part_registrations():
    from django.db.models import Count

    from documents.models import Document, DocState, NumberSequence
    from office.models import Person, Unit, UnitKind

    sec = Person.objects.get(username="city_secretary")
    post = sec.posts.first()
    city = Unit.objects.get(kind=UnitKind.CITY)
    county = Unit.objects.filter(kind=UnitKind.COUNTY).first()
    t = time.monotonic()
    docs = [Document(unit=city, drafted_by=sec, drafted_post=post, doc_type="通知", title=f"登记压测{i}",
                     body=[{"kind": "p", "text": "压测"}], state=DocState.SIGNED, signer_names=["张市长"])
            for i in range(REGISTRATIONS)]
    Document.objects.bulk_create(docs, batch_size=2000)
    through = Document.main_recipients.through
    ids = list(Document.objects.filter(title__startswith="登记压测").values_list("id", flat=True))
    through.objects.bulk_create([through(document_id=i, unit_id=county.id) for i in ids], batch_size=5000)
    row("prepare 10,000 signed documents", f"{time.monotonic() - t:.1f} s")
    start_at = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(i), str(start_at)], cwd=BASE_DIR)
             for i in range(WORKERS)]
    codes = [p.wait() for p in procs]
    elapsed = time.time() - start_at
    if any(codes):
        row("registrations FAILED", str(codes))
        return
    numbers = list(Document.objects.filter(number_prefix=PREFIX).values_list("number_seq", flat=True))
    dupes = Document.objects.filter(number_prefix=PREFIX).values("number_seq").annotate(n=Count("id")) \
        .filter(n__gt=1).count()
    last = NumberSequence.objects.get(kind="send", prefix=PREFIX).last
    gaps = len(set(range(1, last + 1)) - set(numbers))
    elapsed = min(elapsed, time.time() - start_at)
    note = "all done" if len(numbers) == REGISTRATIONS else f"stopped by the {BUDGET_SECONDS:.0f} s budget"
    row(f"registrations from {WORKERS} processes (of {REGISTRATIONS:,})", f"{len(numbers):,} in {elapsed:.1f} s",
        f"{len(numbers) / elapsed:.0f}/s; sequence last={last}; {note}")
    row("duplicate 发文字号", dupes, "must be 0")
    row("gaps in 发文字号", gaps, "must be 0")


def part_inbox():

    from django.db import connection, reset_queries  # noqa: F811
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from documents.models import Dispatch, DocState, Document, Receipt
    from office.models import Person, Unit, UnitKind

    sec = Person.objects.get(username="city_secretary")
    post = sec.posts.first()
    city = Unit.objects.get(kind=UnitKind.CITY)
    reader = Person.objects.get(username="county_secretary")
    county = reader.posts.first().unit
    others = list(Unit.objects.exclude(kind=UnitKind.DEPARTMENT).exclude(id=county.id).values_list("id", flat=True))
    t = time.monotonic()
    need = max(0, INBOX_DOCUMENTS - Document.objects.count())
    now = timezone.now()
    # Server-side inserts (generate_series): the seeding is not what is measured.
    insert_select(Document, f"generate_series(1, {need}) AS g", {
        "title": "'关于第' || g || '号事项的通知'", "number": "'咸政发〔2025〕' || (g + 100000) || '号'",
        "body_text": "'请抓好落实。第' || g || '号'"},
        {"unit": city.id, "drafted_by": sec.id, "drafted_post": post.id, "doc_type": "通知",
         "state": DocState.DISPATCHED, "body": [{"kind": "p", "text": "请抓好落实。"}], "created_at": now,
         "updated_at": now, "dispatched_at": now, "recipient_spec": {}, "attachment_notes": [], "signer_names": []})
    doc_table = Document._meta.db_table
    insert_select(Dispatch, f"{doc_table} AS d WHERE d.title LIKE '关于第%%号事项的通知'",
                  {"document": "d.id"}, {"sent_by": sec.id, "sent_post": post.id, "sent_at": now, "recipient_count": 1})
    others_sql = "ARRAY[" + ",".join(str(i) for i in others) + "]"
    insert_select(Receipt, f"{Dispatch._meta.db_table} AS x", {
        "dispatch": "x.id", "document": "x.document_id",
        "unit": f"CASE WHEN x.document_id %% 10 = 0 THEN {county.id} "
                f"ELSE ({others_sql})[1 + (x.document_id %% {len(others)})] END"},
        {"role": "main", "state": "delivered", "delivered_at": now, "deadline": now, "updated_at": now},
        exclude_where=f"NOT EXISTS (SELECT 1 FROM {Receipt._meta.db_table} r WHERE r.dispatch_id = x.id)")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    row("seed documents for the inbox", Document.objects.count(),
        f"{Receipt.objects.filter(unit=county).count():,} in the county's inbox; {time.monotonic() - t:.0f} s")
    client = Client()
    client.force_login(reader)
    for url, label in (("/documents/?box=inbox", "inbox page /documents/"),
                       ("/documents/?box=inbox&page=50", "inbox page, page 50"),
                       ("/api/documents/inbox", "GET /api/documents/inbox"),
                       ("/documents/?box=inbox&q=第12", "inbox search by title word"),
                       ("/documents/?box=all", "search page over every visible document")):
        times, counts = [], []
        client.get(url)  # warm
        for _ in range(30):
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                resp = client.get(url)
                times.append(time.perf_counter() - t)
            assert resp.status_code == 200, resp.status_code
            counts.append(len(ctx.captured_queries))
        times.sort()
        row(f"{label}: p50 / p95", f"{statistics.median(times) * 1000:.0f} / {times[int(len(times) * 0.95) - 1] * 1000:.0f} ms",
            f"{max(counts)} queries")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), float(sys.argv[3]))
    else:
        print("| area | measurement | value | note |\n| --- | --- | --- | --- |")
        main()
