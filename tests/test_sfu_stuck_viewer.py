"""A participant who never answers the server's offer costs the others nothing: its buffer
overflows without asking the publisher for keyframes (each would reach every viewer — bad on
weak village links), and it gets a picture at once when it finally answers. Real aiortc peers."""
import asyncio

import pytest

from tests.sfu_peers import wait_until
from tests.test_sfu_forwarding import good_video, harness  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio


async def test_it_asks_no_keyframes_for_a_viewer_that_never_answers(harness):  # noqa: F811
    presenter = await harness.connect("presenter", 1, camera=True)
    await presenter.publish()
    viewer = await harness.connect("viewer", 2)
    assert await wait_until(good_video(viewer, presenter, 10), 20)

    offers = []

    async def never_answers(message):
        if message.get("type") == "offer":
            offers.append(message)

    await harness.room.join(3, "stuck", never_answers, session_id="stuck")
    assert await wait_until(lambda: offers, 5)
    pub = harness.room.sessions[presenter.session].publications["camera"]
    await asyncio.sleep(2.5)  # its first keyframe asked and delivered into its buffer
    before = pub.pli_sent
    frames = viewer.video_by(presenter.session).frames
    await asyncio.sleep(6.5)  # ~200 frames: three overflows of the stuck viewer's buffer
    stuck = next(slot.track for slot in harness.room.sessions["stuck"].slots if slot.track.kind == "video")
    assert stuck.dropped > 0  # it overflowed ...
    assert pub.pli_sent == before  # ... and asked for no keyframe
    assert viewer.video_by(presenter.session).frames > frames + 100  # the others were served

    # it answers at last: a keyframe is asked for it, and it sees the presenter
    from tests.sfu_peers import Peer

    late = Peer("stuck", lambda m: harness.room.handle("stuck", m))
    await late.deliver({"type": "joined", "session": "stuck"})
    await late.deliver(offers[-1])
    try:
        assert await wait_until(good_video(late, presenter, 5), 10)
        assert pub.pli_sent > before
    finally:
        await late.close()
