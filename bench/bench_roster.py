"""Benchmark: the roster of a training of every village (3,000 and 10,000 people in one room).

    .venv/bin/python bench/bench_roster.py

A throwaway SQLite database (temp folder) gets the small test organisation and one live training
with N participants (a third online, a tenth waiting, one in a hundred with a hand up, attendance
rows for those online). In-process Django test client, signed in as the host (county_secretary)
and as a participant (village_cadre): each request is timed 30 times after a warm-up. Reported per
request: median and 95th percentile (ms), SQL queries, bytes of JSON. Goal: a page < 100 ms (p95)
at 3,000, and the same number of queries at every size (nothing grows with the room but counts).
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SIZES = (3000, 10000)
RUNS = 30
GOAL_MS = 100


def setup(n):
    import datetime

    from django.utils import timezone

    from meetings.actions import do_participant_joined, do_schedule
    from meetings.models import Attendance, Participant
    from office.models import Person, Post, Unit

    units = {u.short_name: u for u in Unit.objects.all()}
    host = Person.objects.get(username="county_secretary")
    post = Post.objects.active().filter(person=host).select_related("unit").first()
    now = timezone.now()
    meeting = do_schedule(host, post, kind="training", title=f"培训{n}", starts_at=now,
                          ends_at=now + datetime.timedelta(hours=1), villages_of=[units["人民路街道"].id])
    do_participant_joined(host, meeting, "video", session_key="host")
    cadre = Person.objects.get(username="village_cadre")
    do_participant_joined(cadre, meeting, "video", session_key="cadre")
    people = Person.objects.bulk_create([Person(username=f"b{n}-{i:05d}", display_name=f"村干部{i:05d}")
                                         for i in range(n)], batch_size=1000)
    Participant.objects.bulk_create([
        Participant(meeting=meeting, person=p, online=i % 3 == 0 and i % 10 != 9,
                    admission="waiting" if i % 10 == 9 else "admitted",
                    hand_raised_at=now - datetime.timedelta(seconds=i) if i % 100 == 0 else None)
        for i, p in enumerate(people)], batch_size=1000)
    village = [units["北街村"], units["人民路社区"]]
    Attendance.objects.bulk_create([Attendance(meeting=meeting, person=p, unit=village[i % 2], joined_at=now)
                                    for i, p in enumerate(people) if i % 3 == 0 and i % 10 != 9], batch_size=1000)
    return meeting, host, cadre


def timed(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm-up
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries), len(response.content)


def main():
    var = Path(tempfile.mkdtemp(prefix="yw-bench-roster-"))
    os.environ.update({"YW_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "office.settings", "YW_JOBS_IN_PROCESS": "0"})
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client on 127.0.0.1 ("testserver" in ALLOWED_HOSTS)
    call_command("migrate", "--noinput", verbosity=0)
    from office.seed import build_small

    build_small()
    print("| people | request | median ms | p95 ms | queries | KB | p95 < 100 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in SIZES:
        meeting, host, cadre = setup(n)
        as_host, as_cadre = Client(), Client()
        as_host.force_login(host)
        as_cadre.force_login(cadre)
        api = f"/api/meetings/{meeting.id}/"
        for label, client, url in [
            ("host roster, page 1 of 50", as_host, api + "roster"),
            ("host roster, online, page 2 of 200", as_host, api + "roster?state=online&page=2&page_size=200"),
            ("host roster, search 村干部004", as_host, api + "roster?q=村干部004"),
            ("host roster, hands in queue order", as_host, api + "roster?state=hands"),
            ("host hand queue", as_host, api + "hands"),
            ("participant people panel (30)", as_cadre, api + "participants?page_size=30"),
            ("participant place in the queue", as_cadre, api + "hands"),
            ("roster page (HTML)", as_host, f"/meetings/{meeting.id}/roster/"),
        ]:
            median, p95, queries, size = timed(client, url)
            print(f"| {n} | {label} | {median:.1f} | {p95:.1f} | {queries} | {size / 1024:.1f} | "
                  f"{'yes' if p95 < GOAL_MS else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
