"""Helpers shared by the tests that run SFU workers or reach the SFU over the real signalling
websocket (tests/test_sfu_workers.py, test_sfu_cascade_workers.py, test_multihost.py,
test_meetings_turn_nat.py): starting and stopping ``manage.py sfu_worker`` processes,
scheduling a meeting, and aiortc participants (tests/sfu_peers.Peer) on a websocket.
"""
import asyncio
import datetime
import json
import os
import subprocess
import sys
import time

import websockets
from asgiref.sync import sync_to_async
from django.utils import timezone

from tests.conftest import BASE_DIR
from tests.sfu_peers import Peer


def start_worker(server, env, tag=""):
    """A ``manage.py sfu_worker`` process on the test database of ``server`` (a daphne of
    server_factory) with ``env``; returns once it is ready (its log says "ready on")."""
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


def external_workers(server_factory, placement, prefix, count=2):
    """A daphne of server_factory and `count` external SFU workers sharing a private channel prefix
    on Redis, with SFU_PLACEMENT=`placement`: yields (server, workers) and stops the workers after."""
    import uuid

    redis = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    env = {"SFU_WORKERS": "external", "SFU_PLACEMENT": placement, "REDIS_URL": redis,
           "YW_CHANNEL_PREFIX": f"{prefix}{uuid.uuid4().hex[:8]}"}
    server = server_factory(env)
    workers = [start_worker(server, env, f"-{chr(ord('a') + i)}") for i in range(count)]
    try:
        yield server, workers
    finally:
        for w in workers:
            stop_worker(w)


def stop_worker(worker):
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
    worker.log.close()


@sync_to_async
def schedule(host, invited, title="远程培训"):
    """A meeting starting now, scheduled by ``host`` (through the real action) for ``invited``."""
    from meetings.actions import do_schedule
    from office.models import Post

    post = Post.objects.active().filter(person_id=host.id).first()
    now = timezone.now()
    return do_schedule(host, post, title=title, starts_at=now,
                       ends_at=now + datetime.timedelta(hours=1), person_ids=[p.id for p in invited])


async def ws_peer(url, cookie, name, *, origin="http://127.0.0.1", open_timeout=10, hello_timeout=10, **kw):
    """An aiortc participant (``Peer(name, **kw)``) on the meeting websocket at ``url``, signed in
    with the session cookie ``cookie``; returned once the server said hello. ``peer.ws`` is the
    socket, ``peer.reader`` the task feeding the peer; close it with :func:`close_peers`."""
    ws = await websockets.connect(url, additional_headers={"Cookie": f"sessionid={cookie}"}, origin=origin,
                                  max_size=1 << 22, open_timeout=open_timeout)

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
    await peer.wait_for(lambda m: m.get("type") == "hello", hello_timeout)
    return peer


async def server_peer(server, client, meeting_id, name, **kw):
    """:func:`ws_peer` on a test daphne (server_factory), signed in as Django test ``client``."""
    return await ws_peer(f"ws://127.0.0.1:{server.port}/ws/meetings/{meeting_id}/",
                         client.cookies["sessionid"].value, name, **kw)


async def joined(peer, timeout=20):
    """Wait for the room's "joined"; the SFU worker (channel name) serving the peer."""
    message = await peer.wait_for(lambda m: m.get("type") == "joined", timeout)
    return message["server"]


async def close_peers(*peers):
    for peer in peers:
        peer.reader.cancel()
        await peer.close()
        await peer.ws.close()
