"""Recording follows the stage: the presenter's camera or a screen share, and the active speaker.

Real aiortc peers publish to a Room (tests/test_sfu_forwarding.py's harness); the recorder
muxes their forwarded VP8/Opus packets into WebM, and the test decodes the file with PyAV:
which camera is seen when (by picture size and painted counters), which tone is heard when
(Goertzel power at each publisher's tone), and that timestamps only go forward.
"""

import array
import asyncio
import math
import time

import av
import pytest

from tests.sfu_peers import EncoderCounter, read_counter, wait_until
from tests.test_sfu_forwarding import good_video, harness  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio

SMALL, LARGE, SCREEN = (320, 240), (640, 480), (320, 240)


def decoded_video(path):
    """[(seconds, (width, height), painted counter)] for every frame of the file."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        return [(float(f.pts * stream.time_base), (f.width, f.height), read_counter(f))
                for f in container.decode(stream)]


def readable(frames):
    """The painted counters read back: right after every switch of source, and (but for a
    rare frame the encoder blurred) all along — mixing up two sources would garble a run."""
    unreadable = [i for i, (_, _, c) in enumerate(frames) if c is None]
    starts = [i for i in range(len(frames)) if i == 0 or frames[i][1] != frames[i - 1][1]]
    after_switch = {i + k for i in starts for k in range(5)}
    return len(unreadable) <= len(frames) // 20 and not after_switch & set(unreadable)


def packet_times(path, kind):
    with av.open(path) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return [p.pts for p in container.demux(stream) if p.pts is not None]


def tone_power(samples, hz, rate=48000):
    """Goertzel: the power of one frequency in a list of samples."""
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def heard(path, spans, tones=(440, 880)):
    """For each (start, end) span of the file, the louder of the tones (or None if silent)."""
    chunks = []
    with av.open(path) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            assert frame.format.name == "fltp"
            left = array.array("f", bytes(frame.planes[0])[:4 * frame.samples])
            chunks.append((float(frame.pts * stream.time_base), left))
    out = []
    for start, end in spans:
        samples = [x for t, chunk in chunks if start <= t < end for x in chunk]
        assert len(samples) > 0.8 * 48000 * (end - start), (start, end)  # no hole in the audio
        powers = {hz: tone_power(samples, hz) for hz in tones}
        loudest = max(powers, key=powers.get)
        quiet = min(powers.values())
        out.append(loudest if powers[loudest] > 20 * max(quiet, 1e-9) else None)
    return out


def runs(values):
    """Consecutive runs: [a, a, b, b, a] -> [(a, 2), (b, 2), (a, 1)]."""
    out = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return out


def on_file_clock(recorder):
    return time.monotonic() - recorder.origin


async def test_it_follows_the_presenter_handover_and_the_active_speaker(harness, monkeypatch, tmp_path):  # noqa: F811
    counter = EncoderCounter().install(monkeypatch)
    host = await harness.connect("host", 1, is_host=True)
    alice = await harness.connect("alice", 2, camera=True, mic=True, tone_hz=440, width=320, height=240)
    bob = await harness.connect("bob", 3, camera=True, mic=True, tone_hz=880)
    await alice.publish()
    await bob.publish()
    tone = {"alice": alice.local_tracks["mic"], "bob": bob.local_tracks["mic"]}
    tone["bob"].hz = 0  # bob listens while alice speaks
    assert await wait_until(good_video(host, alice, 5), 20)
    assert await wait_until(good_video(host, bob, 5), 20)
    await host.raw_send({"type": "host", "action": "present", "target": 2})
    assert harness.room.presenter == 2

    path = str(tmp_path / "handover.webm")
    started = time.monotonic()
    await harness.room.start_recording(path, person_id=1)
    recorder = harness.room.recorder
    assert await wait_until(lambda: recorder.origin is not None, 5)
    changes = {}
    await asyncio.sleep(2.5)
    tone["alice"].hz, tone["bob"].hz = 0, 880  # bob takes the floor
    changes["bob speaks"] = on_file_clock(recorder)
    await asyncio.sleep(1.5)
    await host.raw_send({"type": "host", "action": "present", "target": 3})  # bob presents
    changes["bob presents"] = on_file_clock(recorder)
    await asyncio.sleep(1.5)
    tone["alice"].hz, tone["bob"].hz = 440, 0  # alice answers while bob still presents
    changes["alice speaks"] = on_file_clock(recorder)
    await asyncio.sleep(2.0)
    end = on_file_clock(recorder)
    assert await harness.room.stop_recording() == path
    wall = time.monotonic() - started

    # the server only forwarded: no encoder ran but the publishers' own
    senders = [t.sender for p in (alice, bob) for t in p.pub.getTransceivers()]
    assert counter.total > 0 and counter.server_encodes(senders) == 0

    # video: alice's camera (320x240), then bob's (640x480) from the handover on
    frames = decoded_video(path)
    times = [t for t, _, _ in frames]
    assert times == sorted(times) and len(set(times)) == len(times)  # never back, never twice
    assert [size for size, _ in runs(s for _, s, _ in frames)] == [SMALL, LARGE]
    assert readable(frames)
    for size in (SMALL, LARGE):
        counters = [c for _, s, c in frames if s == size and c is not None]
        assert counters == sorted(counters) and len(counters) > 30
    switch = next(t for t, s, _ in frames if s == LARGE)
    assert changes["bob presents"] - 0.1 < switch < changes["bob presents"] + 0.8
    assert len(frames) > 25 * end  # about 30 fps all along: no long freeze at the switch

    # audio: one voice at a time, whoever spoke, on the same timeline
    audio_times = packet_times(path, "audio")
    assert audio_times == sorted(audio_times) and len(set(audio_times)) == len(audio_times)
    margin = 1.0  # level smoothing, the 0.4 s speaker tick and the 1 s minimum per voice
    spans = [(0.2, changes["bob speaks"]),
             (changes["bob speaks"] + margin, changes["alice speaks"]),
             (changes["alice speaks"] + margin, end - 0.1)]
    assert heard(path, spans) == [440, 880, 440]
    assert recorder.audio.switches >= 3  # alice, bob, alice again

    # the file lasts as long as the recording ran (it starts at the first keyframe)
    with av.open(path) as container:
        duration = container.duration / av.time_base
    assert abs(duration - end) < 0.3
    assert wall - 1.0 < duration < wall + 0.05  # (+ the last frame's own length)


def stop_screen_share(peer):
    transceiver = next(t for t, source in peer._sources.items() if source == "screen")
    transceiver.direction = "inactive"
    return peer.offer_pub()


async def test_it_records_a_screen_share_started_mid_recording_and_returns_to_the_camera(  # noqa: F811
        harness, monkeypatch, tmp_path):
    counter = EncoderCounter().install(monkeypatch)
    host = await harness.connect("host", 1, is_host=True, camera=True, mic=True)
    viewer = await harness.connect("viewer", 2)
    await host.publish()
    assert await wait_until(good_video(viewer, host, 5), 20)

    path = str(tmp_path / "screen.webm")
    await harness.room.start_recording(path, person_id=1)
    recorder = harness.room.recorder
    assert await wait_until(lambda: recorder.origin is not None, 5)
    await asyncio.sleep(2.0)
    await host.publish(screen=True)
    shared = on_file_clock(recorder)
    await asyncio.sleep(2.5)
    await stop_screen_share(host)
    unshared = on_file_clock(recorder)
    assert await wait_until(lambda: "screen" not in harness.room.sessions[host.session].publications, 5)
    await asyncio.sleep(2.0)
    end = on_file_clock(recorder)
    assert await harness.room.stop_recording() == path

    senders = [t.sender for t in host.pub.getTransceivers()]
    assert counter.total > 0 and counter.server_encodes(senders) == 0
    frames = decoded_video(path)
    times = [t for t, _, _ in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert readable(frames)
    sequence = runs(s for _, s, _ in frames)
    assert [size for size, _ in sequence] == [LARGE, SCREEN, LARGE]
    assert sequence[1][1] > 10  # the screen share (10 fps) was recorded while it lasted
    first_screen = next(t for t, s, _ in frames if s == SCREEN)
    back = next(t for t, s, _ in frames if s == LARGE and t > first_screen)
    assert shared - 0.1 < first_screen < shared + 1.5
    assert unshared - 0.1 < back < unshared + 1.0
    assert end - 0.3 < times[-1] < end + 0.05  # (sources are placed by arrival: jitter)
    # the voice stayed the host's all along, without a hole
    audio_times = packet_times(path, "audio")
    assert audio_times == sorted(audio_times)
    assert heard(path, [(0.2, end - 0.1)], tones=(440, 880)) == [440]


async def test_it_switches_to_the_presenters_camera_when_it_is_published_later(harness, tmp_path):  # noqa: F811
    host = await harness.connect("host", 1, is_host=True, camera=True)
    cadre = await harness.connect("cadre", 2, camera=True, width=320, height=240)
    await host.publish()
    await host.raw_send({"type": "host", "action": "present", "target": 2})
    path = str(tmp_path / "later.webm")
    await harness.room.start_recording(path, person_id=1)
    recorder = harness.room.recorder
    assert await wait_until(lambda: recorder.origin is not None, 10)  # the host's camera meanwhile
    await asyncio.sleep(1.0)
    await cadre.publish()
    published = on_file_clock(recorder)
    await asyncio.sleep(2.0)
    await harness.room.stop_recording()
    frames = decoded_video(path)
    assert [size for size, _ in runs(s for _, s, _ in frames)] == [LARGE, SMALL]
    assert next(t for t, s, _ in frames if s == SMALL) < published + 1.5


async def test_it_keeps_a_voice_a_moment_and_falls_back_to_the_presenter_when_nobody_speaks(
        monkeypatch, tmp_path):
    from types import SimpleNamespace

    from meetings.sfu import recorder as recorder_module

    clock = [1000.0]
    monkeypatch.setattr(recorder_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def person(sid, person_id):
        session = SimpleNamespace(id=sid, person_id=person_id, publications={})
        session.publications["mic"] = SimpleNamespace(
            session=session, source="mic", kind="audio", codec="opus", paused=False, level=0.0,
            sinks=[], request_keyframe=lambda subscribe=False: None)
        return session

    host, alice, bob = person("h", 1), person("a", 2), person("b", 3)
    room = SimpleNamespace(sessions={s.id: s for s in (host, alice, bob)}, presenter=2, speaker=None)
    recorder = recorder_module.Recorder(room, str(tmp_path / "x.webm"), person_id=1)
    recorder.start()

    def voice():
        return next(s.id for s in (host, alice, bob) if s.publications["mic"] is recorder.audio.target)

    assert voice() == "a"  # nobody speaks: the presenter's microphone, not the recording host's
    bob.publications["mic"].level, room.speaker = 90.0, "b"
    clock[0] += 0.5
    recorder.on_change()
    assert voice() == "a"  # a voice is kept at least a second
    clock[0] += 0.6
    recorder.on_change()
    assert voice() == "b"  # then the recording follows the speaker
    assert recorder.audio.next.pub is bob.publications["mic"] and bob.publications["mic"].sinks
    bob.publications["mic"].level = 5.0  # bob falls silent; room.speaker still names him
    clock[0] += 1.2
    recorder.on_change()
    assert voice() == "a"
    alice.publications["mic"].paused = True  # the presenter is muted: the host's microphone
    recorder.on_change()
    assert voice() == "h"
    await recorder.stop()
    assert not any(s.publications["mic"].sinks for s in (host, alice, bob))


PLACEHOLDER = (640, 360)


async def test_it_shows_a_still_card_until_someone_shows_video_and_then_records_it(  # noqa: F811
        harness, monkeypatch, tmp_path):
    counter = EncoderCounter().install(monkeypatch)
    host = await harness.connect("host", 1, is_host=True, mic=True)  # a voice, no camera
    cadre = await harness.connect("cadre", 2, camera=True, width=320, height=240)
    await host.publish()
    path = str(tmp_path / "voice-first.webm")
    await harness.room.start_recording(path, person_id=1)
    recorder = harness.room.recorder
    assert await wait_until(lambda: recorder.origin is not None, 10)  # opened on the voice
    await asyncio.sleep(2.5)
    await cadre.publish()  # a camera comes on later
    published = on_file_clock(recorder)
    await asyncio.sleep(2.5)
    end = on_file_clock(recorder)
    assert await harness.room.stop_recording() == path

    senders = [t.sender for p in (host, cadre) for t in p.pub.getTransceivers()]
    assert counter.total > 0 and counter.server_encodes(senders) == 0
    frames = decoded_video(path)
    times = [t for t, _, _ in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    sequence = runs(s for _, s, _ in frames)
    assert [size for size, _ in sequence] == [PLACEHOLDER, SMALL]
    assert 2 <= sequence[0][1] <= 4  # the card about once a second until the camera came
    first_camera = next(t for t, s, _ in frames if s == SMALL)
    assert published - 0.1 < first_camera < published + 1.5
    camera = [c for _, s, c in frames if s == SMALL]
    assert len(camera) > 20 * (end - first_camera) and readable([f for f in frames if f[1] == SMALL])
    # the voice runs through the whole file
    assert heard(path, [(0.2, end - 0.1)], tones=(440, 880)) == [440]
