"""The embedded default: SQLite under var/, the in-memory layer, one daphne — no other server."""
import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import pytest
import websockets
from django.utils import timezone

from tests.conftest import PASSWORD, ServerProcess

BASE = Path(__file__).resolve().parent.parent


class Browserless:
    """Just enough of a browser: cookies, CSRF, JSON."""

    def __init__(self, base):
        self.base = base
        self.jar = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.jar))

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)

    def get(self, path):
        with self.opener.open(self.base + path, timeout=10) as r:
            return r.status, r.read().decode()

    def login(self, username):
        status, page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD}).encode()
        req = Request(self.base + "/login/", data=body, headers={"Referer": self.base + "/login/"})
        with self.opener.open(req, timeout=10) as r:
            return r.status, r.geturl()

    def post_json(self, path, payload):
        req = Request(self.base + path, data=json.dumps(payload).encode(), method="POST", headers={
            "Content-Type": "application/json", "X-CSRFToken": self.cookie("csrftoken"), "Referer": self.base + "/"})
        with self.opener.open(req, timeout=10) as r:
            return r.status, json.loads(r.read())


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env["YW_VAR_DIR"] = str(var)
    for cmd in (["migrate", "--noinput", "-v0"], ["seed_demo", "--size", "small"]):
        done = subprocess.run([sys.executable, "manage.py", *cmd], cwd=BASE, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    server = ServerProcess()
    server.env = env
    server.start()
    yield server, var
    server.stop()


def test_it_keeps_its_database_and_secret_under_var(embedded):
    _server, var = embedded
    assert (var / "yiwangtong.sqlite3").exists() and (var / "secret_key").exists()


def test_it_signs_in_and_shows_the_todo_page_and_directory(embedded):
    server, _ = embedded
    b = Browserless(server.url)
    status, where = b.login("county_secretary")
    assert status == 200 and where.endswith("/")
    status, page = b.get("/")
    assert "待办" in page and "吴秘书" in page
    status, page = b.get("/directory/")
    assert "秦都区" in page
    status, css = b.get("/static/office/app.css")
    assert status == 200 and "--red" in css


def test_it_pushes_a_live_event_through_the_in_memory_layer(embedded):
    server, _ = embedded
    leader, deputy = Browserless(server.url), Browserless(server.url)
    leader.login("city_leader")
    deputy.login("city_deputy")
    me = deputy.get("/api/office/me")
    deputy_post = json.loads(me[1])["current_post"]["id"]

    async def scenario():
        ws_url = server.url.replace("http", "ws") + "/ws/"
        headers = {"Cookie": f"sessionid={deputy.cookie('sessionid')}", "Origin": server.url}
        async with websockets.connect(ws_url, additional_headers=headers) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
            now = timezone.now()
            status, _ = await asyncio.to_thread(leader.post_json, "/api/office/delegations", {
                "to_post_id": deputy_post, "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat()})
            assert status == 201
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (event["type"], event["op"]) == ("delegation", "created")

    asyncio.run(scenario())
