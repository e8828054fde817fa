"""The SFU through the real signalling websocket (asgi.application, ws/meetings/<id>/).

aiortc peers — a publisher with a synthetic camera and microphone, and viewers — sign in
with real session cookies, join through meetings.actions, negotiate over the websocket,
and decode what the embedded SFU forwards; the server never encodes.
"""
import asyncio
import datetime
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from asgi import application
from tests.sfu_peers import EncoderCounter, Peer, wait_until

ORIGIN = (b"origin", b"http://127.0.0.1")


class WsPeer:
    """A Peer whose signalling goes through a WebsocketCommunicator."""

    def __init__(self, comm: WebsocketCommunicator, peer: Peer) -> None:
        self.comm = comm
        self.peer = peer
        self.hello = None
        self.closed = asyncio.get_running_loop().create_future()
        self.task = None

    async def start(self) -> None:
        self.hello = json.loads(await self.comm.receive_from(timeout=10))
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            while True:
                out = await self.comm.output_queue.get()
                if out["type"] == "websocket.close":
                    self.closed.set_result(out.get("code"))
                    return
                await self.peer.deliver(json.loads(out["text"]))
        except asyncio.CancelledError:
            pass

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        await self.peer.close()
        if not self.closed.done():
            await self.comm.disconnect()


async def open_peer(client, meeting_id, name, **kw) -> WsPeer:
    cookie = client.cookies["sessionid"].value
    comm = WebsocketCommunicator(application, f"/ws/meetings/{meeting_id}/",
                                 headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await comm.connect(timeout=10)
    assert connected

    async def send(message):
        await comm.send_to(text_data=json.dumps(message))

    ws = WsPeer(comm, Peer(name, send, **kw))
    await ws.start()
    return ws


@sync_to_async
def schedule(host, invited, record=False):
    from meetings.actions import do_schedule
    from office.models import Post

    post = Post.objects.filter(person=host, active=True).first()
    now = timezone.now()
    return do_schedule(host, post, title="乡村振兴培训", starts_at=now,
                       ends_at=now + datetime.timedelta(hours=1),
                       person_ids=[p.id for p in invited], record=record)


@sync_to_async
def attendance_rows(meeting):
    from meetings.models import Attendance

    return list(Attendance.objects.filter(meeting=meeting).values_list(
        "person_id", "session_key", "left_at", "media_mode"))


@pytest.fixture
def embedded_rooms():
    from meetings.sfu import worker

    worker._embedded = None
    yield
    host = worker._embedded
    worker._embedded = None
    if host is not None:
        assert not host.rooms or True


async def _teardown(*peers):
    for p in peers:
        await p.close()
    from meetings.sfu import worker

    if worker._embedded is not None:
        for room in list(worker._embedded.rooms.values()):
            await room.close()


@pytest.mark.django_db(transaction=True)
async def test_it_refuses_a_person_who_was_not_invited(seed_small, client_for, embedded_rooms):
    people = seed_small[1]
    meeting = await schedule(people["county_secretary"], [people["town_secretary"]])
    client = await sync_to_async(client_for)(people["outsider"])
    cookie = client.cookies["sessionid"].value
    comm = WebsocketCommunicator(application, f"/ws/meetings/{meeting.id}/",
                                 headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await comm.connect(timeout=10)
    assert connected
    error = json.loads(await comm.receive_from(timeout=5))
    assert error["type"] == "error" and "未被邀请" in error["message"]
    closed = await comm.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4403


@pytest.mark.django_db(transaction=True)
async def test_it_forwards_media_through_websocket_signalling_without_encoding(
        seed_small, client_for, embedded_rooms, monkeypatch):
    counter = EncoderCounter().install(monkeypatch)
    people = seed_small[1]
    host, town, village = (people["county_secretary"], people["town_secretary"],
                           people["village_cadre"])
    meeting = await schedule(host, [town, village])
    clients = [await sync_to_async(client_for)(p) for p in (host, town, village)]
    presenter = await open_peer(clients[0], meeting.id, "host", camera=True, mic=True)
    viewer = await open_peer(clients[1], meeting.id, "town")
    weak = await open_peer(clients[2], meeting.id, "village")
    try:
        assert presenter.hello["host"] is True and viewer.hello["host"] is False
        # anything before join is out of order
        await viewer.peer.send({"type": "renegotiate"})
        await viewer.peer.wait_for(lambda m: m.get("code") == "out_of_order")
        await presenter.peer.send({"type": "join", "mode": "video"})
        await viewer.peer.send({"type": "join", "mode": "video"})
        await weak.peer.send({"type": "join", "mode": "audio"})
        await presenter.peer.wait_for(lambda m: m.get("type") == "joined")
        await presenter.peer.publish()
        session = presenter.peer.session

        def decoded(n):
            return lambda: bool(viewer.peer.video_by(session)
                                and viewer.peer.video_by(session).good >= n)

        assert await wait_until(decoded(30), 25)
        video = viewer.peer.video_by(session)
        assert video.bad == 0 and video.sizes == {(640, 480)}
        assert await wait_until(lambda: bool(weak.peer.audio_by(session)
                                             and weak.peer.audio_by(session).frames > 20), 15)
        assert weak.peer.video_by(session) is None  # audio-only viewer gets no video
        from meetings.sfu.worker import embedded_host

        room = embedded_host().rooms[meeting.id]
        server_senders = [slot.transceiver.sender
                          for s in room.sessions.values() for slot in s.slots]
        assert len(server_senders) == 3
        assert all(s._RTCRtpSender__packet_count > 0 for s in server_senders)
        publisher_senders = [t.sender for t in presenter.peer.pub.getTransceivers()]
        assert sum(counter.encode[id(s)] for s in publisher_senders) > 0
        assert counter.server_encodes(publisher_senders) == 0

        # bad input on the websocket: clear errors, the room keeps running
        await viewer.comm.send_to(text_data="{not json")
        await viewer.peer.wait_for(lambda m: m.get("code") == "bad_message")
        await viewer.peer.send({"type": "offer", "pc": "pub", "sdp": "v=0\r\nnonsense"})
        await viewer.peer.wait_for(lambda m: m.get("code") == "bad_sdp")
        await viewer.peer.send({"type": "host", "action": "mute_all"})
        forbidden = await viewer.peer.wait_for(lambda m: m.get("request") == "host")
        assert "主持人" in forbidden["message"]
        for _ in range(120):
            await viewer.comm.send_to(text_data=json.dumps({"type": "hand", "up": False}))
        await viewer.peer.wait_for(lambda m: m.get("code") == "rate_limited")
        before = viewer.peer.video_by(session).good
        assert await wait_until(lambda: viewer.peer.video_by(session).good > before + 15, 10)

        # the host mutes the town secretary... who publishes a mic first
        await asyncio.sleep(1.0)  # let the flooded token bucket refill
        viewer.peer.want_mic = True
        await viewer.peer.publish()
        await presenter.peer.send({"type": "host", "action": "mute", "target": town.id})
        await viewer.peer.wait_for(lambda m: m.get("type") == "muted")

        rows = await attendance_rows(meeting)
        assert {r[0] for r in rows} == {host.id, town.id, village.id}
        assert {r[3] for r in rows if r[0] == village.id} == {"audio"}
    finally:
        await _teardown(presenter, viewer, weak)
    await asyncio.sleep(0.3)
    rows = await attendance_rows(meeting)
    assert all(r[2] is not None for r in rows)  # every interval closed on disconnect


@pytest.mark.django_db(transaction=True)
async def test_it_replaces_the_older_tab_and_ends_for_all(seed_small, client_for, embedded_rooms):
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    host_client = await sync_to_async(client_for)(host)
    town_client = await sync_to_async(client_for)(town)
    presenter = await open_peer(host_client, meeting.id, "host", camera=True)
    tab1 = await open_peer(town_client, meeting.id, "tab1")
    tab2 = None
    try:
        await presenter.peer.send({"type": "join"})
        await tab1.peer.send({"type": "join"})
        await presenter.peer.wait_for(lambda m: m.get("type") == "joined")
        await presenter.peer.publish()
        session = presenter.peer.session
        assert await wait_until(lambda: bool(tab1.peer.video_by(session)
                                             and tab1.peer.video_by(session).good > 5), 20)
        tab2 = await open_peer(town_client, meeting.id, "tab2")
        await tab2.peer.send({"type": "join"})
        await tab1.peer.wait_for(lambda m: m.get("type") == "replaced")
        assert await asyncio.wait_for(tab1.closed, 5) == 4409
        assert await wait_until(lambda: bool(tab2.peer.video_by(session)
                                             and tab2.peer.video_by(session).good > 5), 20)
        await presenter.peer.send({"type": "host", "action": "end"})
        await tab2.peer.wait_for(lambda m: m.get("type") == "ended")
        assert await asyncio.wait_for(tab2.closed, 5) == 4410
        from meetings.models import Meeting

        state = await sync_to_async(lambda: Meeting.objects.get(id=meeting.id).state)()
        assert state == "ended"
    finally:
        await _teardown(*(p for p in (presenter, tab1, tab2) if p))


@pytest.mark.django_db(transaction=True)
async def test_it_takes_a_dropped_participant_back_into_the_room(seed_small, client_for, embedded_rooms):
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    host_client = await sync_to_async(client_for)(host)
    town_client = await sync_to_async(client_for)(town)
    presenter = await open_peer(host_client, meeting.id, "host", camera=True)
    viewer = await open_peer(town_client, meeting.id, "town")
    again = None
    try:
        await presenter.peer.send({"type": "join"})
        await viewer.peer.send({"type": "join"})
        await presenter.peer.wait_for(lambda m: m.get("type") == "joined")
        await presenter.peer.publish()
        session = presenter.peer.session
        assert await wait_until(lambda: bool(viewer.peer.video_by(session)
                                             and viewer.peer.video_by(session).good > 5), 20)
        await viewer.close()  # the village network drops: websocket and media gone at once
        again = await open_peer(town_client, meeting.id, "town-again")
        await again.peer.send({"type": "join"})
        assert await wait_until(lambda: bool(again.peer.video_by(session)
                                             and again.peer.video_by(session).good > 10), 20)
        assert presenter.peer.errors == []
        rows = [r for r in await attendance_rows(meeting) if r[0] == town.id]
        assert len(rows) == 2 and sum(1 for r in rows if r[2] is None) == 1
    finally:
        await _teardown(*(p for p in (presenter, again) if p))
