"""aiortc client peers for the SFU tests and the benchmark.

* :class:`CounterCamera` — a synthetic camera: every frame paints its frame number as
  16 black/white blocks across the top of the picture and the inverted bits in a second
  row, so a viewer can verify that what it decodes is a real, correct frame.
* :class:`ToneMicrophone` — a synthetic microphone (a tone, or silence).
* :class:`Peer` — a participant speaking the room's signalling protocol (see
  meetings/sfu/room.py): it publishes on a ``pub`` connection and answers the
  server's offers on a ``sub`` connection, decoding everything it receives and
  checking the painted counters.
* :class:`EncoderCounter` — counts encode() and pack() calls per RTCRtpSender, to
  prove the server packetises and never encodes.

Transport-agnostic: a Peer gets ``send`` (an async callable taking a dict) and is fed
server messages through :meth:`Peer.deliver`.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import sys
import time
from collections import defaultdict
from typing import Any, Awaitable, Callable, Optional

import av
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

BITS = 16
# aiortc's default 'balanced' bundle policy breaks a second video transceiver.
CONFIG = RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def paint_counter(counter: int, width: int, height: int) -> av.VideoFrame:
    """A grey yuv420p frame with ``counter`` painted in two rows of blocks."""
    frame = av.VideoFrame(width, height, "yuv420p")
    block = width // BITS
    band = max(8, height // 12)
    row1 = bytearray()
    row2 = bytearray()
    for bit in range(BITS):
        on = (counter >> (BITS - 1 - bit)) & 1
        row1 += (b"\xeb" if on else b"\x10") * block
        row2 += (b"\x10" if on else b"\xeb") * block
    row1 += b"\x80" * (width - len(row1))
    row2 += b"\x80" * (width - len(row2))
    grey = b"\x80" * width
    y = bytes(row1) * band + bytes(row2) * band + grey * (height - 2 * band)
    planes = frame.planes
    _fill(planes[0], y, width, height)
    chroma = b"\x80" * ((width // 2) * (height // 2))
    _fill(planes[1], chroma, width // 2, height // 2)
    _fill(planes[2], chroma, width // 2, height // 2)
    return frame


def _fill(plane: Any, data: bytes, width: int, height: int) -> None:
    stride = plane.line_size
    if stride == width:
        plane.update(data)
    else:
        padded = b"".join(data[r * width:(r + 1) * width] + b"\x00" * (stride - width)
                          for r in range(height))
        plane.update(padded)


def read_counter(frame: av.VideoFrame) -> Optional[int]:
    """The counter painted by :func:`paint_counter`, or None if the picture is wrong."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    width, height = frame.width, frame.height
    plane = frame.planes[0]
    stride = plane.line_size
    data = bytes(plane)
    block = width // BITS
    band = max(8, height // 12)
    value = 0
    for bit in range(BITS):
        x = bit * block + block // 2
        a = data[(band // 2) * stride + x]
        b = data[(band + band // 2) * stride + x]
        on1, on2 = a > 128, b > 128
        if on1 == on2:
            return None
        value = (value << 1) | int(on1)
    return value


class CounterCamera(VideoStreamTrack):
    """640x480 (or any size) at 30 fps with the frame number painted in."""

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.counter = 0
        self._start: Optional[float] = None
        self._cache: dict = {}

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        n = self.counter
        wait = self._start + n / self.fps - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = paint_counter(n % (1 << BITS), self.width, self.height)
        frame.pts = int(n * 90000 / self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self.counter += 1
        return frame


class ToneMicrophone(AudioStreamTrack):
    """48 kHz mono s16, 20 ms frames: a tone of ``hz`` or silence (hz=0)."""

    def __init__(self, hz: float = 440.0, amplitude: int = 8000) -> None:
        super().__init__()
        self.hz = hz
        self.amplitude = amplitude
        self.samples = 0
        self._start: Optional[float] = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        rate, n = 48000, 960
        if self._start is None:
            self._start = time.time()
        wait = self._start + self.samples / rate - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if self.hz:
            w = 2 * math.pi * self.hz / rate
            data = array.array("h", (int(self.amplitude * math.sin(w * (self.samples + i)))
                                     for i in range(n)))
        else:
            data = array.array("h", bytes(2 * n))
        frame = av.AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(data.tobytes())
        frame.sample_rate = rate
        frame.pts = self.samples
        frame.time_base = fractions.Fraction(1, rate)
        self.samples += n
        return frame


class TrackStats:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.frames = 0
        self.good = 0
        self.bad = 0
        self.counters: list = []
        self.sizes: set = set()
        self.first_at: Optional[float] = None
        self.last_at: Optional[float] = None
        self.longest_gap = 0.0  # seconds between two frames, at most (reset it to watch a stretch)


class Peer:
    """One participant speaking the room's JSON signalling protocol."""

    def __init__(self, name: str, send: Callable[[dict], Awaitable[None]], *,
                 camera: bool = False, small: bool = False, mic: bool = False,
                 tone_hz: float = 440.0, width: int = 640, height: int = 480,
                 decode: bool = True, video_codec: Optional[str] = None) -> None:
        self.name = name
        self.send = send
        self.want_camera, self.want_small, self.want_mic = camera, small, mic
        self.tone_hz = tone_hz
        self.width, self.height = width, height
        self.decode = decode
        self.video_codec = video_codec  # e.g. "H264": offer only that video codec
        self.pub: Optional[RTCPeerConnection] = None
        self.sub: Optional[RTCPeerConnection] = None
        self.messages: list[dict] = []
        self.errors: list[dict] = []
        self.tracks_info: dict = {}  # mid -> {"role", "session", ...}
        self.stats: dict[str, TrackStats] = {}
        self.session: Optional[str] = None
        self._pub_answer: Optional[asyncio.Future] = None
        self._waiters: list = []
        self._tasks: list = []
        self.local_tracks: dict = {}

    # ---------------------------------------------------------- signalling
    async def deliver(self, message: dict) -> None:
        self.messages.append(message)
        kind = message.get("type")
        if kind == "joined":
            self.session = message["session"]
        elif kind == "error":
            self.errors.append(message)
        elif kind == "answer" and message.get("pc") == "pub":
            await self.pub.setRemoteDescription(
                RTCSessionDescription(sdp=message["sdp"], type="answer"))
            if self._pub_answer and not self._pub_answer.done():
                self._pub_answer.set_result(True)
        elif kind == "offer" and message.get("pc") == "sub":
            await self._answer_sub(message)
        elif kind == "tracks":
            self._note_tracks(message["tracks"])
        for fut, pred in list(self._waiters):
            if not fut.done() and pred(message):
                fut.set_result(message)

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        for m in self.messages:
            if predicate(m):
                return m
        fut = asyncio.get_event_loop().create_future()
        self._waiters.append((fut, predicate))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters = [w for w in self._waiters if w[0] is not fut]

    def _note_tracks(self, tracks: list) -> None:
        for t in tracks:
            self.tracks_info[t["mid"]] = t

    async def _answer_sub(self, message: dict) -> None:
        if self.sub is None:
            self.sub = RTCPeerConnection(CONFIG)
            self.sub.on("track", self._on_track)
        self._note_tracks(message.get("tracks", []))
        await self.sub.setRemoteDescription(
            RTCSessionDescription(sdp=message["sdp"], type="offer"))
        answer = await self.sub.createAnswer()
        await self.sub.setLocalDescription(answer)
        await self.send({"type": "answer", "pc": "sub", "sdp": self.sub.localDescription.sdp})

    def _on_track(self, track: Any) -> None:
        mid = next((t.mid for t in self.sub.getTransceivers() if t.receiver.track is track), None)
        stats = self.stats.setdefault(mid, TrackStats(track.kind))
        self._tasks.append(asyncio.ensure_future(self._consume(track, stats)))

    async def _consume(self, track: Any, stats: TrackStats) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                stats.first_at = stats.first_at or now
                if stats.last_at is not None and now - stats.last_at > stats.longest_gap:
                    stats.longest_gap = now - stats.last_at
                stats.last_at = now
                stats.frames += 1
                if stats.kind == "video" and self.decode:
                    stats.sizes.add((frame.width, frame.height))
                    value = read_counter(frame)
                    if value is None:
                        stats.bad += 1
                    else:
                        stats.good += 1
                        stats.counters.append(value)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    # ----------------------------------------------------------- publishing
    async def publish(self, screen: bool = False) -> None:
        if self.pub is None:
            self.pub = RTCPeerConnection(CONFIG)
        sources = {}
        if self.want_mic and "mic" not in self.local_tracks:
            self.local_tracks["mic"] = ToneMicrophone(self.tone_hz)
            t = self.pub.addTransceiver(self.local_tracks["mic"], direction="sendonly")
            sources[t] = "mic"
        if self.want_camera and "camera" not in self.local_tracks:
            self.local_tracks["camera"] = CounterCamera(self.width, self.height)
            t = self.pub.addTransceiver(self.local_tracks["camera"], direction="sendonly")
            sources[t] = "camera"
        if self.want_small and "small" not in self.local_tracks:
            self.local_tracks["small"] = CounterCamera(160, 120, fps=15)
            t = self.pub.addTransceiver(self.local_tracks["small"], direction="sendonly")
            sources[t] = "small"
        if screen and "screen" not in self.local_tracks:
            self.local_tracks["screen"] = CounterCamera(320, 240, fps=10)
            t = self.pub.addTransceiver(self.local_tracks["screen"], direction="sendonly")
            sources[t] = "screen"
        if self.video_codec:
            from aiortc import RTCRtpSender

            caps = RTCRtpSender.getCapabilities("video").codecs
            wanted = [c for c in caps if c.mimeType.lower() in
                      (f"video/{self.video_codec}".lower(), "video/rtx")]
            for t in sources:
                if t.kind == "video":
                    t.setCodecPreferences(wanted)
        self._sources = getattr(self, "_sources", {})
        self._sources.update(sources)
        await self.offer_pub()

    async def offer_pub(self) -> None:
        offer = await self.pub.createOffer()
        await self.pub.setLocalDescription(offer)
        tracks = {t.mid: s for t, s in self._sources.items()}
        self._pub_answer = asyncio.get_event_loop().create_future()
        await self.send({"type": "offer", "pc": "pub", "sdp": self.pub.localDescription.sdp,
                         "tracks": tracks})
        await asyncio.wait_for(self._pub_answer, 15)

    # --------------------------------------------------------------- queries
    def video_by(self, session: str, role: str = "video") -> Optional[TrackStats]:
        for mid, info in self.tracks_info.items():
            if info.get("session") == session and info.get("role") == role:
                return self.stats.get(mid)
        return None

    def audio_by(self, session: str) -> Optional[TrackStats]:
        return self.video_by(session, "audio")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0,
                     interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


class EncoderCounter:
    """Counts every encode() of aiortc's codecs, and which RTCRtpSender's encoder made it.

    ``server_encodes(publishers)`` = all encodes minus those made by the given (client)
    senders: it must stay 0 for a forwarding server, while the client publishers encode.
    """

    def __init__(self) -> None:
        self.total = 0
        self.encode = defaultdict(int)  # id(sender) -> encode() calls

    def install(self, monkeypatch: Any) -> "EncoderCounter":
        from aiortc import rtcrtpsender
        from aiortc.codecs import g711, g722, h264, opus, vpx

        counter = self
        for cls in (vpx.Vp8Encoder, h264.H264Encoder, opus.OpusEncoder, g722.G722Encoder,
                    g711.PcmaEncoder, g711.PcmuEncoder):
            def counted(real: Any) -> Any:
                def encode(self: Any, *args: Any, **kwargs: Any) -> Any:
                    counter.total += 1
                    return real(self, *args, **kwargs)
                return encode
            monkeypatch.setattr(cls, "encode", counted(cls.encode))

        original = rtcrtpsender.get_encoder

        def get_encoder(codec: Any) -> Any:
            sender = sys._getframe(1).f_locals.get("self")
            encoder = original(codec)
            real_encode = encoder.encode

            def encode(*args: Any, **kwargs: Any) -> Any:
                counter.encode[id(sender)] += 1
                return real_encode(*args, **kwargs)

            encoder.encode = encode
            return encoder

        monkeypatch.setattr(rtcrtpsender, "get_encoder", get_encoder)
        return self

    def server_encodes(self, client_senders: list) -> int:
        return self.total - sum(self.encode[id(s)] for s in client_senders)
