"""A participant's broken or hostile signalling ends only that participant's session, cleanly:
nested JSON under the size limit is refused with a message; any failure of the handler leaves
no ghost in the room and closes the attendance interval; a frame over daphne's limit closes the
socket with 1009 and a Chinese reason (real daphne)."""
import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from asgi import application
from tests.sfu_peers import wait_until
from tests.test_sfu_signalling import ORIGIN, attendance_rows, embedded_rooms, schedule  # noqa: F401

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def joined_socket(client, meeting_id):
    cookie = client.cookies["sessionid"].value
    comm = WebsocketCommunicator(application, f"/ws/meetings/{meeting_id}/",
                                 headers=[ORIGIN, (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await comm.connect(timeout=10)
    assert connected
    hello = json.loads(await comm.receive_from(timeout=10))
    await comm.send_to(text_data=json.dumps({"type": "join", "mode": "audio"}))
    while True:
        frame = json.loads(await comm.receive_from(timeout=10))
        if frame["type"] == "joined":
            return comm, hello["session"]


def room_sessions(meeting_id):
    from meetings.sfu.worker import embedded_host

    room = embedded_host().rooms.get(meeting_id)
    return set(room.sessions) if room is not None else set()


async def close_rooms():
    from meetings.sfu import worker

    if worker._embedded is not None:
        for room in list(worker._embedded.rooms.values()):
            await room.close()


async def test_it_refuses_deeply_nested_json_and_keeps_the_session(seed_small, client_for, embedded_rooms):
    people = seed_small[1]
    meeting = await schedule(people["county_secretary"], [people["town_secretary"]])
    client = await sync_to_async(client_for)(people["town_secretary"])
    comm, session = await joined_socket(client, meeting.id)
    try:
        await comm.send_to(text_data="[" * 99000 + "]" * 99000)
        while True:
            frame = json.loads(await comm.receive_from(timeout=10))
            if frame["type"] == "error":
                break
        assert frame["code"] == "bad_message" and "JSON" in frame["message"]
        assert session in room_sessions(meeting.id)  # still in the meeting, still served
        await comm.send_to(text_data=json.dumps({"type": "hand", "up": True}))
        assert await wait_until(lambda: any(p["hand"] for p in _roster(meeting.id)), 5)
    finally:
        await comm.disconnect()
        await close_rooms()


def _roster(meeting_id):
    from meetings.sfu.worker import embedded_host

    room = embedded_host().rooms.get(meeting_id)
    return room.roster() if room is not None else []


async def test_it_ends_the_session_and_its_attendance_when_a_handler_fails(
        seed_small, client_for, embedded_rooms, monkeypatch):
    people = seed_small[1]
    town = people["town_secretary"]
    meeting = await schedule(people["county_secretary"], [town])
    client = await sync_to_async(client_for)(town)
    comm, session = await joined_socket(client, meeting.id)
    try:
        assert session in room_sessions(meeting.id)
        rows = await attendance_rows(meeting)
        assert [r[2] for r in rows if r[0] == town.id] == [None]  # an open interval

        from meetings import consumers

        def broken(*args, **kwargs):
            raise RuntimeError("a bug in a handler")

        monkeypatch.setattr(consumers, "_media_mode", broken)
        await comm.send_to(text_data=json.dumps({"type": "mode", "mode": "video"}))
        while True:
            out = await comm.receive_output(timeout=10)
            if out["type"] == "websocket.close":
                break
        assert out["code"] == 1011
        assert session not in room_sessions(meeting.id)  # no ghost in the room
        rows = await attendance_rows(meeting)
        assert all(r[2] is not None for r in rows if r[0] == town.id)  # its interval is closed
    finally:
        await close_rooms()


async def test_it_closes_a_socket_sending_a_frame_over_the_limit_with_1009(
        seed_small, client_for, server_factory):
    people = seed_small[1]
    town = people["town_secretary"]
    meeting = await schedule(people["county_secretary"], [town])
    client = await sync_to_async(client_for)(town)
    server = await sync_to_async(server_factory)()
    url = server.url.replace("http://", "ws://") + f"/ws/meetings/{meeting.id}/"
    cookie = client.cookies["sessionid"].value
    async with websockets.connect(url, origin="http://127.0.0.1", max_size=None,
                                  additional_headers={"Cookie": f"sessionid={cookie}"}) as ws:
        json.loads(await ws.recv())  # hello
        await ws.send(json.dumps({"type": "join", "mode": "audio"}))
        while json.loads(await ws.recv())["type"] != "joined":
            pass
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.send("x" * 2_000_000)
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 1009
    assert closed.value.rcvd.reason == "消息过大，连接已关闭"
    # daphne told the consumer: the attendance interval is closed as on any disconnect
    for _ in range(50):
        rows = await attendance_rows(meeting)
        if rows and all(r[2] is not None for r in rows):
            break
        await asyncio.sleep(0.2)
    assert rows and all(r[2] is not None for r in rows)
