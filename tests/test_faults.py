"""Faults during use, on services of the tests' own (never the machine's PostgreSQL or Redis): Redis
stopped and started again, PostgreSQL restarted and crashed, one of two daphne processes killed.

Expected: nothing saved is lost and no number is lost or doubled; pages answer with a clear Chinese
503 instead of a 500 while a service is down; live sockets are closed while the event bus is down
(the page's badge shows it) and live events flow again once it is back.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from datetime import timedelta

import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import BASE_DIR, ServerProcess
from tests.fault_services import Redis, manage, seeded_postgres
from tests.test_events_multiprocess import Browser


class Stack:
    def __init__(self, work):
        self.work = work
        self.pg, self.db_url = seeded_postgres(work)
        self.redis = Redis(work / "redis").start()
        self.env = {"DATABASE_URL": self.db_url, "REDIS_URL": self.redis.url, "YW_CHANNEL_PREFIX": "faults",
                    "YW_VAR_DIR": str(work / "var"), "YW_EVENT_BUS_REFRESH": "2"}
        self.servers = [ServerProcess(self.env).start(), ServerProcess(self.env).start()]

    def sql(self, query):
        done = subprocess.run(["psql", self.db_url.replace("postgres://", "postgresql://"), "-At", "-c", query],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def manage(self, *args):
        return manage({**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", **self.env}, *args)

    def close(self):
        for server in self.servers:
            server.stop()
        self.redis.stop()
        self.pg.destroy()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("faults"))
    yield stack
    stack.close()


def get(browser, path):
    try:
        with browser.opener.open(browser.server.url + path, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def delegate(leader, to_post_id, days=1):
    now = timezone.now()
    return leader.post_json("/api/office/delegations", {
        "to_post_id": to_post_id, "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=days)).isoformat(), "reason": "故障测试"})


def my_post(browser):
    status, body = get(browser, "/api/office/me")
    assert status == 200, body
    return json.loads(body)["current_post"]["id"]


def reconnect(browser, server, within=40):
    """What events.js does: try again until the live link opens."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            return browser.websocket(server)
        except (InvalidStatus, ConnectionClosed, OSError, AssertionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError("the live link did not come back")


def closed_within(ws, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=0.5)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    return False


def test_it_survives_redis_stopping_and_starting_again(stack):
    a, b = stack.servers
    leader = Browser(a).login("city_leader")
    deputy = Browser(b).login("city_deputy")
    deputy_post = my_post(deputy)
    ws = deputy.websocket()
    status, before = delegate(leader, deputy_post)
    assert status == 201 and json.loads(ws.recv(timeout=10))["id"] == before["id"]

    stack.redis.stop()
    # The live link is closed (the page shows it down) instead of staying open and deaf.
    assert closed_within(ws, 15) == 4503
    # Pages, saving and signing in go on without Redis.
    assert get(deputy, "/")[0] == 200
    status, during = delegate(leader, deputy_post)
    assert status == 201, during
    Browser(a).login("county_secretary")

    stack.redis.start()
    ws = reconnect(deputy, b)
    status, after = delegate(leader, deputy_post)
    assert status == 201
    assert json.loads(ws.recv(timeout=15))["id"] == after["id"]
    ws.close()
    ids = {int(x) for x in stack.sql("SELECT id FROM office_delegation").split()}
    assert {before["id"], during["id"], after["id"]} <= ids


def test_it_answers_503_in_chinese_while_postgresql_restarts_and_loses_nothing(stack):
    a, b = stack.servers
    leader = Browser(a).login("city_leader")
    deputy = Browser(b).login("city_deputy")
    deputy_post = my_post(deputy)
    status, before = delegate(leader, deputy_post)
    assert status == 201

    stack.pg.stop()
    try:
        status, page = get(deputy, "/")
        assert status == 503 and "数据库暂时无法连接" in page
        status, body = delegate(leader, deputy_post)
        assert status == 503 and "数据库暂时无法连接" in body["detail"]
    finally:
        stack.pg.start()

    deadline = time.monotonic() + 30
    while get(deputy, "/")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert get(deputy, "/")[0] == 200  # the same session: it was saved before the restart
    status, after = delegate(leader, deputy_post)
    assert status == 201
    ids = {int(x) for x in stack.sql("SELECT id FROM office_delegation").split()}
    assert {before["id"], after["id"]} <= ids
    assert "校验通过" in stack.manage("audit_verify")


WRITER = r"""
import sys, time, django
django.setup()
from django.db import OperationalError, InterfaceError, connections
from office import audit
confirmed, failed, n = [], [], 0
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    n += 1
    try:
        audit.record("fault.write", data={"n": n})
        confirmed.append(n)
    except (OperationalError, InterfaceError):
        failed.append(n)  # refused, or in doubt: the commit may or may not have happened
        connections.close_all()
        time.sleep(0.2)
print("CONFIRMED", len(confirmed), "FAILED", " ".join(map(str, failed)) or "-")
"""


def test_it_loses_no_audited_write_and_doubles_no_seq_when_postgresql_crashes(stack):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", **stack.env}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, "20"], cwd=BASE_DIR, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    stack.pg.kill()  # a crash: every confirmed write must survive
    stack.pg.start()
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-2000:]
    fields = out.split()
    confirmed = int(fields[fields.index("CONFIRMED") + 1])
    failed = {int(x) for x in fields[fields.index("FAILED") + 1:] if x != "-"}
    assert confirmed > 0 and failed  # the crash happened while writing
    stored = [int(x) for x in stack.sql(
        "SELECT data->>'n' FROM office_auditentry WHERE action = 'fault.write' ORDER BY id").split()]
    assert len(stored) == len(set(stored))  # nothing doubled
    missing = set(range(1, confirmed + len(failed) + 1)) - failed - set(stored)
    assert not missing  # nothing confirmed was lost
    assert len(set(stored) & failed) <= 1  # at most the one commit in doubt when the server died
    assert "校验通过" in stack.manage("audit_verify")
    seqs = [int(x) for x in stack.sql("SELECT seq FROM office_auditentry ORDER BY seq").split()]
    assert seqs == list(range(1, len(seqs) + 1))  # one gapless chain, no seq given twice


def test_it_keeps_serving_when_one_of_two_daphne_processes_is_killed(stack):
    a, b = stack.servers
    leader = Browser(b).login("city_leader")
    deputy = Browser(a).login("city_deputy")
    deputy_post = my_post(deputy)
    on_a = deputy.websocket(a)
    on_b = deputy.websocket(b)
    status, first = delegate(leader, deputy_post)
    assert status == 201
    assert json.loads(on_a.recv(timeout=10))["id"] == first["id"] == json.loads(on_b.recv(timeout=10))["id"]

    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(10)
    assert closed_within(on_a, 10) is not False  # that page sees its live link go down
    # The same session goes on through the other process (the proxy's fail-over, or a reload).
    deputy.server = b
    assert get(deputy, "/")[0] == 200
    status, second = delegate(leader, deputy_post)
    assert status == 201
    assert json.loads(on_b.recv(timeout=10))["id"] == second["id"]
    again = reconnect(deputy, b)
    status, third = delegate(leader, deputy_post)
    assert json.loads(again.recv(timeout=10))["id"] == third["id"]
    on_b.close()
    again.close()
    stack.servers[0] = ServerProcess(stack.env).start()  # for any test after this one
