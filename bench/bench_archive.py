"""Benchmark of the archive on PostgreSQL (loopback, a few minutes).

1. Filing and accepting: real do_file (assembly from the flow, PDF/A rendering, the 四性 check at
   filing with qpdf and pdftoppm) and do_accept (class lock, 归档章 rendition, audit) on
   BENCH_ARCHIVE_REAL documents: per-件 time and the projection for 10,000 in one process.
2. Export of BENCH_ARCHIVE_ITEMS (10,000) accepted 件 (rows cloned from the real ones, each with
   its components, sharing the stored files): time and peak memory of `archive_export` in its own
   process, beside the same export of a tenth of them (memory must stay flat).
3. Fixity throughput (SHA-256 + SM3 in one pass, as the periodic job does) over the exported
   files, beside `sha256sum` and `openssl dgst -sm3` over the same files in the same run.
4. Archive search p95 at BENCH_ARCHIVE_SEARCH_ITEMS (100,000) 件 through GET
   /api/documents/archive/items?q=… as the 档案员 (permission filter, bigram GIN index).

Own database BENCH_ARCHIVE_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/yw_bench_archive),
dropped and created at the start and dropped at the end. Prints table rows.
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DB_URL = os.environ.get("BENCH_ARCHIVE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/yw_bench_archive")
REAL = int(os.environ.get("BENCH_ARCHIVE_REAL", "20"))
ITEMS = int(os.environ.get("BENCH_ARCHIVE_ITEMS", "10000"))
SEARCH_ITEMS = int(os.environ.get("BENCH_ARCHIVE_SEARCH_ITEMS", "100000"))
QUERIES = 200
WORDS = ["防火", "安全生产", "秸秆禁烧", "乡村振兴", "人居环境", "防汛", "疫情防控", "财政预算", "教育", "档案",
         "河长制", "环境整治", "冬季", "民生", "招商引资", "营商环境", "社区治理", "应急管理", "耕地保护", "养老"]


def row(name, value, note=""):
    print(f"| archive | {name:<52} | {value:>18} | {note}", flush=True)


def _admin(sql):
    import psycopg

    base, _, name = DB_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(sql.format(name=name))


def setup(media):
    _admin('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin('CREATE DATABASE "{name}"')
    os.environ.update(DATABASE_URL=DB_URL, MEDIA_ROOT=str(media), DJANGO_SETTINGS_MODULE="office.settings",
                      LOG_LEVEL="ERROR", YW_JOBS_IN_PROCESS="0")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def real_filing():
    from documents.archive import actions, assemble
    from office.seed import build_small
    from tests.test_documents_support import dispatched, post_of

    units, people = build_small()
    assemble.ensure_fonds()
    sec, leader, archivist = people["city_secretary"], people["city_leader"], people["archivist"]
    file_t, accept_t, items = [], [], []
    for i in range(REAL):
        doc = dispatched(sec, leader, title=f"关于{random.choice(WORDS)}工作的第{i + 1}号通知", main=[units["秦都区"].id])
        t = time.perf_counter()
        item = actions.do_file(person=sec, post=post_of(sec), document_id=doc.id)
        file_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        items.append(actions.do_accept(person=archivist, item_id=item.id))
        accept_t.append(time.perf_counter() - t)
    f, a = statistics.mean(file_t), statistics.mean(accept_t)
    row(f"do_file, {REAL} real 件 (mean / p50)", f"{f * 1000:.0f} / {statistics.median(file_t) * 1000:.0f} ms",
        "assembly + PDF/A + 四性 at filing (qpdf, pdftoppm)")
    row(f"do_accept, {REAL} real 件 (mean / p50)", f"{a * 1000:.0f} / {statistics.median(accept_t) * 1000:.0f} ms",
        "class row lock + 归档章 rendition + audit")
    row("filing + accepting 10,000 件 (projected, 1 process)", f"{(f + a) * 10000 / 3600:.1f} h",
        f"{1 / (f + a):.1f} 件/s")
    return people, items


def clone_items(people, items, n, *, title_words=False, with_components=True, year=None):
    """n accepted 件 copied from the real ones (own Document rows, shared stored files)."""
    from django.db import connection

    from documents.archive import search
    from documents.archive.actions import archival_code
    from documents.archive.models import ClassSequence, Component, Item
    from documents.models import Document

    src = items[0]
    comps = list(src.components.all())
    sec = people["city_secretary"]
    post = sec.posts.first()
    rng = random.Random(7)
    made = 0
    start = (ClassSequence.objects.filter(fonds=src.fonds, year=year or src.year, retention=src.retention,
                                          org_code="BK").values_list("last", flat=True).first() or 0)
    batch = 2000
    while made < n:
        k = min(batch, n - made)
        titles = [f"关于{rng.choice(WORDS)}和{rng.choice(WORDS)}的通知{start + made + j}" for j in range(k)]
        docs = Document.objects.bulk_create([Document(unit_id=src.document.unit_id, drafted_by=sec, drafted_post=post,
                                                      doc_type="通知", title=t, state="dispatched") for t in titles])
        rows = []
        for j, (d, t) in enumerate(zip(docs, titles)):
            seq = start + made + j + 1
            rows.append(Item(fonds=src.fonds, unit=src.unit, direction="sent", document=d, state="accepted",
                             year=year or src.year, retention=src.retention, org_code="BK", org_name="办公室",
                             seq=seq, archival_code=archival_code(src.fonds.code, year or src.year, src.retention, "BK", seq),
                             title=t, doc_number=f"咸政发〔{src.year}〕{seq}号", responsible=src.responsible,
                             doc_date=src.doc_date, doc_type="通知", pages=src.pages, metadata=src.metadata,
                             filed_by=sec, filed_name=src.filed_name, accepted_name=src.accepted_name,
                             accepted_at=src.accepted_at, search_text=search.normalise(t + " " + src.responsible)))
        rows = Item.objects.bulk_create(rows)
        if with_components:
            Component.objects.bulk_create([Component(item=it, order=c.order, role=c.role, name=c.name,
                                                     storage_name=c.storage_name, size=c.size, sha256=c.sha256,
                                                     sm3=c.sm3, mime=c.mime, pages=c.pages, signed=c.signed)
                                           for it in rows for c in comps])
        with connection.cursor() as cur:
            cur.executemany("UPDATE archive_item SET search_vector = to_tsvector('simple', %s) WHERE id = %s",
                            [(" ".join(search.bigram_tokens(it.search_text)), it.id) for it in rows])
        made += k
    ClassSequence.objects.update_or_create(fonds=src.fonds, year=year or src.year, retention=src.retention,
                                           org_code="BK", defaults={"last": start + made})


def export(year, out):
    """archive_export in its own process: seconds and that process's peak RSS."""
    code = ("import resource, django; django.setup(); from django.core.management import call_command; "
            f"call_command('archive_export', '--year', '{year}', '--out', r'{out}', '--fonds', 'Z001', '--no-check'); "
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env={**os.environ}, capture_output=True)
    seconds = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(done.stderr.decode()[-2000:])
    peak = int(done.stdout.decode().rsplit("PEAK", 1)[1].split()[0])
    return seconds, peak / 1024


def fixity(files):
    from documents.archive import store

    total = sum(f.stat().st_size for f in files) / 1e6
    t = time.perf_counter()
    for f in files:
        import hashlib

        a, b = hashlib.sha256(), store.sm3()
        with open(f, "rb") as fh:
            while block := fh.read(store.CHUNK):
                a.update(block)
                b.update(block)
    ours = time.perf_counter() - t
    results = {"ours (SHA-256 + SM3, one pass)": ours}
    for label, cmd in (("sha256sum", ["sha256sum"]), ("openssl dgst -sm3", ["openssl", "dgst", "-sm3"])):
        t = time.perf_counter()
        for i in range(0, len(files), 500):
            subprocess.run(cmd + [str(f) for f in files[i:i + 500]], check=True, stdout=subprocess.DEVNULL)
        results[label] = time.perf_counter() - t
    for label, s in results.items():
        row(f"fixity: {label}", f"{total / s:.0f} MB/s", f"{len(files)} files, {total:.0f} MB")


def search_bench(people, items):
    from django.test import Client

    from documents.archive.models import Item

    have = Item.objects.count()
    if SEARCH_ITEMS > have:
        clone_items(people, items, SEARCH_ITEMS - have, with_components=False, year=items[0].year - 1)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE archive_item")
    c = Client()
    c.force_login(people["archivist"])
    rng = random.Random(3)
    times = []
    for _ in range(QUERIES):
        q = rng.choice(WORDS)
        t = time.perf_counter()
        resp = c.get("/api/documents/archive/items", {"q": q})
        times.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.content[:300]
    times.sort()
    row(f"search at {Item.objects.count():,} 件 (p50 / p95)",
        f"{times[len(times) // 2] * 1000:.0f} / {times[int(len(times) * 0.95)] * 1000:.0f} ms",
        f"{QUERIES} queries of one word, API with permission filter")


def main():
    media = Path(tempfile.mkdtemp(prefix="yw-bench-archive-"))
    out = Path(tempfile.mkdtemp(prefix="yw-bench-bags-"))
    try:
        setup(media)
        people, items = real_filing()
        year = items[0].year
        tenth = max(ITEMS // 10 - len(items), 0)
        clone_items(people, items, tenth)
        s1, m1 = export(year, out / "small")
        from documents.archive.models import Item

        n1 = Item.objects.filter(year=year).count()
        clone_items(people, items, ITEMS - n1)
        n2 = Item.objects.filter(year=year).count()
        s2, m2 = export(year, out / "big")
        row(f"export {n1:,} 件 (seconds / peak RSS)", f"{s1:.0f} s / {m1:.0f} MB", "archive_export in its own process")
        row(f"export {n2:,} 件 (seconds / peak RSS)", f"{s2:.0f} s / {m2:.0f} MB",
            f"{n2 / s2:.0f} 件/s; memory flat: {m2 - m1:+.0f} MB for {n2 - n1:,} more")
        files = sorted((out / "big").rglob("*.pdf"))[:4000]
        fixity(files)
        shutil.rmtree(out, ignore_errors=True)
        search_bench(people, items)
    finally:
        from django.db import connections

        connections.close_all()
        _admin('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
