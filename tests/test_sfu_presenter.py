"""Handing over presenting (移交主讲) in the forwarding SFU, with real aiortc peers on loopback.

Only the hosts and the presenter may publish the small second track and a screen share;
a handover moves that right, is broadcast to everyone, and takes effect on the media at once.
"""
import pytest

from tests.sfu_peers import wait_until
from tests.test_sfu_forwarding import good_video, harness  # noqa: F401  (fixture)

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
    assert await wait_until(good_video(viewer, cadre, 10), 20)
    assert viewer.video_by(cadre.session).sizes == {(640, 480)}  # no small track to fall back on
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
    # … while the cadre's camera keeps flowing to the viewer, decoded correctly
    base = viewer.video_by(cadre.session).good
    assert await wait_until(lambda: viewer.video_by(cadre.session).good > base + 10, 10)
    assert viewer.video_by(cadre.session).bad == 0


async def test_it_gives_a_person_who_joins_later_the_presenter_and_a_host_may_always_share(harness):  # noqa: F811
    host = await harness.connect("host", 1, camera=True, is_host=True)
    await host.publish(screen=True)
    await host.raw_send({"type": "host", "action": "present", "target": 5})
    late = await harness.connect("late", 4)
    joined = await late.wait_for(lambda m: m.get("type") == "joined")
    assert joined["presenter"] == 5
    assert await wait_until(good_video(late, host, 5, role="screen"), 20)
    assert host.errors == []
