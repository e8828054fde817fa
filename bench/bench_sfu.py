"""SFU benchmark: one publisher to N aiortc viewers, forwarding SFU vs stock aiortc relay.

One publisher (640x480 at 30 fps, VP8 pinned at ~600 kbps, plus Opus) → a server process
→ N viewers spread over several viewer processes, all on loopback. Two servers, in the
same run:

* ``sfu``   — meetings.sfu.room.Room: encoded packets are forwarded (no decode/encode);
* ``relay`` — stock aiortc: the server decodes the camera once and MediaRelay feeds the
  decoded frames to one sender per viewer, which encodes them again (per viewer).

Measured over a fixed window after warm-up: server CPU (process CPU time / wall time, %
of one core) and per viewer; frames per second kept (mean and worst viewer); frame loss
(gaps in the RTP timestamps each viewer receives); latency from capture.

The server process is pinned to CPU 0 and every client to the other CPUs (BENCH_PIN=0
turns it off), so the server's "% of a core" is its own core, undisturbed by the viewers.

Viewers are cheap so that a 2-core machine holds a few hundred of them, yet they SEND what
browsers send, because that is what the server pays for: up to 64 share a process, and all
but one per run are counting viewers that never decode. Once connected, a counting viewer
reads its SRTP straight off its UDP socket and answers like Chrome (bench/_rtp_viewer.py,
BrowserTap): receiver reports with SDES and REMB every ~1 s per video stream (~5 s audio),
NACKs for every gap at once and again while it lasts, a PLI when a frame cannot be decoded
(a packet still missing after 0.5 s), all SRTCP-protected; it counts a frame when a decoder
could decode it (all its packets in, retransmissions included, the reference chain intact).
Before that it takes encoded frames in the event loop (InlineFrames + the SFU's
PassthroughDecoder). Counting viewers decode only keyframes (the first, then at most one
every 10 s): the painted frame counter is checked against the RTP timestamp and anchors the
capture time of every later frame, so latency is capture→last packet of the frame in. One
viewer per run decodes every frame through aiortc's full path (NACK, jitter buffer, VP8
decoder) and reads every painted counter: its fps and capture→decoded latency have their
own column. The "RTCP per viewer" column shows what the viewers sent during the window.

--publishers N (default 1; needs BENCH_CLIP when N > 1): a training's usual two video streams
per viewer and more — N publishers, each a 640x480@30 VP8 clip (the first with Opus), all on
one clock, and every viewer subscribed to all of them by the room's own choice (a browser's
join; ranking.py forwards every camera up to VIDEO_LAST_N), so a step of V viewers is V×N
viewer video streams. fps, loss and latency are then per stream (a stream a viewer should get
but does not counts 0 fps), the server reports how many publishers' video each viewer has a
slot for, and the fit gives the marginal CPU per viewer stream (streams per core). The stock
relay takes one publisher only and is skipped. Joins wait in the server's admission queue
(meetings/sfu/admission.py): the window starts only once every viewer receives every stream
through its tap; a step where some do not within 45 s + V/8 s is still measured but marked
FAILED and left out of the fit.

Then a meeting of --meeting (12) people with every camera on (320x240, ~600 kbps each):
server CPU for its n·(n-1) forwarded streams.

Usage: python bench/bench_sfu.py [--steps 1,64,128,256,384,512,640] [--publishers 1] [--per-process 64] [--relay-steps 1,4,8] [--window 5] [--meeting 12]
Prints one table row per (server, N), the marginal CPU per added viewer, and the meeting
row. Bounded to about 4 minutes with the defaults; the last step (640) is meant to find where
the server's core saturates. On a shared, loaded machine the
viewers' own figures (fps, loss, latency) suffer first: the server-side columns (CPU, µs
per packet, fps sent) are the ones that describe the SFU.
"""

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from _rtp_viewer import tap_connection  # noqa: E402  (the viewers' cheap, browser-like receiving)

# BENCH_CLIP=N: the publisher plays a pre-encoded N-frame clip instead of encoding live (publisher_main)
CLIP_FRAMES = int(os.environ.get("BENCH_CLIP") or 0)
VIEWERS_PER_PROCESS = 64  # counting viewers cost ~0.05-0.15 % of a core each (BrowserTap)
KEY_CHECK = 10.0  # seconds between a counting viewer's keyframe decodes per stream (the counter check)


PRIORITY = {"server": -10, "publisher": -10, "viewer": -5}  # nice values with BENCH_PRIORITY=1


def pin(role):
    """With 2 or more CPUs the server gets CPU 0 to itself and every client (publisher,
    viewers) shares the others, so "% of a core" is literally the server's core and the
    clients cannot slow the server down (BENCH_PIN=0 turns this off).

    On a machine shared with other work, BENCH_PRIORITY=1 (root) raises the bench's own
    priority (nice: server and publisher -10, viewers -5) so that the server's core and the
    clients' are the bench's first; otherwise viewers run at nice 5, below the server."""
    if os.environ.get("BENCH_PRIORITY") == "1":
        try:
            os.setpriority(os.PRIO_PROCESS, 0, PRIORITY.get(role, 0))
        except OSError:
            pass
    elif role == "viewer":
        os.nice(5)  # the server and the publisher first: the server's own figures stay true
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or os.environ.get("BENCH_PIN", "1") == "0":
        return
    os.sched_setaffinity(0, {cpus[0]} if role == "server" else set(cpus[1:]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- server
def server_main(kind, port, ready):
    pin("server")
    import logging

    logging.basicConfig(level=logging.ERROR)
    from aiohttp import WSMsgType, web

    async def main():
        state = {"room": None, "relay": None, "tracks": {}, "n": 0, "pcs": []}
        if kind == "sfu":
            from meetings.sfu.room import Room

            state["room"] = Room("bench")

        async def ws_handler(request):
            ws = web.WebSocketResponse(max_msg_size=1 << 22)
            await ws.prepare(request)
            state["n"] += 1
            sid = f"s{state['n']}"

            async def send(message):
                if not ws.closed:
                    await ws.send_str(json.dumps(message))

            if kind == "sfu":
                room = state["room"]
                await room.join(state["n"], sid, send, session_id=sid)
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        await room.handle(sid, json.loads(msg.data))
                await room.leave(sid)
            else:
                await relay_session(state, ws, send)
            return ws

        async def stats_handler(request):
            room = state["room"]
            frames = 0
            if room is not None:
                frames = sum(slot.track.delivered for sess in room.sessions.values()
                             for slot in sess.slots if slot.track.kind == "video")
            if room is not None:
                senders = [slot.transceiver.sender for sess in room.sessions.values()
                           for slot in sess.slots]
            else:
                senders = [t.sender for pc in state["pcs"] for t in pc.getTransceivers()
                           if t.direction == "sendonly"]
            packets = sum(getattr(x, "_RTCRtpSender__packet_count", 0) for x in senders)
            video_octets = sum(getattr(x, "_RTCRtpSender__octet_count", 0) for x in senders
                               if x.kind == "video")
            video_packets = sum(getattr(x, "_RTCRtpSender__packet_count", 0) for x in senders
                                if x.kind == "video")
            added = room.stats()["added_latency"] if room is not None else None
            publishers = [sess.pub.connectionState for sess in room.sessions.values()
                          if sess.pub is not None] if room is not None else []
            # the room's own choice (meetings/sfu/ranking.py): how many publishers' video each
            # viewer (a session that publishes nothing) has a slot for
            viewer_video = [len({slot.owner for slot in sess.slots if slot.owner is not None
                                 and slot.track.kind == "video"})
                            for sess in room.sessions.values() if sess.pub is None] if room is not None else []
            return web.json_response({"video_frames_sent": frames, "packets_sent": packets,
                                      "viewer_video": viewer_video,
                                      "publishers": publishers,
                                      "added_latency_ms": 1000 * added if added is not None else None,
                                      "video_octets": video_octets, "video_packets": video_packets,
                                      "dropped": room.stats()["dropped"] if room else 0})

        app = web.Application()
        app.router.add_get("/ws", ws_handler)
        app.router.add_get("/stats", stats_handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        ready.set()
        while True:
            await asyncio.sleep(3600)

    run_profiled(main)


def run_profiled(main):
    """asyncio.run(main()) in a server process; with BENCH_PROFILE=/path.prof the event loop's
    thread is profiled, and the profile written when the bench stops the server (SIGTERM)."""
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        import cProfile
        import signal

        prof = cProfile.Profile()

        def dump(*_):
            prof.disable()
            prof.dump_stats(profile)
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
        prof.enable()
    asyncio.run(main())


async def relay_session(state, ws, send):
    """Stock aiortc: decode the publisher once, MediaRelay, encode per viewer."""
    from aiohttp import WSMsgType
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    from tests.sfu_peers import CONFIG

    if state["relay"] is None:
        state["relay"] = MediaRelay()
    pc = None
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        message = json.loads(msg.data)
        if message.get("type") == "offer" and message.get("pc") == "pub":
            pc = RTCPeerConnection(CONFIG)
            state["pcs"].append(pc)

            @pc.on("track")
            def on_track(track):
                state["tracks"][track.kind] = track

            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            await send({"type": "answer", "pc": "pub", "sdp": pc.localDescription.sdp})
        elif message.get("type") == "join":
            pc = RTCPeerConnection(CONFIG)
            state["pcs"].append(pc)
            tracks = []
            for kind in ("audio", "video"):
                if kind in state["tracks"]:
                    t = pc.addTransceiver(state["relay"].subscribe(state["tracks"][kind]),
                                          direction="sendonly")
                    tracks.append({"mid": None, "kind": kind, "t": t})
            offer = await pc.createOffer()
            await pc.setLocalDescription(offer)
            info = [{"mid": x["t"].mid, "kind": x["kind"], "role": "video" if x["kind"] == "video"
                     else "audio", "session": "pub"} for x in tracks]
            await send({"type": "offer", "pc": "sub", "sdp": pc.localDescription.sdp, "tracks": info})
        elif message.get("type") == "answer" and pc is not None:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))


# -------------------------------------------------------------------------- publisher
NOISE_LEVELS = bytes(120 + (b % 16) for b in range(256))  # sensor-like noise, 16 grey levels


def add_noise(frame, counter):
    """A moving noisy block (a quarter of the picture) so that VP8 needs its whole bitrate:
    low-amplitude noise, as from a camera sensor, which VP8 holds at about 600 kbps at
    640x480 (full-range random bytes would need over 2 Mbps even at the coarsest quantiser)."""
    w, h = frame.width, frame.height
    plane = frame.planes[0]
    stride = plane.line_size
    data = bytearray(bytes(plane))
    top = h // 4 + (counter * 4) % (h // 2 - h // 4)
    for row in range(top, top + h // 4):
        data[row * stride + w // 4: row * stride + 3 * w // 4] = \
            os.urandom(w // 2).translate(NOISE_LEVELS)
    plane.update(bytes(data))


def encode_clip(width=320, height=240, frames=90, bitrate=600_000):
    """A looping pre-encoded VP8 clip (keyframe every 30 frames) and 1 s of Opus tone, so
    that the meeting's participants cost no encoding at all: only the server is measured."""
    import array
    import fractions
    import math

    import av

    from tests.sfu_peers import paint_counter

    vp8 = av.CodecContext.create("libvpx", "w")
    vp8.width, vp8.height, vp8.pix_fmt = width, height, "yuv420p"
    vp8.time_base = fractions.Fraction(1, 30)
    vp8.framerate = 30
    vp8.bit_rate = bitrate
    vp8.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "g": "30",
                   "keyint_min": "30"}
    video = []
    for i in range(frames):
        frame = paint_counter(i, width, height)
        add_noise(frame, i)
        frame.pts = i
        frame.time_base = vp8.time_base
        if i % 30 == 0:
            frame.pict_type = av.video.frame.PictureType.I
        video += [(bytes(p), p.is_keyframe) for p in vp8.encode(frame)]
    video += [(bytes(p), p.is_keyframe) for p in vp8.encode(None)]
    opus = av.CodecContext.create("libopus", "w")
    opus.sample_rate, opus.layout, opus.format = 48000, "stereo", "s16"
    audio = []
    for i in range(50):
        samples = array.array("h")
        for k in range(960):
            v = int(6000 * math.sin(2 * math.pi * 440 * (i * 960 + k) / 48000))
            samples += array.array("h", (v, v))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = 48000
        frame.pts = i * 960
        audio += [bytes(p) for p in opus.encode(frame)]
    return video, audio


def clip_track_class(video_clip, audio_clip):
    """A track that plays a pre-encoded clip (encode_clip) in real time, looping: av.Packet
    objects, which aiortc's sender only packetises (no encoding in the sending process).
    ``on_frame(n, t0)`` is called with each video frame's index and the clip's start time."""
    import fractions

    import av
    from aiortc.mediastreams import MediaStreamTrack

    class ClipTrack(MediaStreamTrack):
        def __init__(self, kind, on_frame=None, clock=None):
            super().__init__()
            self.kind = kind
            self.n = 0
            self.t0 = None
            self.on_frame = on_frame
            self.clock = clock  # a dict shared by several tracks: one start time, frames in step

        async def recv(self):
            step, period, clock = (3000, 1 / 30, 90000) if self.kind == "video" else (960, 0.02, 48000)
            if self.t0 is None:
                self.t0 = time.time() if self.clock is None else self.clock.setdefault("t0", time.time())
            wait = self.t0 + self.n * period - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.kind == "video":
                data, key = video_clip[self.n % len(video_clip)]
                if self.on_frame is not None:
                    self.on_frame(self.n, self.t0)
            else:
                data, key = audio_clip[self.n % len(audio_clip)], True
            packet = av.Packet(data)
            packet.pts = self.n * step
            packet.time_base = fractions.Fraction(1, clock)
            packet.is_keyframe = key
            self.n += 1
            return packet

    return ClipTrack


def meeting_main(port, count, ready_count, start, stop, results, clip):
    pin("publisher")
    """Participants of an every-camera-on meeting: each publishes a pre-encoded 320x240 VP8
    (~600 kbps) + Opus clip in real time and receives everyone else without decoding."""
    import aiohttp
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import MediaStreamError

    from meetings.sfu import forwarding
    from tests import sfu_peers

    video_clip, audio_clip = clip
    ClipTrack = clip_track_class(video_clip, audio_clip)

    class Participant(sfu_peers.Peer):
        async def publish_clip(self):
            self.pub = RTCPeerConnection(sfu_peers.CONFIG)
            mic = self.pub.addTransceiver(ClipTrack("audio"), direction="sendonly")
            cam = self.pub.addTransceiver(ClipTrack("video"), direction="sendonly")
            self._sources = {mic: "mic", cam: "camera"}
            await self.offer_pub()

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.frames = 0
            self.video_tracks = 0
            self.tap = None

        def on_frame(self, ts, parts):  # from BrowserTap, once installed (any sender's stream)
            if start.is_set() and not stop.is_set():
                self.frames += 1

        def wants_keyframe(self):  # from BrowserTap: these participants only count frames
            return False

        def keyframe_due(self):
            return float("inf")

        def _on_track(self, track):
            forwarding.mark_forwarding(track)
            if track.kind == "video":
                self.video_tracks += 1
            self._tasks.append(asyncio.ensure_future(self._count(track)))

        async def _count(self, track):
            try:
                while True:
                    await track.recv()
                    if track.kind == "video" and start.is_set() and not stop.is_set():
                        self.frames += 1
            except (MediaStreamError, asyncio.CancelledError):
                pass

    async def one(http, i):
        ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22)

        async def send(m):
            await ws.send_str(json.dumps(m))

        peer = Participant(f"p{i}", send, decode=False)
        reader = asyncio.ensure_future(_read(ws, peer))
        await peer.publish_clip()
        return peer, ws, reader

    async def main():
        async with aiohttp.ClientSession() as http:
            made = [await one(http, i) for i in range(count)]
            with ready_count.get_lock():
                ready_count.value += 1
            while not stop.is_set():
                await asyncio.sleep(0.1)
                for p, _, _ in made:  # cheap receiving (bench/_rtp_viewer.py)  once the sub link is up
                    if p.tap is None and p.video_tracks and not start.is_set():
                        p.tap = tap_connection(p.sub, p)
            results.put([{"frames": p.frames, "tracks": p.video_tracks, "tap": p.tap is not None}
                         for p, _, _ in made])
            for peer, ws, reader in made:
                reader.cancel()
                await peer.close()
                await ws.close()

    asyncio.run(main())


def run_meeting(n, window, per_process=2, warmup=3.0):
    """n participants, every camera on: server CPU, forwarded streams and their frame rate."""
    import psutil

    ctx = mp.get_context("spawn")
    port = free_port()
    server_ready = ctx.Event()
    server = ctx.Process(target=server_main, args=("sfu", port, server_ready), daemon=True)
    server.start()
    server_ready.wait(30)
    ready_count = ctx.Value("i", 0)
    start, stop = ctx.Event(), ctx.Event()
    results = ctx.Queue()
    clip = encode_clip()
    procs = []
    for i in range(0, n, per_process):
        p = ctx.Process(target=meeting_main, args=(port, min(per_process, n - i), ready_count, start,
                                                   stop, results, clip), daemon=True)
        p.start()
        procs.append(p)
    deadline = time.monotonic() + 60
    while ready_count.value < len(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(warmup)
    sp = psutil.Process(server.pid)
    s0 = _server_stats(port)
    c0 = sum(sp.cpu_times()[:2])
    w0 = time.monotonic()
    start.set()
    time.sleep(window)
    c1 = sum(sp.cpu_times()[:2])
    w1 = time.monotonic()
    s1 = _server_stats(port)
    load = os.getloadavg()[0]
    stop.set()
    people = []
    for _ in procs:
        people += results.get(timeout=60)
    for p in procs:
        p.join(10)
    server.kill()
    server.join(5)
    wall = w1 - w0
    streams = n * (n - 1)
    return {
        "participants": n, "streams": streams, "cpu": 100.0 * (c1 - c0) / wall,
        "server_fps": (s1["video_frames_sent"] - s0["video_frames_sent"]) / wall / streams,
        "received_fps": sum(p["frames"] for p in people) / wall / streams,
        "tracks": sum(p["tracks"] for p in people), "load": load,
        "tapped": sum(1 for p in people if p["tap"]),
        "kbps": sum(len(d) for d, _ in clip[0]) * 8 / (len(clip[0]) / 30) / 1000,
        "us_per_packet": 1e6 * (c1 - c0) / max(1, s1["packets_sent"] - s0["packets_sent"]),
    }


def publisher_main(port, t0, ready, stop, produced, publishers=1):
    pin("publisher")
    import aiohttp
    from aiortc.codecs import vpx

    vpx.DEFAULT_BITRATE = vpx.MIN_BITRATE = vpx.MAX_BITRATE = 600_000  # pin ~600 kbps

    from tests import sfu_peers

    class NoisyCamera(sfu_peers.CounterCamera):
        """The counter picture with a moving noisy area, so VP8 really needs its bitrate."""

        async def recv(self):
            frame = await super().recv()
            produced.value = self.counter
            if t0.value == 0.0:
                t0.value = self._start
            add_noise(frame, self.counter)
            return frame

    sfu_peers.CounterCamera = NoisyCamera

    clock = {}  # every publisher's clip on one clock: frame k is captured at t0 + k/30 in all

    async def publish_clip(peer, first=True):
        """BENCH_CLIP=N: a pre-encoded N-frame 640x480 clip (counter painted, the same noise, ~600
        kbps, a keyframe every second) instead of encoding live: the publisher then costs almost
        nothing and holds 30 fps on a machine busy with other work (keyframe requests are not
        answered: the clip's own keyframes come every second)."""
        from aiortc import RTCPeerConnection

        video, audio = encode_clip(640, 480, CLIP_FRAMES, 600_000)
        ClipTrack = clip_track_class(video, audio)

        def on_frame(n, started):
            produced.value = n
            if t0.value == 0.0:
                t0.value = started

        peer.pub = RTCPeerConnection(sfu_peers.CONFIG)
        peer._sources = {}
        if first:  # the first publisher speaks; the others (slides, a second presenter) are video only
            mic = peer.pub.addTransceiver(ClipTrack("audio"), direction="sendonly")
            peer._sources[mic] = "mic"
        cam = peer.pub.addTransceiver(ClipTrack("video", on_frame if first else None, clock),
                                      direction="sendonly")
        peer._sources[cam] = "camera"
        await peer.offer_pub()

    class Presenter(sfu_peers.Peer):
        """A publisher, which (like a browser) also receives the other publishers' video: taken
        as encoded frames (the SFU's pass-through decoder), not decoded, so the client core
        pays little for it."""

        def _on_track(self, track):
            from meetings.sfu import forwarding

            forwarding.mark_forwarding(track)
            super()._on_track(track)

    async def one(http, i):
        ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22)

        async def send(m):
            await ws.send_str(json.dumps(m))

        peer = Presenter(f"publisher{i}", send, camera=True, mic=(i == 0), decode=False)
        reader = asyncio.ensure_future(_read(ws, peer))
        if CLIP_FRAMES:
            await publish_clip(peer, first=(i == 0))
        else:
            await peer.publish()
        return peer, ws, reader

    async def main():
        async with aiohttp.ClientSession() as http:
            if publishers == 1:  # unchanged: one publisher, camera + microphone, decoding nothing
                async with http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22) as ws:
                    async def send(m):
                        await ws.send_str(json.dumps(m))

                    peer = sfu_peers.Peer("publisher", send, camera=True, mic=True)
                    reader = asyncio.ensure_future(_read(ws, peer))
                    if CLIP_FRAMES:
                        await publish_clip(peer)
                    else:
                        await peer.publish()
                    ready.set()
                    while not stop.is_set():
                        await asyncio.sleep(0.2)
                    reader.cancel()
                    await peer.close()
                return
            made = [await one(http, i) for i in range(publishers)]
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.2)
            for peer, ws, reader in made:
                reader.cancel()
                await peer.close()
                await ws.close()

    asyncio.run(main())


async def _read(ws, peer):
    import aiohttp

    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await peer.deliver(json.loads(msg.data))


# ---------------------------------------------------------------------------- viewers
class InlineFrames:
    """Stands in for an aiortc receiver's decoder queue (``queue.Queue``): the encoded
    frames aiortc's jitter buffer completes are turned into av.Packet by the SFU's own
    PassthroughDecoder (meetings/sfu/forwarding.py) and handed to ``callback`` right in the
    event loop, instead of crossing to a decoder thread and back (that handoff, not the
    decode, was most of a counting viewer's CPU). SRTP, RTP parsing, the jitter buffer,
    NACKs and RTCP reports stay aiortc's own. ``get`` and the ``None`` that stops the
    decoder thread go to the real queue."""

    def __init__(self, real, callback):
        self.real = real
        self.callback = callback
        self.decoders = {}

    def put(self, item):
        if item is None:
            self.real.put(None)
            return
        from meetings.sfu import forwarding

        codec, encoded_frame = item
        decoder = self.decoders.get(codec.name)
        if decoder is None:
            decoder = self.decoders[codec.name] = forwarding.PassthroughDecoder(codec)
        for packet in decoder.decode(encoded_frame):
            self.callback(packet)

    def get(self, *a, **kw):
        return self.real.get(*a, **kw)


def inline_frames(receiver, callback):
    name = "_RTCRtpReceiver__decoder_queue"
    real = getattr(receiver, name)
    if not isinstance(real, InlineFrames):
        setattr(receiver, name, InlineFrames(real, callback))


def _join_vp8(parts):
    from aiortc.codecs.vpx import VpxPayloadDescriptor

    return b"".join(VpxPayloadDescriptor.parse(p)[1] for p in parts)


def viewers_main(port, count, t0, ready_count, start, stop, results, decode_first, tag=None,
                 expect=1, timeout=45.0, receiving=None):
    pin("viewer")
    """``count`` viewers in one process. At most one of them (decode_first) decodes every
    frame and reads the painted counter. The others get encoded frames (InlineFrames) and
    count them; they decode only keyframes (each decodable alone), which ties their RTP
    timestamps to the publisher's frame counter: that checks the picture is right and
    gives every frame's capture time, hence latency, without decoding it.

    Each viewer keeps its video streams apart (``expect`` of them: one per publisher, all
    publishers' clips on one clock) and is ready when every one of them delivers frames through
    the tap; ``receiving`` (shared) counts the viewers of all processes that were."""
    import aiohttp
    import av
    from aiortc.mediastreams import MediaStreamError

    from tests import sfu_peers

    def unwrap(counter):
        """The frame's index since the publisher started, from its painted counter: with a
        looping clip (BENCH_CLIP) the counter is the index modulo the clip's length; the
        nearest index to what the clock says was captured ~0.1 s ago is the one."""
        if counter is None or not CLIP_FRAMES or not t0.value:
            return counter
        expected = (time.time() - t0.value - 0.1) * 30
        return counter + CLIP_FRAMES * round((expected - counter) / CLIP_FRAMES)

    class BenchViewer(sfu_peers.Peer):
        def __init__(self, *a, decode=False, **kw):
            super().__init__(*a, **kw)
            self.decode_video = decode
            self.window = {"keys": 0, "bad_keys": 0, "broken_keys": 0}
            self.streams = {}  # key (receiver, track or SSRC) -> that video stream's own state
            self.tap = None
            self.check_due = 0.0  # when a stream's next keyframe check is due (time.time())

        def stream(self, key):
            st = self.streams.get(key)
            if st is None:
                st = self.streams[key] = {"frames": 0, "pts": [], "lat": [], "base": None,
                                          "first_ts": None, "checked_at": 0.0}
            return st

        def receiving(self):
            """How many video streams delivered frames (since the tap went in)."""
            return len(self.streams)

        def _on_track(self, track):
            if track.kind == "video" and self.decode_video:
                self._tasks.append(asyncio.ensure_future(self._count(track)))
                return
            receiver = next(t.receiver for t in self.sub.getTransceivers()
                            if t.receiver.track is track)
            key = ("rx", id(receiver))
            inline_frames(receiver, (lambda p: self._on_video(key, p)) if track.kind == "video"
                          else (lambda p: None))

        def _counter_of_keyframe(self, packet):
            try:
                ctx = av.CodecContext.create("vp8", "r")
                frames = ctx.decode(packet)
            except av.FFmpegError:
                return None
            return unwrap(sfu_peers.read_counter(frames[0])) if frames else None

        def _on_video(self, key, packet):
            self._frame(self.stream(key), packet.pts, bytes(packet) if packet.is_keyframe else None)

        def on_stream_frame(self, ssrc, ts, parts):  # from BrowserTap, per stream
            st = self.stream(("tap", ssrc))
            if st["first_ts"] is None:
                st["first_ts"] = ts
            self._frame(st, (ts - st["first_ts"]) & 0xFFFFFFFF,
                        _join_vp8(parts) if parts is not None else None)

        def on_frame(self, ts, parts):  # a tap that does not tell streams apart
            self.on_stream_frame(0, ts, parts)

        def wants_keyframe(self):  # from BrowserTap (once per frame): decrypt it if it is a keyframe?
            return len(self.streams) < expect or time.time() >= self.check_due

        def keyframe_due(self):  # from BrowserTap: from when wants_keyframe() is true (time.time())
            return 0.0 if len(self.streams) < expect else self.check_due

        def install_tap(self, fresh=False):
            self.tap = tap_connection(self.sub, self, fresh)
            if self.tap is not None:
                self.streams = {}  # the tap's timestamps have another origin: re-anchor

        async def tap_soon(self):
            """Tap as soon as the connection's SRTP keys exist: until then every packet goes
            through aiortc's receive path (~100 µs of Python each), and a few hundred viewers
            joining on one client core that way starved the ones still joining."""
            while self.tap is None and not self.decode_video:
                await asyncio.sleep(0.2)
                if self.sub is not None:
                    self.install_tap(fresh=True)

        def _frame(self, st, pts, key_data):
            now = time.time()
            if key_data is not None and (st["base"] is None or now - st["checked_at"] > KEY_CHECK):
                # decode the first keyframe, then at most one every KEY_CHECK s (PLIs from lossy
                # viewers make the publisher send about one a second)
                st["checked_at"] = now
                self.check_due = min(0.0 if x["base"] is None and x is not st else x["checked_at"] + KEY_CHECK
                                     for x in self.streams.values())
                n = self._counter_of_keyframe(av.Packet(key_data))
                if st["base"] is None and n is not None:
                    st["base"] = (pts, n)
                elif start.is_set() and not stop.is_set():
                    self.window["keys"] += 1
                    if n is None:  # a frame aiortc's jitter buffer passed on incomplete
                        self.window["broken_keys"] += 1
                    elif st["base"] is not None and \
                            n != st["base"][1] + round((pts - st["base"][0]) / 3000):
                        self.window["bad_keys"] += 1
            if not start.is_set() or stop.is_set():
                return
            st["frames"] += 1
            st["pts"].append(pts)
            if st["base"] is not None and t0.value:
                n = st["base"][1] + (pts - st["base"][0]) / 3000
                st["lat"].append(now - (t0.value + n / 30.0))

        async def _count(self, track):
            st = self.stream(("decoded", id(track)))
            try:
                while True:
                    item = await track.recv()
                    if not start.is_set() or stop.is_set():
                        continue
                    st["frames"] += 1
                    st["pts"].append(item.pts)
                    n = unwrap(sfu_peers.read_counter(item))
                    self.window["keys"] += 1
                    if n is None:
                        self.window["broken_keys"] += 1
                    elif t0.value:
                        st["lat"].append(time.time() - (t0.value + n / 30.0))
            except (MediaStreamError, asyncio.CancelledError):
                pass

    async def one(http, i):
        ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22)

        async def send(m):
            await ws.send_str(json.dumps(m))

        viewer = BenchViewer(f"v{i}", send, decode=(decode_first and i == 0))
        reader = asyncio.ensure_future(_read(ws, viewer))
        viewer._tasks.append(asyncio.ensure_future(viewer.tap_soon()))
        await send({"type": "join"})
        return viewer, ws, reader

    async def main():
        async with aiohttp.ClientSession() as http:
            made = []
            for k in range(0, count, 8):  # joins in small batches: the server answers each
                made += await asyncio.gather(*(one(http, i) for i in range(k, min(count, k + 8))))
                # (and paced: a few hundred joins at once keep a worker's loop busy for many seconds,
                # long enough for the publisher's ICE consent checks, 0.5 s each, to fail)
                await asyncio.sleep(0.5)
            # joins wait in the server's admission queue (meetings/sfu/admission.py): ready only
            # when every viewer receives every publisher's video, through the tap
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not all(v.receiving() >= expect for v, _, _ in made):
                await asyncio.sleep(0.1)
            for v, _, _ in made:
                if not v.decode_video and v.tap is None:
                    v.install_tap()
            while time.monotonic() < deadline and not all(v.receiving() >= expect for v, _, _ in made):
                await asyncio.sleep(0.1)
            if receiving is not None:
                with receiving.get_lock():
                    receiving.value += sum(1 for v, _, _ in made if v.receiving() >= expect)
            with ready_count.get_lock():
                ready_count.value += 1
            # the connections are up: what they hold lives until the end, and the per-packet
            # path allocates only short-lived objects (the collector's passes were 5 % of a viewer
            # process's time)
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)
            while not start.is_set() and not stop.is_set():
                await asyncio.sleep(0.05)
            sent0 = [dict(v.tap.counts) if v.tap is not None else {} for v, _, _ in made]
            while not stop.is_set():
                await asyncio.sleep(0.1)
            out = []
            for (v, ws, reader), before in zip(made, sent0):
                w = v.window
                sent = {k: n - before.get(k, 0) for k, n in v.tap.counts.items()} if v.tap is not None else {}
                streams = sorted(v.streams.values(), key=lambda st: -st["frames"])
                out.append({"frames": sum(st["frames"] for st in streams),
                            "streams": [{"frames": st["frames"], "pts": st["pts"]} for st in streams],
                            "pts": streams[0]["pts"] if streams else [],
                            "lat": [x for st in streams for x in st["lat"][::5]],
                            "decoded": v.decode_video, "keys": w["keys"], "bad_keys": w["bad_keys"],
                            "broken_keys": w["broken_keys"], "tap": v.tap is not None, "sent": sent,
                            "tag": tag})
            results.put(out)
            for v, ws, reader in made:
                reader.cancel()
                await v.close()
                await ws.close()

    asyncio.run(main())


# ------------------------------------------------------------------------------ steps
def _server_stats(port):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=60) as r:
        return json.loads(r.read())


def feedback_rates(viewers, wall):
    """What the tapped viewers sent during the window, per viewer and second: RTCP packets
    (compound: reports, NACKs and PLIs each go in one), REMBs, NACK packets, PLIs, and packets
    retransmitted to them (RTX) — a browser's feedback, which the server has to handle."""
    tapped = [v["sent"] for v in viewers if v.get("sent")]
    if not tapped or wall <= 0:
        return None
    total = {k: sum(t.get(k, 0) for t in tapped) / len(tapped) / wall
             for k in ("rr", "remb", "nack", "nacked", "pli", "rtx", "given_up")}
    return total


def fmt_feedback(rates):
    if not rates:
        return "—"
    return (f"{rates['rr']:.2f} / {rates['remb']:.2f} / {rates['nack']:.2f} / {rates['pli']:.3f} / "
            f"{rates['rtx']:.2f}")


def run_step(kind, n, window, warmup=2.0, per_process=None, publishers=1):
    """One step: n viewers, each subscribed (as a browser is, by the room's own choice) to every
    publisher's video, i.e. n × publishers viewer video streams. The window starts only once every
    viewer receives every stream; if some do not within the join timeout (the server admits joins
    a few at a time: meetings/sfu/admission.py), the step is measured anyway but marked failed."""
    import psutil

    ctx = mp.get_context("spawn")
    port = free_port()
    server_ready = ctx.Event()
    server = ctx.Process(target=server_main, args=(kind, port, server_ready), daemon=True)
    server.start()
    server_ready.wait(30)
    t0 = ctx.Value("d", 0.0)
    pub_ready, stop, start = ctx.Event(), ctx.Event(), ctx.Event()
    produced = ctx.Value("i", 0)
    publisher = ctx.Process(target=publisher_main, args=(port, t0, pub_ready, stop, produced, publishers),
                            daemon=True)
    publisher.start()
    pub_ready.wait(30)
    time.sleep(0.5)
    ready_count = ctx.Value("i", 0)
    receiving = ctx.Value("i", 0)
    join_timeout = 45.0 + n / 8  # the admission queue lets a few joins in at a time
    results = ctx.Queue()
    procs = []
    remaining, idx = n, 0
    while remaining > 0:
        # the decoding viewer has a process of its own: the counting ones never starve it
        k = 1 if idx == 0 else min(per_process or VIEWERS_PER_PROCESS, remaining)
        p = ctx.Process(target=viewers_main, args=(port, k, t0, ready_count, start, stop, results,
                                                   idx == 0, None, publishers, join_timeout, receiving),
                        daemon=True)
        p.start()
        procs.append(p)
        remaining -= k
        idx += 1
    joining = time.monotonic()
    deadline = joining + join_timeout + 30
    while ready_count.value < len(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    joined_s = time.monotonic() - joining
    failed = None
    if ready_count.value < len(procs) or receiving.value < n:
        failed = (f"FAILED: {receiving.value}/{n} viewers receiving all {publishers} video streams "
                  f"after {joined_s:.0f} s")
        print(f"# {kind} {n}: {failed}", file=sys.stderr, flush=True)
    time.sleep(warmup)
    sp = psutil.Process(server.pid)
    vps = [psutil.Process(p.pid) for p in procs]
    s0 = _server_stats(port)
    c0 = sum(sp.cpu_times()[:2])
    v0 = sum(sum(x.cpu_times()[:2]) for x in vps)
    p0 = produced.value
    w0 = time.monotonic()
    start.set()
    if os.environ.get("BENCH_VERBOSE"):  # e.g. for a profiler to attach to the server now
        print(f"# {kind} {n}: window of {window:.0f} s starts, server pid {server.pid}, publisher pid {publisher.pid}",
              file=sys.stderr, flush=True)
    time.sleep(window)
    c1 = sum(sp.cpu_times()[:2])
    v1 = sum(sum(x.cpu_times()[:2]) for x in vps)
    p1 = produced.value
    w1 = time.monotonic()
    s1 = _server_stats(port)
    load = os.getloadavg()[0]
    if os.environ.get("BENCH_VERBOSE"):
        print(f"# server after the window: {s1}", file=sys.stderr, flush=True)
    stop.set()
    viewers = []
    for _ in procs:
        viewers += results.get(timeout=60)
    for p in procs + [publisher]:
        p.join(10)
    if os.environ.get("BENCH_PROFILE"):
        server.terminate()
    else:
        server.kill()
    server.join(10)
    wall = w1 - w0
    cpu = 100.0 * (c1 - c0) / wall
    # per viewer video stream: a stream a viewer should get but did not counts as 0 fps
    fps = []
    lost = expected = 0
    for v in viewers:
        streams = v["streams"][:publishers]
        fps += [st["frames"] / wall for st in streams] + [0.0] * (publishers - len(streams))
        for st in streams:
            pts = st["pts"]
            if len(pts) >= 2:
                exp = round(((pts[-1] - pts[0]) & 0xFFFFFFFF) / 3000) + 1
                expected += exp
                lost += max(0, exp - len(pts))
    streams_n = n * publishers
    forwarded = streams_n + publishers * (publishers - 1)  # publishers receive each other's video too
    subscribed = s0.get("viewer_video") or []
    lat = [x for v in viewers for x in v["lat"]]
    sample = [v for v in viewers if v["decoded"]]
    return {
        "viewer_cpu": 100.0 * (v1 - v0) / wall / max(1, n),
        "sample_fps": sample[0]["frames"] / wall / publishers if sample else float("nan"),  # per stream
        "sample_latency_ms": 1000 * statistics.median(sample[0]["lat"]) if sample and sample[0]["lat"]
        else float("nan"),
        "keys": sum(v["keys"] for v in viewers), "bad_keys": sum(v["bad_keys"] for v in viewers),
        "broken_keys": sum(v["broken_keys"] for v in viewers),
        "server": kind, "viewers": n, "cpu": cpu, "cpu_per_viewer": cpu / max(1, n),
        "publishers": publishers, "streams": streams_n, "cpu_per_stream": cpu / max(1, streams_n),
        "failed": failed, "joined_s": joined_s,
        "streams_receiving": sum(1 for v in viewers for st in v["streams"][:publishers] if st["frames"] > 0),
        "fps_mean": statistics.mean(fps) if fps else 0.0, "fps_min": min(fps) if fps else 0.0,
        "loss": 100.0 * lost / expected if expected else 100.0,
        "latency_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "connected": sum(1 for v in viewers if v["frames"] > 0),
        "tapped": sum(1 for v in viewers if v["tap"]),
        "rtcp": feedback_rates(viewers, wall),
        "publisher_fps": (p1 - p0) / wall, "load": load,
        "subscribed_min": min(subscribed) if subscribed else 0,
        "subscribed_all": sum(1 for x in subscribed if x >= publishers),
        "server_fps": ((s1["video_frames_sent"] - s0["video_frames_sent"]) / wall / forwarded)
        if kind == "sfu" else float("nan"),
        "server_dropped": s1["dropped"] - s0["dropped"],
        "added_ms": s1.get("added_latency_ms") if s1.get("added_latency_ms") is not None else float("nan"),
        "video_kbps": 8 * (s1["video_octets"] - s0["video_octets"]) / wall / max(1, forwarded) / 1000,
        "packets_per_viewer": (s1["packets_sent"] - s0["packets_sent"]) / wall / max(1, n),
        "video_packets_per_frame": (s1["video_packets"] - s0["video_packets"])
        / max(1, s1["video_frames_sent"] - s0["video_frames_sent"]),
        "us_per_packet": 1e6 * (c1 - c0) / max(1, s1["packets_sent"] - s0["packets_sent"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,64,128,256,384,512,640")
    parser.add_argument("--relay-steps", default="1,4,8")
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--meeting", type=int, default=12,
                        help="participants of an every-camera-on meeting (0: skip)")
    parser.add_argument("--per-process", type=int, default=VIEWERS_PER_PROCESS,
                        help="viewers packed into one viewer process")
    parser.add_argument("--publishers", type=int, default=1,
                        help="publishers (640x480@30 VP8 each, the first with Opus) every viewer receives: "
                             "a step of V viewers is V × N viewer video streams (N > 1 needs BENCH_CLIP; "
                             "the stock relay is then skipped)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.publishers > 1 and not CLIP_FRAMES:
        parser.error("--publishers > 1 needs BENCH_CLIP=N (the publishers' clips share one clock, "
                     "which the viewers' latency and counter checks rely on)")
    plan = [("sfu", int(x)) for x in args.steps.split(",") if x] + \
           ([("relay", int(x)) for x in args.relay_steps.split(",") if x] if args.publishers == 1 else [])
    began = time.monotonic()
    print(f"publishers: {args.publishers} (640x480@30 VP8 each, the first with Opus); fps, loss and latency "
          "are over every viewer video stream")
    print("| server | viewers | viewer video streams | server CPU % of a core | CPU % per viewer | publisher fps | server sent fps/stream "
          "| viewer fps mean | viewer fps worst | frame loss % | latency ms (median; counting viewers: capture→last packet in) | viewers receiving "
          "| server CPU µs per packet sent | viewers per core (projected) | viewers the room subscribed to every publisher's video (fewest) | all receiving at the window's start | decoding viewer fps / latency ms "
          "| frames checked by decoding (keyframes, all of the decoding viewer): wrong counter / undecodable | viewer-side CPU % per viewer "
          "| RTCP per viewer per s: compound packets / REMB / NACK / PLI; RTX packets received | video kbps per stream | RTP packets/s per viewer (video packets per frame) | server added latency ms (last packet in → written to every viewer, median) | load avg (2 cores) |")
    print("| --- " * 24 + "|")
    rows = []
    for kind, n in plan:
        row = run_step(kind, n, args.window, warmup=2.0 + n * args.publishers / 64, per_process=args.per_process,
                       publishers=args.publishers)
        rows.append(row)
        ready = row["failed"] or f"yes, after {row['joined_s']:.0f} s"
        subscribed = f"{row['subscribed_all']}/{n} ({row['subscribed_min']})" if kind == "sfu" else "—"
        print(f"| {row['server']} | {row['viewers']} | {row['streams_receiving']}/{row['streams']} "
              f"| {row['cpu']:.1f} | {row['cpu_per_viewer']:.2f} "
              f"| {row['publisher_fps']:.1f} | {row['server_fps']:.1f} | {row['fps_mean']:.1f} | {row['fps_min']:.1f} "
              f"| {row['loss']:.2f} | {row['latency_ms']:.0f} | {row['connected']}/{row['viewers']} ({row['tapped']} tapped) "
              f"| {row['us_per_packet']:.0f} | {100.0 / max(row['cpu_per_viewer'], 1e-9):.0f} "
              f"| {subscribed} "
              f"| {ready} "
              f"| {row['sample_fps']:.1f} / {row['sample_latency_ms']:.0f} | {row['keys']}: {row['bad_keys']} / {row['broken_keys']} | {row['viewer_cpu']:.2f} "
              f"| {fmt_feedback(row['rtcp'])} "
              f"| {row['video_kbps']:.0f} | {row['packets_per_viewer']:.0f} ({row['video_packets_per_frame']:.1f}) "
              f"| {row['added_ms']:.1f} "
              f"| {row['load']:.1f} |", flush=True)
    for kind in ("sfu", "relay"):
        # only steps the viewers really got (>= 29 fps, no catch-up burst, < 1 % loss): a
        # saturated server's CPU is capped, which would flatter the slope
        good = [r for r in rows if r["server"] == kind and r["fps_min"] >= 29.0
                and r["fps_mean"] <= 31.0 and r["loss"] < 1.0 and not r["failed"]]
        if good:
            print(f"{kind}: end to end on this machine, up to {max(r['viewers'] for r in good)} viewers "
                  f"at >= 29 fps with < 1 % frame loss (steps that held: "
                  f"{', '.join(str(r['viewers']) for r in good)})")
        pts = [(r["viewers"], r["cpu"]) for r in good]
        if len(pts) >= 2:
            # least-squares slope: server CPU added by each further viewer (fixed costs apart)
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            slope = sum((x - mx) * (y - my) for x, y in pts) / max(1e-9, sum((x - mx) ** 2 for x, _ in pts))
            print(f"{kind}: marginal server CPU per added viewer {slope:.2f} % of a core "
                  f"(≈ {100.0 / max(slope, 1e-9):.0f} viewers per core), fixed {my - slope * mx:.1f} %")
            if args.publishers > 1:
                per_stream = slope / args.publishers
                print(f"{kind}: marginal server CPU per added viewer video stream {per_stream:.3f} % of a core "
                      f"(≈ {100.0 / max(per_stream, 1e-9):.0f} viewer streams per core; "
                      f"{args.publishers} streams per viewer)")
    if args.meeting:
        m = run_meeting(args.meeting, args.window)
        print()
        print("| meeting, every camera on | forwarded video streams | server CPU % of a core "
              "| server sent fps per stream | server CPU µs per packet sent | received fps per stream "
              "| video tracks set up | participants receiving through BrowserTap | load avg |")
        print("| --- " * 9 + "|")
        print(f"| {m['participants']} people, 320x240 VP8 {m['kbps']:.0f} kbps + Opus each | {m['streams']} "
              f"| {m['cpu']:.1f} | {m['server_fps']:.1f} | {m['us_per_packet']:.0f} | {m['received_fps']:.1f} "
              f"| {m['tracks']}/{m['streams']} | {m['tapped']}/{m['participants']} | {m['load']:.1f} |", flush=True)
    print(f"total {time.monotonic() - began:.0f} s")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
