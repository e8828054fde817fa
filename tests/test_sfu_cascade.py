"""One room across two SFU workers joined by a pipe (meetings/sfu/cascade.py), in one process:
two RoomHosts, each with its own PipeServer on loopback TCP, real aiortc peers on each.
A publisher on one worker is seen by viewers on the other (encoded frames piped once, never
decoded), the roster lists everyone, a presenter handover and host commands reach both, key
frame requests travel back, and when a worker goes away the other
drops its sessions and keeps serving its own viewers."""

import pytest
import pytest_asyncio

from meetings.sfu.cascade import PipeServer
from meetings.sfu.worker import RoomHost
from tests.sfu_peers import EncoderCounter, Peer, wait_until

pytestmark = pytest.mark.asyncio


class Worker:
    def __init__(self, name):
        self.host = RoomHost(ice=[])
        self.pipes = PipeServer(self.host, name)
        self.host.on_room_created = self.pipes.attach
        self.name = name
        self.peers = []

    def room(self):
        return self.host.room("training")

    async def connect(self, name, person_id, *, is_host=False, mode="video", **kw):
        holder = {}

        async def to_peer(message):
            await holder["peer"].deliver(message)

        async def to_room(message):
            await self.room().handle(holder["sid"], message)

        peer = Peer(name, to_room, **kw)
        holder["peer"], holder["sid"] = peer, f"{self.name}-{name}"
        await self.room().join(person_id, name, to_peer, is_host=is_host, mode=mode,
                               session_id=holder["sid"])
        peer.raw_send = to_room
        self.peers.append(peer)
        return peer

    async def close(self):
        for peer in self.peers:
            await peer.close()
        for room in list(self.host.rooms.values()):
            await room.close()
        self.pipes.close()


@pytest_asyncio.fixture
async def workers():
    a, b = Worker("worker-a"), Worker("worker-b")
    await a.pipes.start()
    await b.pipes.start()
    room_a, room_b = a.room(), b.room()
    await room_a.cascade.dial(b.name, b.pipes.address)  # (the registry does this in production)
    assert await wait_until(lambda: a.name in room_b.cascade.links, 5)
    yield a, b
    await a.close()
    await b.close()


def good(viewer, publisher, n, role="video"):
    def check():
        stats = viewer.video_by(publisher.session, role)
        return bool(stats and stats.good >= n)
    return check


async def test_it_shows_a_publisher_of_one_worker_to_viewers_of_the_other(workers, monkeypatch):
    a, b = workers
    counter = EncoderCounter().install(monkeypatch)
    host = await a.connect("host", 1, is_host=True, camera=True, mic=True, tone_hz=0)
    await host.publish()
    near = await a.connect("near", 2)
    far = await b.connect("far", 3)
    far2 = await b.connect("far2", 4, camera=True, small=True, mic=True, tone_hz=0)
    await far2.publish()
    assert await wait_until(good(near, host, 30), 20)
    assert await wait_until(good(far, host, 30), 20)  # through the pipe
    assert await wait_until(good(host, far2, 10), 20)  # and the other way
    senders = [t.sender for p in (host, far2) for t in p.pub.getTransceivers()]
    assert counter.server_encodes(senders) == 0  # forwarded, never re-encoded

    room_a, room_b = a.room(), b.room()
    # one roster on both workers
    people = {"host", "near", "far", "far2"}
    assert await wait_until(lambda: {p["name"] for p in room_a.roster()} == people, 5)
    assert await wait_until(lambda: {p["name"] for p in room_b.roster()} == people, 5)
    assert far.messages and any(m["type"] == "participants" and {p["name"] for p in m["participants"]} == people
                                for m in far.messages)

    # the frames cross the pipe once per publication, whatever the number of far viewers
    stats = room_b.cascade.stats()
    assert stats["frames_in"] > 0 and stats["hop_latency"] is not None
    # (the added latency per hop is measured by bench/bench_sfu_cascade.py, not asserted here)

    # a far viewer's key frame request travels back to the publisher's worker
    origin = room_a.sessions[host.session].publications["camera"]
    before = origin.pli_sent
    late = await b.connect("late", 5)
    assert await wait_until(good(late, host, 5), 10)
    assert origin.pli_sent > before

    # a presenter handover on one worker reaches viewers on both
    await host.raw_send({"type": "host", "action": "present", "target": 4})
    assert await far.wait_for(lambda m: m.get("type") == "presenter" and m.get("person") == 4, 5)
    assert await near.wait_for(lambda m: m.get("type") == "presenter" and m.get("person") == 4, 5)
    assert room_a.presenter == room_b.presenter == 4
    # ... and a "small" viewer on the other worker gets the new presenter's small track
    await near.raw_send({"type": "mode", "mode": "small"})
    assert await wait_until(lambda: any(
        s.role == "video" and s.owner == far2.session and s.track.publication is not None
        and s.track.publication.source == "small"
        for s in room_a.sessions[near.session].slots), 10)

    # host controls reach a person connected to the other worker
    await host.raw_send({"type": "host", "action": "mute", "target": 4})
    assert await far2.wait_for(lambda m: m.get("type") == "muted", 5)
    assert await wait_until(lambda: room_a.sessions[far2.session].publications["mic"].paused, 5)

    # worker b goes away: worker a drops its sessions and keeps serving its own viewer
    frames = near.video_by(host.session).good
    await b.close()
    assert await wait_until(lambda: {p["name"] for p in room_a.roster()} == {"host", "near"}, 5)
    assert await wait_until(lambda: near.video_by(host.session).good > frames + 30, 5)


async def test_it_ranks_speakers_of_both_workers_for_last_n(workers, monkeypatch):
    from meetings.sfu import ranking

    monkeypatch.setattr(ranking, "AUDIO_LAST_N", 1)
    a, b = workers
    quiet = await a.connect("quiet", 1, mic=True, tone_hz=0)
    await quiet.publish()
    other = await a.connect("other", 2, mic=True, tone_hz=0)
    await other.publish()
    speaker = await b.connect("speaker", 3, mic=True, tone_hz=500)
    await speaker.publish()
    viewer = await a.connect("viewer", 4)
    room_a = a.room()

    def heard():
        session = room_a.sessions[viewer.session]
        return {s.owner for s in session.slots if s.track.kind == "audio" and s.owner}

    # the one voice a viewer on worker a hears is the speaker on worker b
    assert await wait_until(lambda: heard() == {speaker.session}, 10)
    assert await wait_until(lambda: room_a.speaker == speaker.session, 5)
