"""One training across two SFU worker processes (SFU_PLACEMENT=viewer), through the real
signalling websocket of a real daphne and the Redis channel layer: each viewer on the
least-loaded worker, a publisher on one worker seen on both, a presenter handover reaching
everyone, and a worker killed mid-session: its viewer is moved (close 4503) and sees the
publisher again through the other worker within seconds, while the other worker's viewer
never stops receiving."""
import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from tests.sfu_peers import wait_until
from tests.sfu_support import close_peers, external_workers, joined, schedule, server_peer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_workers(server_factory):
    yield from external_workers(server_factory, "viewer", "ywcas")


async def test_it_serves_one_training_from_two_worker_processes(two_workers, seed_small, client_for):
    server, workers = two_workers
    people = seed_small[1]
    names = ["county_secretary", "town_secretary", "village_cadre", "village_cadre2", "county_handler"]
    host = people[names[0]]
    meeting = await schedule(host, [people[n] for n in names[1:]])
    clients = {n: await sync_to_async(client_for)(people[n]) for n in names}
    await asyncio.sleep(1.5)  # both workers have reported their load

    publisher = await server_peer(server, clients[names[0]], meeting.id, "host", camera=True, small=True)
    await publisher.send({"type": "join"})
    home = await joined(publisher)
    await publisher.publish()
    viewers = {}
    for name in names[1:]:
        await asyncio.sleep(1.2)  # a heartbeat: the load the next placement sees
        peer = await server_peer(server, clients[name], meeting.id, name)
        await peer.send({"type": "join"})
        viewers[name] = (peer, await joined(peer))
    servers = {s for _, s in viewers.values()}
    peers = [p for p, _ in viewers.values()]
    try:
        assert len(servers | {home}) == 2  # the least-loaded worker: both are used
        far = [p for p, s in viewers.values() if s != home]
        near = [p for p, s in viewers.values() if s == home]
        assert far and near, viewers

        def sees(peer, n):
            stats = peer.video_by(publisher.session)
            return bool(stats and stats.good >= n)

        for peer in peers:  # every viewer, on either worker, decodes the publisher
            assert await wait_until(lambda: sees(peer, 20), 25), peer.name

        # a presenter handover by the host reaches viewers on both workers
        target = people[names[1]].id
        await publisher.send({"type": "host", "action": "present", "target": target})
        for peer in peers:
            await peer.wait_for(lambda m: m.get("type") == "presenter" and m.get("person") == target, 10)

        # the worker serving only viewers dies: its viewers are moved, the others see nothing
        victim = _worker_of(workers, far[0], viewers)
        watcher = near[0]
        before = watcher.video_by(publisher.session).good
        killed_at = time.monotonic()
        victim.kill()
        victim.wait(10)
        closed = await asyncio.wait_for(far[0].ws.wait_closed(), 10)
        assert far[0].ws.close_code == 4503, closed
        moved_after = time.monotonic() - killed_at
        again = await server_peer(server, clients[far[0].name], meeting.id, far[0].name + "-again")
        peers.append(again)
        await again.send({"type": "join"})
        assert await joined(again) == home  # the live worker
        assert await wait_until(lambda: bool(again.video_by(publisher.session)
                                             and again.video_by(publisher.session).good >= 10), 15)
        back_after = time.monotonic() - killed_at
        # the publisher's worker kept serving its own viewer all along
        assert watcher.video_by(publisher.session).good > before + 30 * (back_after - 1)
        print(f"worker killed: viewer moved after {moved_after:.1f} s, video again after {back_after:.1f} s")
        assert back_after < 12
    finally:
        await close_peers(publisher, *peers)


def _worker_of(workers, peer, viewers):
    """The worker process whose channel served ``peer`` (channel names carry no pid: ask each
    worker's log, which prints its channel when ready)."""
    server_name = dict((p.name, s) for p, s in viewers.values())[peer.name]
    for w in workers:
        if server_name in open(w.log.name, errors="replace").read():
            return w
    raise AssertionError("no worker serves " + server_name)
