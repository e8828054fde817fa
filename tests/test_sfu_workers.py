"""SFU_WORKERS=external: rooms run in `manage.py sfu_worker` processes, placed through Redis.

A real daphne (signalling only) and a real SFU worker process share the Redis channel
layer; aiortc peers connect over a real websocket and receive the forwarded media.
"""
import asyncio
import datetime
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.utils import timezone

from tests.conftest import BASE_DIR
from tests.sfu_peers import Peer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def start_worker(server, env, tag=""):
    worker_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings",
                  "DATABASE_URL": server.env["DATABASE_URL"], **env}
    worker_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = open(f"/tmp/yw-sfu-worker-{server.port}{tag}.log", "wb")
    worker = subprocess.Popen([sys.executable, "manage.py", "sfu_worker"], cwd=BASE_DIR, env=worker_env,
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "ready on" in open(log.name, errors="replace").read():
            break
        if worker.poll() is not None:
            raise RuntimeError(open(log.name, errors="replace").read()[-2000:])
        time.sleep(0.2)
    worker.log = log
    return worker


def stop_worker(worker):
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
    worker.log.close()


@pytest.fixture
def external_env(server_factory):
    redis = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    env = {"SFU_WORKERS": "external", "REDIS_URL": redis,
           "YW_CHANNEL_PREFIX": f"ywsfu{uuid.uuid4().hex[:8]}"}
    server = server_factory(env)
    worker = start_worker(server, env)
    workers = [worker]
    yield server, worker, worker.log.name, env, workers
    sys.stderr.write(server.log_path.read_text(errors="replace")[-3000:])
    for w in workers:
        sys.stderr.write("WORKER:" + open(w.log.name, errors="replace").read()[-3000:])
        stop_worker(w)


@sync_to_async
def schedule(host, invited):
    from meetings.actions import do_schedule
    from office.models import Post

    post = Post.objects.active().filter(person_id=host.id).first()
    now = timezone.now()
    return do_schedule(host, post, title="远程培训", starts_at=now,
                       ends_at=now + datetime.timedelta(hours=1), person_ids=[p.id for p in invited])


async def ws_peer(server, client, meeting_id, name, **kw):
    cookie = client.cookies["sessionid"].value
    ws = await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/meetings/{meeting_id}/",
        additional_headers={"Cookie": f"sessionid={cookie}"}, origin="http://127.0.0.1",
        max_size=1 << 22)

    async def send(message):
        await ws.send(json.dumps(message))

    peer = Peer(name, send, **kw)

    async def read():
        try:
            async for raw in ws:
                await peer.deliver(json.loads(raw))
        except (websockets.ConnectionClosed, asyncio.CancelledError):
            pass

    peer.ws = ws
    peer.reader = asyncio.ensure_future(read())
    await peer.wait_for(lambda m: m.get("type") == "hello", 10)
    return peer


async def test_it_runs_rooms_in_an_sfu_worker_process_placed_through_the_channel_layer(
        external_env, seed_small, client_for):
    import psutil

    server, worker, log, _env, _workers = external_env
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    host_client = await sync_to_async(client_for)(host)
    town_client = await sync_to_async(client_for)(town)
    presenter = await ws_peer(server, host_client, meeting.id, "host", camera=True, mic=True)
    viewer = await ws_peer(server, town_client, meeting.id, "town")
    try:
        await presenter.send({"type": "join"})
        await viewer.send({"type": "join"})
        try:
            await presenter.wait_for(lambda m: m.get("type") == "joined", 15)
        except asyncio.TimeoutError:
            raise AssertionError(f"no joined: {presenter.messages} {viewer.messages}")
        await viewer.wait_for(lambda m: m.get("type") == "joined", 15)
        await presenter.publish()

        def decoded():
            stats = viewer.video_by(presenter.session)
            return bool(stats and stats.good >= 30)

        assert await wait_until(decoded, 25)
        assert viewer.video_by(presenter.session).bad == 0
        # the media runs in the worker process, not in daphne
        worker_proc = psutil.Process(worker.pid)
        assert len(worker_proc.connections(kind="udp")) >= 2
        daphne_proc = psutil.Process(server.proc.pid)
        assert len(daphne_proc.connections(kind="udp")) == 0
        # signalling errors still come back through the worker
        await viewer.send({"type": "answer", "pc": "sub", "sdp": "v=0\r\n"})
        await viewer.wait_for(lambda m: m.get("type") == "error" and m.get("code") in ("out_of_order", "bad_sdp"))
    finally:
        for peer in (presenter, viewer):
            peer.reader.cancel()
            await peer.close()
            await peer.ws.close()
    assert "Traceback" not in open(log, errors="replace").read()


async def test_it_places_the_room_again_when_its_worker_dies(external_env, seed_small, client_for):
    server, worker, _log, env, workers = external_env
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    host_client = await sync_to_async(client_for)(host)
    town_client = await sync_to_async(client_for)(town)
    first = await ws_peer(server, host_client, meeting.id, "host")
    await first.send({"type": "join"})
    await first.wait_for(lambda m: m.get("type") == "joined", 15)
    worker.kill()  # the machine running the room goes away (no chance to release its claim)
    worker.wait(10)
    first.reader.cancel()
    await first.ws.close()
    workers.append(await sync_to_async(start_worker)(server, env, "-b"))
    presenter = await ws_peer(server, host_client, meeting.id, "host", camera=True)
    viewer = await ws_peer(server, town_client, meeting.id, "town")
    try:
        await presenter.send({"type": "join"})
        await viewer.send({"type": "join"})
        await presenter.wait_for(lambda m: m.get("type") == "joined", 20)
        await viewer.wait_for(lambda m: m.get("type") == "joined", 20)
        await presenter.publish()
        assert await wait_until(lambda: bool(viewer.video_by(presenter.session)
                                             and viewer.video_by(presenter.session).good >= 10), 20)
    finally:
        for peer in (presenter, viewer):
            peer.reader.cancel()
            await peer.close()
            await peer.ws.close()
