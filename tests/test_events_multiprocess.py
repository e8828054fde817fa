"""Live events across server processes: two daphne processes on Redis share one event bus.

These tests need a real Redis (REDIS_URL, default redis://127.0.0.1:6379/0): without one they
fail, they do not skip. Each run uses its own channel prefix and removes its keys afterwards.
"""
import http.cookiejar
import json
import os
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from office.models import Post
from tests.conftest import PASSWORD

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def redis_servers(server_factory):
    """Two daphne processes on the test database and one Redis channel layer (private prefix)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need a real Redis at {REDIS_URL}: {exc}")
    prefix = f"ywtest{uuid.uuid4().hex[:10]}"
    env = {"REDIS_URL": REDIS_URL, "YW_CHANNEL_PREFIX": prefix}
    servers = [server_factory(env), server_factory(env)]
    yield servers
    for server in servers:
        server.stop()
    r = redis.Redis.from_url(REDIS_URL)
    stale = list(r.scan_iter(match=f"{prefix}*", count=1000))
    if stale:
        r.delete(*stale)


class Browser:
    """A cookie jar and the real HTTP endpoints of one server: what a browser tab would do."""

    def __init__(self, server):
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)

    def login(self, username, password=PASSWORD):
        self.opener.open(self.server.url + "/login/", timeout=20).read()
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": self.cookie("csrftoken"), "next": "/"}).encode()
        with self.opener.open(urllib.request.Request(self.server.url + "/login/", data=form), timeout=20) as r:
            assert r.status == 200  # after the redirect to the home page
        assert self.cookie("sessionid"), f"{username} did not get a session from /login/"
        return self

    def post_json(self, path, payload):
        request = urllib.request.Request(
            self.server.url + path, data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-CSRFToken": self.cookie("csrftoken")})
        try:
            with self.opener.open(request, timeout=20) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def websocket(self, server=None, origin=None):
        server = server or self.server
        headers = {"Cookie": f"sessionid={self.cookie('sessionid')}"} if self.cookie("sessionid") else {}
        ws = connect(server.url.replace("http://", "ws://") + "/ws/", origin=origin or server.url,
                     additional_headers=headers, open_timeout=20)
        hello = json.loads(ws.recv(timeout=10))
        assert hello == {"type": "hello", "op": "connected"}
        return ws


def test_it_delivers_an_event_sent_through_one_server_to_a_socket_on_the_other(
        redis_servers, city_leader, city_deputy):
    server_a, server_b = redis_servers
    leader = Browser(server_a).login(city_leader.username)
    deputy = Browser(server_b).login(city_deputy.username)
    deputy_post = Post.objects.active().get(person=city_deputy)

    with deputy.websocket() as socket_on_b:
        now = timezone.now()
        status, body = leader.post_json("/api/office/delegations", {
            "to_post_id": deputy_post.id, "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(), "reason": "出差"})
        assert status == 201, body
        event = json.loads(socket_on_b.recv(timeout=10))

    assert event == {"type": "delegation", "op": "created", "id": body["id"]}


def test_it_delivers_one_event_to_sockets_on_both_servers(redis_servers, city_leader, city_deputy):
    server_a, server_b = redis_servers
    leader = Browser(server_a).login(city_leader.username)
    deputy = Browser(server_a).login(city_deputy.username)
    deputy_post = Post.objects.active().get(person=city_deputy)

    with deputy.websocket(server_a) as tab_on_a, deputy.websocket(server_b) as tab_on_b:
        now = timezone.now()
        status, body = leader.post_json("/api/office/delegations", {
            "to_post_id": deputy_post.id, "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat()})
        assert status == 201, body
        received = [json.loads(tab.recv(timeout=10)) for tab in (tab_on_a, tab_on_b)]

    assert received == [{"type": "delegation", "op": "created", "id": body["id"]}] * 2


def test_it_refuses_an_unauthenticated_websocket_on_a_real_server(redis_servers):
    server = redis_servers[1]
    with pytest.raises(InvalidStatus) as refused:
        connect(server.url.replace("http://", "ws://") + "/ws/", origin=server.url, open_timeout=20)
    assert refused.value.response.status_code == 403


def test_it_refuses_a_websocket_from_a_foreign_origin_on_a_real_server(redis_servers, city_deputy):
    server = redis_servers[0]
    deputy = Browser(server).login(city_deputy.username)
    with pytest.raises(InvalidStatus) as refused:
        deputy.websocket(origin="http://evil.example")
    assert refused.value.response.status_code == 403
    # The same session from the suite's own origin is accepted: the origin made the difference.
    deputy.websocket().close()


def test_it_starts_one_bus_listener_per_process_when_many_sockets_connect_at_once(
        server_factory, city_deputy, city_leader):
    import asyncio

    import redis
    from websockets.asyncio.client import connect as connect_async

    prefix = f"ywtest{uuid.uuid4().hex[:10]}"
    r = redis.Redis.from_url(REDIS_URL)
    servers = [server_factory({"REDIS_URL": REDIS_URL, "YW_CHANNEL_PREFIX": prefix}) for _ in range(2)]
    try:
        deputy = Browser(servers[0]).login(city_deputy.username)
        leader = Browser(servers[0]).login(city_leader.username)
        deputy_post = Post.objects.active().get(person=city_deputy)
        headers = {"Cookie": f"sessionid={deputy.cookie('sessionid')}"}

        async def tabs_then_event():
            async def tab(server):
                ws = await connect_async(server.url.replace("http://", "ws://") + "/ws/", origin=server.url,
                                         additional_headers=headers, open_timeout=30)
                assert json.loads(await ws.recv())["type"] == "hello"
                return ws

            # 20 handshakes at once on each fresh server process: all of them reach the hub
            # before its first group_add has returned from Redis.
            sockets = await asyncio.gather(*(tab(s) for s in servers for _ in range(20)))
            members = r.zcard(f"{prefix}:group:yw.bus")
            now = timezone.now()
            status, body = await asyncio.to_thread(leader.post_json, "/api/office/delegations", {
                "to_post_id": deputy_post.id, "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat()})
            assert status == 201, body
            firsts = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for ws in sockets]

            async def anything_more(ws):
                try:
                    return json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    return None

            extra = [m for m in await asyncio.gather(*(anything_more(ws) for ws in sockets)) if m is not None]
            for ws in sockets:
                await ws.close()
            return members, body["id"], firsts, extra

        members, delegation_id, firsts, extra = asyncio.run(tabs_then_event())
    finally:
        for server in servers:
            server.stop()
        stale = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if stale:
            r.delete(*stale)

    assert members == 2  # one bus listener per server process
    assert firsts == [{"type": "delegation", "op": "created", "id": delegation_id}] * 40
    assert extra == []  # and each socket got the event once


def test_it_rejoins_the_event_bus_after_redis_lost_the_group(server_factory, city_leader, city_deputy):
    """A FLUSHDB (Django's RedisCache.clear() on the same database) or a Redis restart drops the
    bus group without any error in the servers; their hubs re-join on a timer."""
    import time

    import redis

    prefix = f"ywtest{uuid.uuid4().hex[:10]}"
    r = redis.Redis.from_url(REDIS_URL)
    env = {"REDIS_URL": REDIS_URL, "YW_CHANNEL_PREFIX": prefix, "YW_EVENT_BUS_REFRESH": "1"}
    server_a, server_b = server_factory(env), server_factory(env)
    try:
        leader = Browser(server_a).login(city_leader.username)
        deputy = Browser(server_b).login(city_deputy.username)
        deputy_post = Post.objects.active().get(person=city_deputy)
        with deputy.websocket() as socket_on_b:
            group = f"{prefix}:group:yw.bus"
            assert r.zcard(group) == 1
            r.delete(group)  # what FLUSHDB does to it, without touching anyone else's keys
            deadline = time.monotonic() + 10
            while not r.zcard(group) and time.monotonic() < deadline:
                time.sleep(0.2)
            now = timezone.now()
            status, body = leader.post_json("/api/office/delegations", {
                "to_post_id": deputy_post.id, "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat()})
            assert status == 201, body
            event = json.loads(socket_on_b.recv(timeout=10))
    finally:
        for server in (server_a, server_b):
            server.stop()
        stale = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if stale:
            r.delete(*stale)

    assert event == {"type": "delegation", "op": "created", "id": body["id"]}
