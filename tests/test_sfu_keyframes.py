"""Keyframe requests to a publisher are merged and rate-limited, yet nobody is left waiting:
a request merged into one in flight, or held back by the merge window, is asked again later
if a viewer (or the recorder) still has no keyframe. The publisher here is a stand-in track
fed by the test, so that each keyframe's arrival is under the test's control."""
import asyncio

import av
import pytest

from meetings.sfu import relay
from meetings.sfu.relay import Publication, SubscriberTrack

pytestmark = pytest.mark.asyncio


class FedTrack:
    kind = "video"

    def __init__(self):
        self.queue = asyncio.Queue()

    async def recv(self):
        return await self.queue.get()

    def feed(self, keyframe):
        packet = av.Packet(b"\x00\x00\x00\x9d\x01\x2a\x40\x01\xf0\x00" if keyframe else b"\x01\x00\x00")
        packet.pts = 0
        packet.is_keyframe = keyframe
        self.queue.put_nowait(packet)


class Receiver:
    async def _handle_rtp_packet(self, packet, arrival_time_ms):
        pass

    def getSynchronizationSources(self):
        return []  # nothing to send the PLI to: the test counts pli_sent


@pytest.fixture
async def publication(monkeypatch):
    monkeypatch.setattr(relay, "SUBSCRIBE_PLI_COALESCE", 0.2)
    monkeypatch.setattr(relay, "KEYFRAME_WAIT", 0.4)
    track = FedTrack()
    pub = Publication(session=None, source="camera", track=track, receiver=Receiver(),
                      codec="VP8")
    yield pub, track
    pub.stop()


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_it_asks_again_for_a_viewer_who_subscribed_just_after_a_keyframe(publication):
    pub, track = publication
    first = SubscriberTrack("video", 10)
    first.attach(pub)  # asks: one PLI
    assert pub.pli_sent == 1
    track.feed(keyframe=True)
    await settle()
    assert not first.waiting_keyframe and pub.keyframe_due is None
    late = SubscriberTrack("video", 10)
    late.attach(pub)  # within the merge window of a keyframe it did not get
    assert pub.pli_sent == 1 and late.waiting_keyframe
    await asyncio.sleep(0.3)
    assert pub.pli_sent == 2  # asked again for the late viewer
    track.feed(keyframe=True)
    await settle()
    assert not late.waiting_keyframe
    await asyncio.sleep(0.5)
    assert pub.pli_sent == 2  # and no more once everyone has a picture


async def test_it_asks_again_when_a_requested_keyframe_never_comes(publication):
    pub, track = publication
    viewer = SubscriberTrack("video", 10)
    viewer.attach(pub)
    assert pub.pli_sent == 1
    other = SubscriberTrack("video", 10)
    other.attach(pub)  # merged into the request in flight
    assert pub.pli_sent == 1
    await asyncio.sleep(0.5)  # the PLI (or its keyframe) was lost on the way
    assert pub.pli_sent == 2
    track.feed(keyframe=True)
    await settle()
    assert not viewer.waiting_keyframe and not other.waiting_keyframe


async def test_it_merges_requests_while_a_keyframe_is_on_its_way(publication):
    pub, track = publication
    viewers = [SubscriberTrack("video", 10) for _ in range(20)]
    for viewer in viewers:
        viewer.attach(pub)
    assert pub.pli_sent == 1
    track.feed(keyframe=True)
    await settle()
    assert not any(v.waiting_keyframe for v in viewers)
    await asyncio.sleep(0.6)
    assert pub.pli_sent == 1  # twenty subscriptions, one keyframe


async def test_it_asks_again_for_the_recorder_too(publication):
    pub, track = publication
    viewer = SubscriberTrack("video", 10)
    viewer.attach(pub)
    track.feed(keyframe=True)
    await settle()
    pub.request_keyframe(subscribe=True)  # the recorder's new source, just after that keyframe
    assert pub.pli_sent == 1
    await asyncio.sleep(0.3)
    assert pub.pli_sent == 2
