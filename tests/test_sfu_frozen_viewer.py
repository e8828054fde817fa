"""A viewer frozen for 12 s (a tab in the background, a phone asleep: it neither reads nor
answers) is live again within seconds: the server stops sending to a viewer that has sent no
RTCP for a while, instead of filling its socket buffer with seconds of video it would play
late, and asks the publisher for a keyframe when the viewer is heard again. Real aiortc peers."""
import asyncio
import time

import pytest

from tests.sfu_peers import wait_until
from tests.test_sfu_forwarding import good_video, harness  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio


def freeze(peer):
    """Stop the viewer's connection reading and sending, as a stopped process would."""
    dtls = peer.sub.getTransceivers()[0].receiver.transport
    protocols = dtls.transport._connection._protocols
    original = dtls._send_rtp

    async def silent(data):
        pass

    for protocol in protocols:
        protocol.transport.pause_reading()
    dtls._send_rtp = silent

    def thaw():
        dtls._send_rtp = original
        for protocol in protocols:
            protocol.transport.resume_reading()
    return thaw


async def test_it_drops_to_live_for_a_viewer_frozen_for_12_seconds(harness):  # noqa: F811
    presenter = await harness.connect("presenter", 1, camera=True)
    await presenter.publish()
    viewer = await harness.connect("viewer", 2)
    assert await wait_until(good_video(viewer, presenter, 90), 20)  # watching for a while
    camera = presenter.local_tracks["camera"]
    stats = viewer.video_by(presenter.session)

    thaw = freeze(viewer)
    await asyncio.sleep(12)
    frozen_at_end = camera.counter
    seen = len(stats.counters)
    thaw()
    thawed = time.monotonic()
    assert await wait_until(lambda: any(c >= frozen_at_end for c in stats.counters[seen:]), 6)
    live_after = time.monotonic() - thawed
    stale = [c for c in stats.counters[seen:] if c < frozen_at_end - 30]
    # what was sent before the freeze was noticed (a few seconds), not 12 s of backlog
    assert len(stale) < 5 * 30, (len(stale), live_after)
    print("frozen viewer: live again after %.2f s, %d stale frames" % (live_after, len(stale)))
    assert live_after < 4.0
