"""An SFU worker killed during a meeting (SFU_WORKERS=external with rooms placed whole, two worker
processes, a real daphne, aiortc peers over real websockets; no network namespaces needed).

Expected: within seconds every participant of the dead worker is told in Chinese that the media server
changed and their socket closes with 4503; their attendance intervals are closed then, not when some
timeout notices; they reconnect and the room is placed on the other worker, where the video flows
again; the meeting's pages and API answer all along without a 500."""
import asyncio
import datetime
import re
import time
import urllib.error
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from tests.sfu_peers import wait_until
from tests.sfu_support import close_peers, external_workers, schedule, server_peer

pytestmark = pytest.mark.django_db(transaction=True)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def two_room_workers(server_factory):
    yield from external_workers(server_factory, "room", "ywkill")


def page(server, client, path):
    """(status, body) of a page or API answer through the real daphne, as the client's person."""
    request = urllib.request.Request(server.url + path,
                                     headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def pages_answer(server, client, meeting_id):
    """Every page and API answer of the meeting a participant or its host would look at now."""
    paths = [f"/meetings/{meeting_id}/", f"/meetings/{meeting_id}/room/", f"/meetings/{meeting_id}/attendance/",
             f"/api/meetings/{meeting_id}", f"/api/meetings/{meeting_id}/participants",
             f"/api/meetings/{meeting_id}/attendance", f"/api/meetings/{meeting_id}/roster"]
    return {path: page(server, client, path)[0] for path in paths}


def worker_serving(workers, channel):
    for w in workers:
        if channel in open(w.log.name, errors="replace").read():
            return w
    raise AssertionError(f"no worker serves {channel}")


@sync_to_async
def intervals(meeting_id, session):
    from meetings.models import Attendance

    return list(Attendance.objects.filter(meeting_id=meeting_id, session_key=session)
                .values_list("joined_at", "left_at"))


@sync_to_async
def open_intervals(meeting_id):
    from meetings.models import Attendance

    return Attendance.objects.filter(meeting_id=meeting_id, left_at__isnull=True).count()


async def test_it_moves_a_meeting_to_the_other_worker_when_its_worker_is_killed(
        two_room_workers, seed_small, client_for):
    server, workers = two_room_workers
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    clients = {"host": await sync_to_async(client_for)(host), "town": await sync_to_async(client_for)(town)}
    await asyncio.sleep(1.2)  # both workers have reported that they live

    presenter = await server_peer(server, clients["host"], meeting.id, "host", camera=True)
    viewer = await server_peer(server, clients["town"], meeting.id, "town")
    peers = [presenter, viewer]
    try:
        await presenter.send({"type": "join"})
        first = (await presenter.wait_for(lambda m: m.get("type") == "joined", 20))["server"]
        await viewer.send({"type": "join"})
        assert (await viewer.wait_for(lambda m: m.get("type") == "joined", 20))["server"] == first
        await presenter.publish()
        assert await wait_until(lambda: bool(viewer.video_by(presenter.session)
                                             and viewer.video_by(presenter.session).good >= 10), 25)
        sessions = {"host": presenter.session, "town": viewer.session}

        victim = worker_serving(workers, first)
        killed_at = time.monotonic()
        killed_when = timezone.now()
        victim.kill()  # no chance to release its claim on the room or to say goodbye
        victim.wait(10)
        for peer in (presenter, viewer):
            told = await peer.wait_for(lambda m: m.get("type") == "error" and m.get("code") == "moved", 10)
            assert CJK.search(told["message"]), told
            await asyncio.wait_for(peer.ws.wait_closed(), 10)
            assert peer.ws.close_code == 4503
        moved_after = time.monotonic() - killed_at
        assert moved_after < 8, moved_after

        # the intervals of the sessions on the dead worker are closed, at about the time it died
        for name, session in sessions.items():
            (joined_at, left_at), = await intervals(meeting.id, session)
            assert left_at is not None, name
            assert killed_when - datetime.timedelta(seconds=1) <= left_at <= timezone.now(), (name, left_at)
        assert await open_intervals(meeting.id) == 0

        # pages answer while the room is being placed again: the meeting's own pages as usual, the
        # others (the host's) with a clear refusal at worst, never a server error
        for who in ("host", "town"):
            answers = await sync_to_async(pages_answer)(server, clients[who], meeting.id)
            assert all(status < 500 for status in answers.values()), (who, answers)
            own = answers if who == "host" else {p: answers[p] for p in (
                f"/meetings/{meeting.id}/", f"/meetings/{meeting.id}/room/", f"/api/meetings/{meeting.id}")}
            assert all(status == 200 for status in own.values()), (who, answers)

        # the participants reconnect (as room.js does on 4503): the room is on the live worker now
        await close_peers(presenter, viewer)
        presenter = await server_peer(server, clients["host"], meeting.id, "host-again", camera=True)
        viewer = await server_peer(server, clients["town"], meeting.id, "town-again")
        peers = [presenter, viewer]
        await presenter.send({"type": "join"})
        second = (await presenter.wait_for(lambda m: m.get("type") == "joined", 20))["server"]
        await viewer.send({"type": "join"})
        assert (await viewer.wait_for(lambda m: m.get("type") == "joined", 20))["server"] == second
        assert second != first and worker_serving(workers, second) is not victim
        await presenter.publish()
        assert await wait_until(lambda: bool(viewer.video_by(presenter.session)
                                             and viewer.video_by(presenter.session).good >= 10), 20)
        back_after = time.monotonic() - killed_at
        print(f"worker killed: participants moved after {moved_after:.1f} s, video again after {back_after:.1f} s")
        assert back_after < 25
        assert await open_intervals(meeting.id) == 2
    finally:
        await close_peers(*peers)
    for _ in range(40):  # the last two intervals close as the sockets do
        if await open_intervals(meeting.id) == 0:
            break
        await asyncio.sleep(0.25)
    assert await open_intervals(meeting.id) == 0
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
