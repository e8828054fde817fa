"""The forwarding SFU (meetings/sfu/room.py) with real aiortc peers on loopback.

The peers talk to the Room directly (no websocket): the signalling path through
Channels is covered by tests/test_sfu_signalling.py.
"""

import asyncio
import inspect

import av
import pytest
import pytest_asyncio
from aiortc import rtcrtpreceiver

from meetings.sfu import forwarding, native, sdp
from meetings.sfu.messages import TokenBucket
from meetings.sfu.room import Room
from tests.sfu_peers import EncoderCounter, Peer, wait_until

pytestmark = pytest.mark.asyncio


class Harness:
    def __init__(self) -> None:
        self.room = Room("t")
        self.peers: list[Peer] = []
        self.sessions: dict = {}

    async def connect(self, name: str, person_id: int, *, is_host: bool = False,
                      mode: str = "video", **kw) -> Peer:
        holder: dict = {}

        async def to_peer(message: dict) -> None:
            await holder["peer"].deliver(message)

        async def to_room(message: dict) -> None:
            await self.room.handle(holder["sid"], message)

        peer = Peer(name, to_room, **kw)
        holder["peer"] = peer
        holder["sid"] = f"{name}-{len(self.peers)}"
        await self.room.join(person_id, name, to_peer, is_host=is_host, mode=mode,
                             session_id=holder["sid"])
        peer.raw_send = to_room
        self.peers.append(peer)
        return peer

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()
        await self.room.close()


@pytest_asyncio.fixture
async def harness():
    h = Harness()
    yield h
    await h.close()


def good_video(viewer: Peer, publisher: Peer, n: int, role: str = "video"):
    def check() -> bool:
        stats = viewer.video_by(publisher.session, role)
        return bool(stats and stats.good >= n)
    return check


async def test_it_fails_loudly_if_aiortc_moves_the_hook():
    # The names, signatures and call sites forwarding.py relies on are where it expects.
    forwarding.check_hook()
    forwarding.check_sender_hook()
    assert list(inspect.signature(forwarding._original_decoder_worker).parameters) == [
        "loop", "input_q", "output_q", "decode_error"]
    forwarding.install()
    assert rtcrtpreceiver.decoder_worker is forwarding._decoder_worker
    assert rtcrtpreceiver.get_decoder is forwarding._get_decoder
    # Outside a forwarding thread the real decoder is still handed out.
    codec = type("C", (), {"name": "VP8", "clockRate": 90000, "mimeType": "video/VP8"})()
    assert not isinstance(rtcrtpreceiver.get_decoder(codec), forwarding.PassthroughDecoder)
    # The passthrough decoder returns the encoded bytes as one av.Packet.
    frame = type("F", (), {"data": b"\x10\x02\x00\x9d\x01\x2a", "timestamp": 1234})()
    [packet] = forwarding.PassthroughDecoder(codec).decode(frame)
    assert isinstance(packet, av.Packet)
    assert bytes(packet) == frame.data and packet.pts == 1234
    assert packet.time_base.denominator == 90000 and packet.is_keyframe


async def test_it_forwards_camera_and_mic_to_viewers_without_encoding_on_the_server(
        harness, monkeypatch):
    counter = EncoderCounter().install(monkeypatch)
    alice = await harness.connect("alice", 1, camera=True, mic=True)
    bob = await harness.connect("bob", 2)
    carol = await harness.connect("carol", 3)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 45), 20)
    assert await wait_until(good_video(carol, alice, 45), 20)
    for viewer in (bob, carol):
        video = viewer.video_by(alice.session)
        assert video.bad == 0
        assert video.sizes == {(640, 480)}
        # consecutive painted counters: frames decode correctly and in order
        assert video.counters == sorted(video.counters)
        assert viewer.audio_by(alice.session).frames > 20
    server_senders = [slot.transceiver.sender
                      for s in harness.room.sessions.values() for slot in s.slots]
    assert len(server_senders) == 4
    assert all(isinstance(s, forwarding.ForwardingSender) for s in server_senders)
    assert all(s._RTCRtpSender__packet_count > 0 for s in server_senders)
    # ... through the native send path (meetings/sfu/native): what the viewers decoded above
    from meetings.sfu import native
    assert all(isinstance(s._yw_lane.send.__self__, native.Route) for s in server_senders)
    publisher_senders = [t.sender for t in alice.pub.getTransceivers()]
    assert all(counter.encode[id(s)] > 0 for s in publisher_senders)
    assert counter.server_encodes(publisher_senders) == 0
    # the server's receivers yield encoded packets, not decoded frames
    pubs = harness.room.sessions[alice.session].publications
    assert set(pubs) == {"camera", "mic"} and pubs["camera"].codec == "VP8"
    assert pubs["mic"].codec == "opus"
    # ... in the event loop: the frames do not cross to aiortc's decoder thread and back
    for pub in pubs.values():
        queue = pub.receiver._RTCRtpReceiver__decoder_queue
        assert isinstance(queue, forwarding.InlineFrames) and queue.real.qsize() == 0
        assert pub.packets > 20


async def test_it_asks_the_publisher_for_a_keyframe_when_a_viewer_subscribes_late(harness):
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 10), 20)
    pub = harness.room.sessions[alice.session].publications["camera"]
    before = pub.pli_sent
    await asyncio.sleep(1.5)
    # aiortc's VP8 encoder sends no periodic keyframe: without the forwarded PLI the
    # late viewer would never be able to decode anything.
    dave = await harness.connect("dave", 4)
    assert await wait_until(good_video(dave, alice, 10), 10)
    assert pub.pli_sent > before
    first = dave.video_by(alice.session).counters[0]
    assert first > 30  # it started mid-stream, on a fresh keyframe


async def test_it_gives_a_first_picture_to_a_viewer_who_subscribes_just_after_a_keyframe(harness):
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 5), 20)
    pub = harness.room.sessions[alice.session].publications["camera"]
    await asyncio.sleep(1.2)
    pub.request_keyframe(subscribe=True)  # someone else's subscription asked a moment ago...
    assert await wait_until(lambda: pub.keyframe_due is None, 5)  # ...and its keyframe came
    # dave's own request now falls within the merge window of that one, whose keyframe he
    # missed; aiortc's encoder sends no keyframe unasked, and a viewer that gets no packets
    # asks for none: the server must ask again for him
    dave = await harness.connect("dave", 4)
    assert await wait_until(good_video(dave, alice, 5), 5)


async def test_it_tells_publishers_the_rooms_bitrate_ceiling_instead_of_aiortcs_estimate(harness, monkeypatch):
    from aiortc import rtcrtpsender

    from meetings.sfu import relay

    heard = []
    original = rtcrtpsender.unpack_remb_fci

    def unpack(fci):
        bitrate, ssrcs = original(fci)
        heard.append(bitrate)
        return bitrate, ssrcs

    monkeypatch.setattr(rtcrtpsender, "unpack_remb_fci", unpack)
    monkeypatch.setattr(relay, "PUBLISH_MAX_BITRATE", 1_234_000)
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 5), 20)
    assert await wait_until(lambda: len(heard) >= 2, 5)  # about once a second
    assert set(heard) == {1_234_000}  # the room's ceiling, never an estimate
    encoder = alice.pub.getTransceivers()[0].sender._RTCRtpSender__encoder
    assert encoder.target_bitrate == 1_234_000


async def test_it_rate_limits_keyframe_requests_from_viewers(harness):
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 5), 20)
    pub = harness.room.sessions[alice.session].publications["camera"]
    await asyncio.sleep(1.1)
    before = pub.pli_sent
    slot = harness.room.sessions[bob.session].slots[0]
    sender = next(s.transceiver.sender for s in harness.room.sessions[bob.session].slots
                  if s.track.kind == "video")
    for _ in range(50):  # a viewer hammering PLIs
        sender._send_keyframe()
        await asyncio.sleep(0.02)
    assert slot is not None
    assert 1 <= pub.pli_sent - before <= 2


async def test_it_lets_each_viewer_choose_main_small_or_audio_only(harness):
    alice = await harness.connect("alice", 1, camera=True, small=True, mic=True, is_host=True)
    weak = await harness.connect("weak", 2, mode="small")
    strong = await harness.connect("strong", 3)
    await alice.publish()
    assert await wait_until(good_video(weak, alice, 10), 20)
    assert await wait_until(good_video(strong, alice, 10), 20)
    assert weak.video_by(alice.session).sizes == {(160, 120)}
    assert strong.video_by(alice.session).sizes == {(640, 480)}
    # the weak viewer drops to audio only: video stops, audio continues
    await weak.raw_send({"type": "mode", "mode": "audio"})
    await asyncio.sleep(1.0)  # frames already in flight drain
    video, audio = weak.video_by(alice.session), weak.audio_by(alice.session)
    frames, audio_frames = (video.frames if video else 0), weak.audio_by(alice.session).frames
    await asyncio.sleep(1.0)
    assert (weak.video_by(alice.session).frames if weak.video_by(alice.session) else 0) \
        <= frames + 1
    assert weak.audio_by(alice.session).frames > audio_frames + 20
    assert audio is not None
    # and back to the main picture, decoded correctly after the switch
    await weak.raw_send({"type": "mode", "mode": "video"})
    assert await wait_until(lambda: (640, 480) in weak.video_by(alice.session).sizes, 10)
    base = weak.video_by(alice.session).good
    assert await wait_until(lambda: weak.video_by(alice.session).good > base + 15, 10)
    assert weak.video_by(alice.session).bad == 0
    assert weak.errors == []


async def test_it_renegotiates_when_a_screen_share_is_added(harness, monkeypatch):
    counter = EncoderCounter().install(monkeypatch)
    alice = await harness.connect("alice", 1, camera=True, is_host=True)  # hosts may share a screen
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 5), 20)
    # client -> server renegotiation on the pub connection, then server -> client on sub
    await alice.publish(screen=True)
    assert await wait_until(good_video(bob, alice, 10, role="screen"), 20)
    assert bob.video_by(alice.session, "screen").sizes == {(320, 240)}
    before = bob.video_by(alice.session).good
    assert await wait_until(lambda: bob.video_by(alice.session).good > before + 10, 10)
    offers = [m for m in bob.messages if m.get("type") == "offer"]
    assert len(offers) >= 2
    publisher_senders = [t.sender for t in alice.pub.getTransceivers()]
    assert counter.total > 0 and counter.server_encodes(publisher_senders) == 0


async def test_it_names_the_active_speaker_from_audio_levels(harness):
    quiet = await harness.connect("quiet", 1, mic=True, tone_hz=0)
    loud = await harness.connect("loud", 2, mic=True, tone_hz=440)
    listener = await harness.connect("listener", 3)
    await quiet.publish()
    await loud.publish()
    message = await listener.wait_for(lambda m: m.get("type") == "speaker", 10)
    assert message["session"] == loud.session and message["person"] == 2
    pubs = {s.person_id: s.publications["mic"] for s in harness.room.sessions.values()
            if "mic" in s.publications}
    assert pubs[2].level_from_ext  # read from the RTP audio-level header extension
    assert pubs[2].level > pubs[1].level


async def test_it_carries_out_host_commands(harness):
    host = await harness.connect("host", 1, is_host=True, camera=True, mic=True)
    alice = await harness.connect("alice", 2, camera=True, mic=True)
    bob = await harness.connect("bob", 3, mic=True)
    await host.publish()
    await alice.publish()
    await bob.publish()
    assert await wait_until(good_video(host, alice, 5), 20)
    # a participant may not use host commands
    await alice.raw_send({"type": "host", "action": "mute_all"})
    assert alice.errors[-1]["code"] == "forbidden"
    await host.raw_send({"type": "host", "action": "stop_video", "target": 2})
    await alice.wait_for(lambda m: m.get("type") == "muted" and m["kind"] == "video")
    await asyncio.sleep(0.5)  # frames already in flight drain
    frames = host.video_by(alice.session).frames
    await asyncio.sleep(1.0)
    assert host.video_by(alice.session).frames <= frames + 1
    await host.raw_send({"type": "host", "action": "mute_all"})
    await bob.wait_for(lambda m: m.get("type") == "muted" and m["kind"] == "audio")
    roster = (await host.wait_for(
        lambda m: m.get("type") == "participants" and len(m["participants"]) == 3
        and not any(p["audio"] for p in m["participants"] if p["person"] != 1)))["participants"]
    assert {p["person"] for p in roster} == {1, 2, 3}
    await host.raw_send({"type": "host", "action": "remove", "target": 3})
    await bob.wait_for(lambda m: m.get("type") == "removed")
    assert {s.person_id for s in harness.room.sessions.values()} == {1, 2}
    await host.raw_send({"type": "host", "action": "end"})
    await alice.wait_for(lambda m: m.get("type") == "ended")
    assert harness.room.ended and not harness.room.sessions


async def test_it_answers_bad_signalling_with_errors_and_keeps_running(harness):
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 5), 20)
    mallory = await harness.connect("mallory", 3)
    send = mallory.raw_send
    await send({"type": "offer", "pc": "pub", "sdp": "this is not sdp"})
    assert mallory.errors[-1]["code"] == "bad_sdp"
    unknown = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
               "m=video 9 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\n"
               "a=rtpmap:98 VP9/90000\r\na=mid:0\r\na=sendonly\r\n")
    await send({"type": "offer", "pc": "pub", "sdp": unknown})
    assert mallory.errors[-1]["code"] == "unsupported_codec"
    assert "VP8" in mallory.errors[-1]["message"]
    await send({"type": "answer", "pc": "sub", "sdp": unknown})  # nothing was offered
    assert mallory.errors[-1]["code"] == "out_of_order"
    await send({"type": "candidate", "pc": "pub", "candidate": {"candidate": "x"}})
    assert mallory.errors[-1]["code"] == "out_of_order"
    await send({"type": "join"})
    assert mallory.errors[-1]["code"] == "out_of_order"
    await send(["not", "a", "dict"])
    await send({"type": "no-such-thing"})
    assert mallory.errors[-1]["code"] == "bad_message"
    for _ in range(200):  # a flood
        await send({"type": "hand", "up": True})
    assert any(e["code"] == "rate_limited" for e in mallory.errors)
    # everyone else is unaffected
    before = bob.video_by(alice.session).good
    assert await wait_until(lambda: bob.video_by(alice.session).good > before + 15, 10)
    assert bob.errors == [] and alice.errors == []


async def test_it_replaces_the_older_session_when_joining_twice(harness):
    alice = await harness.connect("alice", 1, camera=True)
    bob_tab1 = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob_tab1, alice, 5), 20)
    bob_tab2 = await harness.connect("bob", 2)
    await bob_tab1.wait_for(lambda m: m.get("type") == "replaced")
    assert [s.person_id for s in harness.room.sessions.values()].count(2) == 1
    # the new tab (or a reconnect after a dropped network) receives again
    assert await wait_until(good_video(bob_tab2, alice, 10), 15)
    roster = harness.room.roster()
    assert sorted(p["person"] for p in roster) == [1, 2]


async def test_it_limits_the_signalling_rate_with_a_token_bucket():
    bucket = TokenBucket(rate=1.0, burst=3.0)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


async def test_it_records_forwarded_vp8_and_opus_to_webm_without_transcoding(
        harness, monkeypatch, tmp_path):
    from tests.sfu_peers import read_counter

    counter = EncoderCounter().install(monkeypatch)
    host = await harness.connect("host", 1, is_host=True, camera=True, mic=True)
    bob = await harness.connect("bob", 2)
    await host.publish()
    assert await wait_until(good_video(bob, host, 5), 20)
    path = str(tmp_path / "meeting.webm")
    await harness.room.start_recording(path, person_id=1)
    await asyncio.sleep(2.5)
    recorder = harness.room.recorder
    assert await harness.room.stop_recording() == path
    assert recorder.packets["video"] > 40 and recorder.packets["audio"] > 80
    # no encoder ran for the recording (nor for any server sender)
    publisher_senders = [t.sender for t in host.pub.getTransceivers()]
    assert counter.total > 0 and counter.server_encodes(publisher_senders) == 0
    # the WebM plays: VP8 + Opus streams, frames decode to the painted counters
    with av.open(path) as container:
        kinds = {s.type: s.codec_context.name for s in container.streams}
        assert kinds == {"video": "vp8", "audio": "opus"}
        counters = [read_counter(f) for f in container.decode(video=0)]
    assert len(counters) > 40 and None not in counters
    assert counters == sorted(counters)
    with av.open(path) as container:
        audio_frames = sum(1 for _ in container.decode(audio=0))
    assert audio_frames > 80
    assert 1.5 < recorder.duration < 4.0


async def test_it_forwards_h264_from_a_publisher_that_offers_only_h264(harness, monkeypatch):
    counter = EncoderCounter().install(monkeypatch)
    alice = await harness.connect("alice", 1, camera=True, width=320, height=240,
                                  video_codec="H264")
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 20), 25)
    assert harness.room.sessions[alice.session].publications["camera"].codec == "H264"
    video = bob.video_by(alice.session)
    assert video.bad == 0 and video.sizes == {(320, 240)}
    assert video.counters == sorted(video.counters)
    publisher_senders = [t.sender for t in alice.pub.getTransceivers()]
    assert counter.server_encodes(publisher_senders) == 0


@pytest.mark.parametrize("rtx", [True, False], ids=["as RTX", "on the stream's own SSRC"])
async def test_it_retransmits_lost_video_packets_a_viewer_asks_for(harness, monkeypatch, rtx):
    # 1 in 10 of the camera's packets is lost on the way to bob: dropped as a datagram reaches his
    # connection, before SRTP (as on a real line: his SRTP never sees it, so a resend of the same
    # packet is no replay); he NACKs the gap; retransmissions get through, as RTX when negotiated,
    # else resent on the stream's own SSRC (by the C route that sent the original)
    forwarding.install()
    if not rtx:
        offered = sdp.codec_capabilities
        monkeypatch.setattr(sdp, "codec_capabilities", lambda kind, name: [
            c for c in offered(kind, name) if not c.mimeType.lower().endswith("/rtx")])
    retransmitted = []
    real_retransmit = forwarding.ForwardingSender._retransmit

    async def counting(self, seq):
        retransmitted.append(seq)
        await real_retransmit(self, seq)

    monkeypatch.setattr(forwarding.ForwardingSender, "_retransmit", counting)
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(lambda: bob.sub is not None and bob.sub.getTransceivers(), 10)
    sent = {"n": 0, "dropped": 0}

    def vp8_payload_types():
        return {pt for t in bob.sub.getTransceivers()
                for pt, codec in t.receiver._RTCRtpReceiver__codecs.items() if codec.mimeType == "video/VP8"}

    ice = bob.sub.getTransceivers()[0].receiver.transport.transport
    real_recv = ice._recv

    async def lossy_recv():
        while True:
            data = await real_recv()
            if 127 < data[0] < 192 and len(data) > 12 and (data[1] & 0x7F) in vp8_payload_types():
                sent["n"] += 1
                if sent["n"] % 10 == 5:
                    sent["dropped"] += 1
                    continue
            return data

    ice._recv = lossy_recv
    # what the server sends bob through aiortc's own SRTP (the RTX packets); frames and resends on
    # the stream's own SSRC go through the C route instead
    server_dtls = harness.room.sessions[bob.session].sub.getTransceivers()[0].sender.transport
    through_aiortc = []
    real_send_rtp = server_dtls._send_rtp

    async def counting_send_rtp(data):
        if not 192 <= data[1] <= 223:  # RTP, not the sender reports that also pass here
            through_aiortc.append(data)
        await real_send_rtp(data)

    server_dtls._send_rtp = counting_send_rtp
    assert await wait_until(good_video(bob, alice, 60), 25)
    assert sent["dropped"] >= 5 and len(retransmitted) >= sent["dropped"] - 1
    video = bob.video_by(alice.session)
    assert video.bad == 0
    # the retransmissions repaired the losses: no frame was skipped
    assert video.counters == list(range(video.counters[0], video.counters[0] + len(video.counters)))
    senders = [sl.transceiver.sender for sl in harness.room.sessions[bob.session].slots if sl.role == "video"]
    assert senders and all((getattr(s, forwarding._P + "rtx_payload_type") is not None) == rtx for s in senders)
    if rtx:
        assert len(through_aiortc) >= sent["dropped"] - 1
    else:
        assert through_aiortc == [] and native.Route is not None


async def test_it_sends_viewers_sender_reports_with_what_their_video_stream_carried(harness):
    alice = await harness.connect("alice", 1, camera=True)
    bob = await harness.connect("bob", 2)
    await alice.publish()
    assert await wait_until(good_video(bob, alice, 20), 25)
    server_senders = {slot.transceiver.sender.kind: slot.transceiver.sender
                      for slot in harness.room.sessions[bob.session].slots if slot.role == "video"}
    sender = server_senders["video"]
    receiver = next(t.receiver for t in bob.sub.getTransceivers()
                    if t.receiver.track is not None and t.receiver.track.kind == "video"
                    and t.sender is not None and t.receiver._RTCRtpReceiver__remote_streams)
    report = None
    for _ in range(60):  # a video sender report comes every 0.5-1.5 s
        stats = await receiver.getStats()
        report = next((s for s in stats.values() if s.type == "remote-outbound-rtp"), None)
        if report is not None and report.packetsSent > 0:
            break
        await asyncio.sleep(0.1)
    assert report is not None, "bob got no sender report for his video"
    # what the report says was sent so far, read from the sender's lane at that moment
    assert report.ssrc == sender._ssrc
    assert 0 < report.packetsSent <= sender._RTCRtpSender__packet_count
    assert report.packetsSent < report.bytesSent <= sender._RTCRtpSender__octet_count
    assert sender._RTCRtpSender__lsr is not None
    # bob's receiver reports answer it: the round trip is estimated, and shown by getStats()
    for _ in range(60):
        if sender._RTCRtpSender__rtt is not None:
            break
        await asyncio.sleep(0.1)
    assert 0 <= sender._RTCRtpSender__rtt < 1.0
    remote = [s for s in (await sender.getStats()).values() if s.type == "remote-inbound-rtp"]
    assert len(remote) == 1  # (its ssrc is the reporter's, as aiortc has it)
    assert remote[0].roundTripTime == sender._RTCRtpSender__rtt and remote[0].packetsLost == 0


async def test_it_bounds_retransmissions_when_a_congested_viewer_repeats_its_nacks(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(forwarding.time, "monotonic", lambda: clock[0])
    sender = type("Sender", (), {})()
    setattr(sender, forwarding._P + "octet_count", 0)

    def packet(seq):
        return (seq, 0, 0, b"x" * 1000)

    # the same packet asked for again within the interval is not resent again
    assert forwarding._rtx_allowed(sender, packet(7)) is True
    assert forwarding._rtx_allowed(sender, packet(7)) is False
    clock[0] += forwarding.RTX_RESEND_INTERVAL + 0.01
    assert forwarding._rtx_allowed(sender, packet(7)) is True
    # a storm of NACKs for different packets: a burst, then only a share of what the stream sends
    resent = sum(forwarding._rtx_allowed(sender, packet(100 + i)) for i in range(100))
    assert resent < forwarding.RTX_BURST / 1000
    setattr(sender, forwarding._P + "octet_count", 40_000)  # the stream sent 40 kB meanwhile
    resent = sum(forwarding._rtx_allowed(sender, packet(300 + i)) for i in range(100))
    assert resent == int(forwarding.RTX_SHARE * 40_000 / 1000)


async def test_it_resyncs_a_viewer_that_falls_behind_on_a_fresh_keyframe():
    from meetings.sfu.relay import VIDEO_BUFFER, SubscriberTrack

    asked = []

    class FakePublication:  # only what SubscriberTrack touches; no network
        subscribers: set = set()

        def request_keyframe(self, subscribe=False):
            asked.append(subscribe)

    def frame(n, key):
        packet = av.Packet(b"\x00" * 10 if key else b"\x01" * 10)
        packet.pts = n * 3000
        packet.is_keyframe = key
        return forwarding.SharedFrame(packet, lambda p: [bytes(p)])

    track = SubscriberTrack("video", VIDEO_BUFFER)
    track.attach(FakePublication())
    assert asked == [True]  # subscribing asks for a keyframe at once
    track.push(frame(0, False))
    assert not track.queue  # nothing before the first keyframe
    track.push(frame(1, True))
    track.push(frame(2, False))
    assert (await track.recv()).shared.packet.is_keyframe  # the viewer reads, slowly
    for n in range(3, VIDEO_BUFFER + 3):
        track.push(frame(n, False))
    # it fell behind: its backlog was dropped and it waits for a new keyframe, asked for it
    assert track.dropped == VIDEO_BUFFER and track.waiting_keyframe and len(asked) == 2
    track.push(frame(VIDEO_BUFFER + 3, False))
    assert not track.queue
    track.push(frame(VIDEO_BUFFER + 4, True))
    out = await track.recv()
    assert out.shared.packet.is_keyframe and out.timestamp == (VIDEO_BUFFER + 4) * 3000

    # a viewer that never reads (it never answered its offer) overflows without asking: a
    # keyframe would reach every viewer of the publication, every VIDEO_BUFFER frames
    asked.clear()
    stuck = SubscriberTrack("video", VIDEO_BUFFER)
    stuck.attach(FakePublication())
    for n in range(0, 4 * VIDEO_BUFFER):
        stuck.push(frame(n, n % 30 == 0))  # (the publisher's own keyframes now and then)
    assert stuck.dropped > 2 * VIDEO_BUFFER and asked == [True]  # only the subscription's
    stuck.push(frame(3 * VIDEO_BUFFER + 1, False))
    reading = asyncio.ensure_future(stuck.recv())  # it starts reading: now it asks
    await asyncio.sleep(0)
    assert asked == [True, True]
    stuck.push(frame(3 * VIDEO_BUFFER + 2, True))
    assert (await reading).shared.packet.is_keyframe
