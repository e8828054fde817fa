"""SFU_WORKERS=external: rooms run in `manage.py sfu_worker` processes, placed through Redis.

A real daphne (signalling only) and a real SFU worker process share the Redis channel
layer; aiortc peers connect over a real websocket and receive the forwarded media.
"""
import asyncio
import os
import sys
import uuid

import pytest
from asgiref.sync import sync_to_async

from tests.sfu_peers import wait_until
from tests.sfu_support import close_peers, schedule, server_peer, start_worker, stop_worker

pytestmark = pytest.mark.django_db(transaction=True)


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


async def test_it_runs_rooms_in_an_sfu_worker_process_placed_through_the_channel_layer(
        external_env, seed_small, client_for):
    import psutil

    server, worker, log, _env, _workers = external_env
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    host_client = await sync_to_async(client_for)(host)
    town_client = await sync_to_async(client_for)(town)
    presenter = await server_peer(server, host_client, meeting.id, "host", camera=True, mic=True)
    viewer = await server_peer(server, town_client, meeting.id, "town")
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
        await close_peers(presenter, viewer)
    assert "Traceback" not in open(log, errors="replace").read()


async def test_it_places_the_room_again_when_its_worker_dies(external_env, seed_small, client_for):
    server, worker, _log, env, workers = external_env
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    host_client = await sync_to_async(client_for)(host)
    town_client = await sync_to_async(client_for)(town)
    first = await server_peer(server, host_client, meeting.id, "host")
    await first.send({"type": "join"})
    await first.wait_for(lambda m: m.get("type") == "joined", 15)
    worker.kill()  # the machine running the room goes away (no chance to release its claim)
    worker.wait(10)
    first.reader.cancel()
    await first.ws.close()
    workers.append(await sync_to_async(start_worker)(server, env, "-b"))
    presenter = await server_peer(server, host_client, meeting.id, "host", camera=True)
    viewer = await server_peer(server, town_client, meeting.id, "town")
    try:
        await presenter.send({"type": "join"})
        await viewer.send({"type": "join"})
        await presenter.wait_for(lambda m: m.get("type") == "joined", 20)
        await viewer.wait_for(lambda m: m.get("type") == "joined", 20)
        await presenter.publish()
        assert await wait_until(lambda: bool(viewer.video_by(presenter.session)
                                             and viewer.video_by(presenter.session).good >= 10), 20)
    finally:
        await close_peers(presenter, viewer)
