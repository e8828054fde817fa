"""Benchmark: the administration pages (管理) on a Xianyang-sized organisation (< 2 min).

seed_demo --size full (1 city, 14 counties, ~150 towns, ~3,000 villages, departments, ~3,500 people)
into a temporary SQLite database (BENCH_DATABASE_URL may name a PostgreSQL database instead; it is
wiped), then each page is asked 20 times by the system administrator through Django's test client
in this process (no network): p50/p95 in ms, the number of SQL queries and the page's size. The
unit tree opens one level at a time, so no page grows with the number of units.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
ROUNDS = 20


def row(name, value, note=""):
    print(f"| admin | {name:<44} | {value:>26} | {note}")


def main():
    tmp = Path(tempfile.mkdtemp(prefix="yw-bench-admin-"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "office.settings", "YW_VAR_DIR": str(tmp / "var"),
                       "LOG_LEVEL": "ERROR", "YW_JOBS_IN_PROCESS": "0"})
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'admin.sqlite3'}"
    os.environ.pop("REDIS_URL", None)
    env = dict(os.environ)
    started = time.monotonic()
    if env["DATABASE_URL"].startswith("postgres"):
        subprocess.run([sys.executable, "manage.py", "flush", "--no-input"], cwd=BASE_DIR, env=env,
                       capture_output=True)
    for args in (["migrate", "--no-input"], ["seed_demo", "--size", "full"]):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed: {done.stderr[-2000:]}")
    row("seed_demo --size full", f"{time.monotonic() - started:.0f} s")

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from office.models import Person, Unit, UnitKind

    setup_test_environment()
    row("units in the tree", f"{Unit.objects.count():,}")
    client = Client()
    client.force_login(Person.objects.get(username="admin"))
    city = Unit.objects.get(kind=UnitKind.CITY)
    county = Unit.objects.filter(kind=UnitKind.COUNTY).order_by("id").first()
    town = Unit.objects.filter(kind=UnitKind.TOWN).order_by("id").first()
    village = Unit.objects.filter(kind=UnitKind.VILLAGE).order_by("id").first()
    person = Person.objects.get(username="village_cadre")
    pages = [
        ("unit tree (top level)", "/office/admin/units/"),
        ("tree: the city's children", f"/office/admin/units/{city.id}/children/"),
        ("tree: a county's children", f"/office/admin/units/{county.id}/children/"),
        ("tree: a town's villages", f"/office/admin/units/{town.id}/children/"),
        ("search '村' (first 50 of ~2,500)", "/office/admin/units/?q=村"),
        ("search by code prefix", f"/office/admin/units/?q={village.code[:9]}"),
        ("a village's page", f"/office/admin/units/{village.id}/"),
        ("a county's page", f"/office/admin/units/{county.id}/"),
        ("people (page 1 of all)", "/office/admin/people/"),
        ("people search", "/office/admin/people/?q=褚"),
        ("a person's page", f"/office/admin/people/{person.id}/"),
        ("delegations", "/office/admin/delegations/"),
        ("seal keepers of a village", f"/documents/files/seals/{village.id}/keepers/"),
    ]
    for name, path in pages:
        times = []
        for _ in range(ROUNDS):
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        row(name, f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms",
            f"{len(queries)} queries, {len(response.content) // 1024} KB")


if __name__ == "__main__":
    print("| bench | measurement | value | note |\n| --- | --- | --- | --- |")
    main()
