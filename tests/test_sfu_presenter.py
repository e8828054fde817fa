"""Handing over presenting (移交主讲) in the forwarding SFU, with real aiortc peers on loopback.

Only the hosts and the presenter may publish the small second track and a screen share;
a handover moves that right, is broadcast to everyone, and takes effect on the media at once.
"""
import pytest

from tests.sfu_peers import wait_until
from tests.test_sfu_forwarding import good_video, harness  # noqa: F401  (fixture)
from tests.test_sfu_signalling import embedded_rooms  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio


def roles_from(viewer, publisher):
    return {info.get("role") for info in viewer.tracks_info.values() if info.get("session") == publisher.session}


async def test_it_forwards_a_screen_share_only_from_the_presenter_and_moves_it_on_handover(harness):  # noqa: F811
    host = await harness.connect("host", 1, camera=True, is_host=True)
    cadre = await harness.connect("cadre", 2, camera=True, small=True)
    viewer = await harness.connect("viewer", 3, mode="small")
    await host.publish()
    await cadre.publish(screen=True)
    # not the presenter: the camera is forwarded, the screen and the small track are held back
    assert await wait_until(good_video(host, cadre, 10), 20)
    assert host.video_by(cadre.session).sizes == {(640, 480)}
    # a viewer on a weak line (small mode) gets presenters' small tracks, no one else's camera
    assert "video" not in roles_from(viewer, cadre)
    refused = await cadre.wait_for(lambda m: m.get("type") == "error" and m.get("code") == "not_presenter")
    assert "主讲" in refused["message"]
    assert "screen" not in roles_from(viewer, cadre) and "screen" not in roles_from(host, cadre)

    # the host hands presenting to the cadre: everyone is told, and the held tracks flow
    await host.raw_send({"type": "host", "action": "present", "target": 2})
    for peer in (host, cadre, viewer):
        told = await peer.wait_for(lambda m: m.get("type") == "presenter")
        assert told["person"] == 2
    assert await wait_until(good_video(viewer, cadre, 10, role="screen"), 20)
    assert await wait_until(good_video(host, cadre, 10, role="screen"), 20)
    assert viewer.video_by(cadre.session, "screen").sizes == {(320, 240)}
    assert await wait_until(lambda: (160, 120) in viewer.video_by(cadre.session).sizes, 10)
    roster = [m for m in viewer.messages if m.get("type") == "participants"][-1]
    assert roster["presenter"] == 2

    # a non-host cannot take presenting over signalling
    await viewer.raw_send({"type": "host", "action": "present", "target": 3})
    await viewer.wait_for(lambda m: m.get("type") == "error" and m.get("request") == "host")
    assert harness.room.presenter == 2

    # handed back to the host: the cadre's screen stops reaching anyone
    await host.raw_send({"type": "host", "action": "present", "target": 1})
    assert await wait_until(lambda: "screen" not in roles_from(viewer, cadre)
                            and "screen" not in roles_from(host, cadre), 10)
    assert "screen" not in harness.room.sessions[cadre.session].publications
    # … while the cadre's camera keeps flowing to the host, decoded correctly, and the weak
    # viewer, who had the cadre's small track while the cadre presented, no longer gets it
    base = host.video_by(cadre.session).good
    assert await wait_until(lambda: host.video_by(cadre.session).good > base + 10, 10)
    assert host.video_by(cadre.session).bad == 0
    assert await wait_until(lambda: "video" not in roles_from(viewer, cadre), 10)


async def test_it_gives_a_person_who_joins_later_the_presenter_and_a_host_may_always_share(harness):  # noqa: F811
    host = await harness.connect("host", 1, camera=True, is_host=True)
    await host.publish(screen=True)
    await host.raw_send({"type": "host", "action": "present", "target": 5})
    late = await harness.connect("late", 4)
    joined = await late.wait_for(lambda m: m.get("type") == "joined")
    assert joined["presenter"] == 5
    assert await wait_until(good_video(late, host, 5, role="screen"), 20)
    assert host.errors == []


@pytest.mark.django_db(transaction=True)
async def test_it_takes_the_presenter_from_the_meeting_and_a_websocket_handover_reaches_the_media(
        seed_small, client_for, embedded_rooms):  # noqa: F811
    from asgiref.sync import sync_to_async

    from meetings.actions import do_host_command
    from tests.test_sfu_signalling import _teardown, open_peer, schedule

    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    # handed over before anyone is in the room: the room learns it at the first join
    await sync_to_async(do_host_command)(host, meeting, "present", town.id)
    town_client = await sync_to_async(client_for)(town)
    host_client = await sync_to_async(client_for)(host)
    cadre = await open_peer(town_client, meeting.id, "town", camera=True)
    chair = await open_peer(host_client, meeting.id, "host")
    try:
        await cadre.peer.send({"type": "join"})
        joined = await cadre.peer.wait_for(lambda m: m.get("type") == "joined")
        assert joined["presenter"] == town.id
        await chair.peer.send({"type": "join"})
        await chair.peer.wait_for(lambda m: m.get("type") == "joined")
        await cadre.peer.publish(screen=True)
        session = cadre.peer.session
        assert await wait_until(lambda: bool(chair.peer.video_by(session, "screen")
                                             and chair.peer.video_by(session, "screen").good > 5), 20)
        assert cadre.peer.errors == []
        # the host takes presenting back over the websocket: recorded, broadcast, screen no longer forwarded
        await chair.peer.send({"type": "host", "action": "present", "target": host.id})
        told = await cadre.peer.wait_for(lambda m: m.get("type") == "presenter")
        assert told["person"] == host.id
        assert await wait_until(lambda: "screen" not in roles_from(chair.peer, cadre.peer), 10)
        from meetings.models import Meeting

        assert await sync_to_async(lambda: Meeting.objects.get(id=meeting.id).presenter_id)() == host.id
        # the cadre cannot take it back: refused by the action, nothing changes
        await cadre.peer.send({"type": "host", "action": "present", "target": town.id})
        refused = await cadre.peer.wait_for(lambda m: m.get("type") == "error" and m.get("request") == "host")
        assert "主持人" in refused["message"]
    finally:
        await _teardown(cadre, chair)
