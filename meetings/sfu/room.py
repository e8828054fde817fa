"""One meeting room of the forwarding SFU, living on one asyncio event loop.

Every participant session has up to two RTCPeerConnections, each with a single offerer
so that renegotiation never collides (no glare):

* ``pub`` — the client offers what it publishes (camera, optional small second camera
  track, microphone, screen); the server answers. Adding/removing a screen share is a
  new client offer on the same connection (renegotiation client -> server).
* ``sub`` — the server offers what the client should receive; the client answers.
  A new publisher or a new screen share anywhere in the room re-offers to every
  viewer (renegotiation server -> client).

Signalling messages (JSON dicts) handled by :meth:`Room.handle`::

  {"type": "offer", "pc": "pub", "sdp": "...", "tracks": {"<mid>": "camera|small|mic|screen"}}
      -> {"type": "answer", "pc": "pub", "sdp": "..."}
  server -> {"type": "offer", "pc": "sub", "sdp": "...", "tracks": [...]}
      {"type": "answer", "pc": "sub", "sdp": "..."}
  {"type": "candidate", "pc": "pub|sub", "candidate": {...}}   (aiortc gathers all of
      its candidates up front; remote trickle candidates are accepted)
  {"type": "renegotiate"}           -> the server re-offers the sub connection
  {"type": "mode", "mode": "video|small|audio"}   per-viewer choice of what to receive
  {"type": "mute", "kind": "audio|video|screen", "on": true|false}  one's own media
  {"type": "hand", "up": true|false}
  host only (the caller decides who is host): {"type": "host", "action":
      "mute|mute_all|stop_video|remove|present|end", "target": <person id>}

Presenting (主讲): the hosts and the one person a host handed presenting to ("present")
may publish the small second video track and a screen share; anyone else's are held
(received and dropped, never forwarded) until they are handed presenting. A handover
broadcasts ``{"type": "presenter", "person": <id or null>}``; ``joined`` and
``participants`` carry ``presenter`` too, so every client can put the presenter on stage.

Server -> client notifications: ``participants`` (roster), ``tracks`` (mid -> who/what),
``presenter`` (who presents now),
``speaker`` (active speaker), ``muted`` (a host muted you), ``removed``, ``replaced``,
``ended``, ``error`` ({"code", "message"} with a Chinese message).

Nothing is decoded or encoded here: publishers' remote tracks are marked with
:func:`meetings.sfu.forwarding.mark_forwarding` so they yield ``av.Packet`` objects,
which a buffered relay (:class:`Publication` -> :class:`SubscriberTrack`) fans out to
the viewers' senders, which only packetise.

Keyframes: a viewer's PLI/FIR is forwarded to the publisher as an RTCP PLI, at most
one per second per publication (:data:`PLI_INTERVAL`); every new subscription (and a
viewer whose buffer overflowed) asks for one at once, merged with one already in flight
or sent within :data:`SUBSCRIBE_PLI_COALESCE` — and looked at again later, so that a
viewer never waits for its first picture longer than a keyframe's round trip.

Who is heard and seen: in a room of more than AUDIO_LAST_N + 1 microphones, a viewer
receives only the AUDIO_LAST_N most recent speakers' (unmuted) microphones, and of more than
VIDEO_LAST_N other cameras only VIDEO_LAST_N (the presenters', then the latest speakers'),
re-chosen on every speaker tick: a bounded number of streams per viewer however big the
training. A viewer in "small" mode gets the presenters' small tracks and no other camera.

Active speaker: from the RTP audio-level header extension (RFC 6464,
``urn:ietf:params:rtp-hdrext:ssrc-audio-level``, sent by browsers and by aiortc), read
on every incoming audio RTP packet; if a publisher does not send it, from Opus packet
sizes (speech frames are several times larger than comfort-noise/silence frames).

Recording (:meth:`Room.start_recording`, :mod:`meetings.sfu.recorder`): the recorder is a
sink on the publications it writes (packets, never frames) and follows the stage — a
screen share, else the presenter's camera, else the recording host's — and the active
speaker's voice, one voice at a time. The room tells it when that may have changed:
``recorder.on_change()`` after a pub offer, a presenter handover and on every speaker
tick, ``recorder.publication_gone(pub)`` when a publication ends.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, NamedTuple, Optional

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

from . import forwarding

logger = logging.getLogger(__name__)


def gettext_noop(message: str) -> str:
    """Marks a text for the catalogue (makemessages finds gettext_noop calls by name); the
    consumer translates it into each person's language. Django's own gettext_noop would
    need configured settings, and a room runs without them (bench/bench_sfu.py)."""
    return message

PLI_INTERVAL = 1.0  # seconds between keyframe requests forwarded to one publisher
SUBSCRIBE_PLI_COALESCE = 0.3  # subscribe-triggered PLIs closer than this are merged
KEYFRAME_WAIT = 1.0  # seconds a requested keyframe may take before it is asked for again
REMB_INTERVAL = 1.0  # seconds between the room's bitrate ceilings sent to each publisher
PUBLISH_MAX_BITRATE = 2_500_000  # bit/s a publisher may send in all: camera (~600 kbit/s,
#   capped by room.js), the small track, a screen share (~1.2 Mbit/s); the browser's own
#   loss-based control keeps it below what its uplink carries
VIDEO_BUFFER = 60  # encoded frames (~2 s) buffered per viewer before it is resynced on a keyframe
AUDIO_BUFFER = 50  # Opus frames (~1 s)
SPEAKER_INTERVAL = 0.4
AUDIO_LAST_N = 4  # a viewer in a bigger room receives the microphones of the 4 latest speakers
VIDEO_LAST_N = 12  # ... and at most 12 cameras: the presenters' and the latest speakers'
ROSTER_COALESCE = 0.2  # seconds: roster changes within this go out as one "participants"
SPEAKER_THRESHOLD = 30.0  # loudness (127 - dBov level) above which someone "speaks"
RATE_PER_SECOND = 20.0  # signalling messages per session per second (token bucket)
RATE_BURST = 40.0
MAX_SDP = 100_000

ALLOWED_CODECS = {"audio": ["opus"], "video": ["VP8", "H264"]}
SOURCES = {"camera": "video", "small": "video", "screen": "video", "mic": "audio"}
PRESENTER_SOURCES = ("small", "screen")  # only hosts and the presenter may publish these
MODES = ("video", "small", "audio")

SendFn = Callable[[dict], Awaitable[None]]


class SignallingError(Exception):
    """A refusal for the client. ``message`` is the Chinese msgid (marked with gettext_noop: the
    room knows no user language) and ``params`` fill its named placeholders; the signalling
    consumer translates it into the connected person's language (meetings/consumers.py)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params

    def frame(self, **extra: Any) -> dict:
        """The ``error`` frame: ``message`` in Chinese and, when it has placeholders, the ``msgid``
        and ``params`` the consumer translates it from."""
        out = {"type": "error", "code": self.code, "message": str(self), **extra}
        if self.params:
            out.update(msgid=self.message, params=self.params)
        return out


class TokenBucket:
    def __init__(self, rate: float = RATE_PER_SECOND, burst: float = RATE_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SubscriberTrack(MediaStreamTrack):
    """One viewer's outgoing track: a bounded buffer of encoded packets from a Publication.

    Starts (and restarts after an overflow or a source switch) at a keyframe; rebases
    timestamps when the source changes so the viewer sees one continuous stream.
    """

    def __init__(self, kind: str, maxlen: int) -> None:
        super().__init__()
        self.kind = kind
        self.maxlen = maxlen
        self.queue: collections.deque = collections.deque()
        self.event = asyncio.Event()
        self.publication: Optional[Publication] = None
        self.waiting_keyframe = kind == "video"
        self.offset = 0
        self.last_out: Optional[int] = None
        self.need_rebase = False
        self.delivered = 0
        self.dropped = 0
        # set by the viewer's ForwardingSender once it runs: frame -> sent now (bool)
        self.direct_writer: Optional[Callable[[forwarding.SharedFrame, int], bool]] = None

    def attach(self, publication: Optional["Publication"]) -> None:
        if publication is self.publication:
            return
        if self.publication is not None:
            self.publication.subscribers.discard(self)
        self.queue.clear()
        self.publication = publication
        self.need_rebase = self.last_out is not None
        if publication is not None:
            self.waiting_keyframe = self.kind == "video"
            publication.subscribers.add(self)
            if self.kind == "video":
                publication.request_keyframe(subscribe=True)

    def push(self, shared: forwarding.SharedFrame) -> None:
        packet = shared.packet
        if self.waiting_keyframe:
            if not packet.is_keyframe:
                return
            self.waiting_keyframe = False
        if not self.queue and self.direct_writer is not None:
            # The viewer's sender is idle: write the frame now instead of waking its task.
            try:
                if self.direct_writer(shared, self._timestamp(packet.pts)):
                    self.delivered += 1
                    return
            except Exception:
                logger.exception("direct write to a viewer failed; queueing instead")
                self.direct_writer = None
        if len(self.queue) >= self.maxlen:
            # A viewer too slow to keep up: drop what is buffered and resync on a keyframe.
            self.dropped += len(self.queue)
            self.queue.clear()
            if self.kind == "video":
                self.waiting_keyframe = not packet.is_keyframe
                if self.waiting_keyframe:
                    if self.publication is not None:
                        self.publication.request_keyframe(subscribe=True)
                    return
        self.queue.append(shared)
        self.event.set()

    def _timestamp(self, pts: int) -> int:
        """The viewer's RTP timestamp for a frame of the current source (idempotent per frame:
        a rebase after a source switch happens once, on that source's first frame)."""
        if self.need_rebase:
            step = 3000 if self.kind == "video" else 960
            self.offset = self.last_out + step - pts
            self.need_rebase = False
        self.last_out = pts + self.offset
        return self.last_out

    async def recv(self) -> forwarding.ForwardedFrame:
        while not self.queue:
            if self.readyState != "live":
                raise MediaStreamError
            self.event.clear()
            await self.event.wait()
        shared = self.queue.popleft()
        # pts: time base = the codec's RTP clock (forwarding.py)
        timestamp = self._timestamp(shared.packet.pts)
        self.delivered += 1
        return forwarding.ForwardedFrame(shared, timestamp)

    def stop(self) -> None:
        self.direct_writer = None
        if self.publication is not None:
            self.publication.subscribers.discard(self)
            self.publication = None
        super().stop()
        self.event.set()


class Publication:
    """One incoming track of a publisher, relayed (buffered) to its subscribers."""

    def __init__(self, room: "Room", session: "Session", source: str, track: Any,
                 receiver: Any, codec: str) -> None:
        self.room = room
        self.session = session
        self.source = source
        self.kind = track.kind
        self.track = track
        self.receiver = receiver
        self.codec = codec
        self.packer = forwarding.make_packer(codec)  # packetised once for all viewers
        self.subscribers: set[SubscriberTrack] = set()
        self.sinks: list[Callable[[av.Packet], None]] = []  # recorders
        self.paused = False  # muted by its owner or by the host
        self.last_pli = 0.0
        self.pli_sent = 0
        self.keyframe_due: Optional[float] = None  # when the PLI now in flight was sent
        self.keyframe_wanted = False  # a request was merged or held back: ask again if need be
        self.recheck: Optional[asyncio.TimerHandle] = None
        self.packets = 0
        self.level = 0.0  # smoothed loudness for the active speaker
        self.level_from_ext = False
        # Added latency, for room.stats(): from the arrival of a video frame's last RTP
        # packet (marker bit) to the frame written to the last of its viewers, in seconds.
        self.frame_in_at = 0.0
        self.fanout_latency: collections.deque = collections.deque(maxlen=256)
        self.task = asyncio.ensure_future(self._pump())
        forwarding.on_rtp_packet(receiver, self._on_rtp if self.kind == "audio" else self._on_video_rtp)

    def _on_rtp(self, rtp: Any) -> None:
        ext = rtp.extensions.audio_level
        if ext is not None:
            self.level_from_ext = True
            self._feed_level(127 - ext[1])

    def _on_video_rtp(self, rtp: Any) -> None:
        if rtp.marker:
            self.frame_in_at = time.monotonic()

    def _feed_level(self, loudness: float) -> None:
        self.level = 0.8 * self.level + 0.2 * loudness

    async def _pump(self) -> None:
        try:
            while True:
                packet = await self.track.recv()
                self.packets += 1
                if self.kind == "audio" and not self.level_from_ext:
                    # Opus without the audio-level extension: map packet size to loudness.
                    self._feed_level(min(127.0, packet.size * 0.5))
                if self.paused:
                    continue
                for sink in self.sinks:
                    sink(packet)
                if packet.is_keyframe and self.kind == "video":
                    self.keyframe_due = None
                    self.keyframe_wanted = False  # it reaches whoever asked meanwhile
                if self.subscribers:
                    shared = forwarding.SharedFrame(packet, self.packer)
                    for sub in tuple(self.subscribers):
                        sub.push(shared)
                    if self.kind == "video" and self.frame_in_at:
                        self.fanout_latency.append(time.monotonic() - self.frame_in_at)
                        self.frame_in_at = 0.0
        except (MediaStreamError, asyncio.CancelledError):
            pass
        except Exception:
            logger.exception("relay of %s failed", self.source)

    def request_keyframe(self, subscribe: bool = False) -> None:
        """Ask the publisher for a keyframe (PLI), rate-limited — and never leave a viewer
        waiting: a request that is merged into one in flight or held back by the rate limit
        is looked at again when that one should have arrived, and repeated if a viewer still
        waits for its first picture (a viewer that gets no packets sends no PLI itself)."""
        if self.kind != "video":
            return
        now = time.monotonic()
        if self.keyframe_due is not None and now - self.keyframe_due < KEYFRAME_WAIT:
            # one is on its way and reaches every viewer subscribed by then
            self.keyframe_wanted = True
            self._recheck_later(self.keyframe_due + KEYFRAME_WAIT - now)
            return
        interval = SUBSCRIBE_PLI_COALESCE if subscribe else PLI_INTERVAL
        if now - self.last_pli < interval:
            if subscribe:
                self.keyframe_wanted = True
                self._recheck_later(self.last_pli + interval - now)
            return
        self.keyframe_wanted = False
        self.last_pli = self.keyframe_due = now
        self.pli_sent += 1
        asyncio.ensure_future(forwarding.request_keyframe(self.receiver))

    def _recheck_later(self, delay: float) -> None:
        if self.recheck is None:
            self.recheck = asyncio.get_event_loop().call_later(max(0.0, delay), self._recheck)

    def _recheck(self) -> None:
        self.recheck = None
        if self.keyframe_wanted or any(sub.waiting_keyframe for sub in self.subscribers):
            self.request_keyframe(subscribe=True)

    def stop(self) -> None:
        self.task.cancel()
        if self.recheck is not None:
            self.recheck.cancel()
            self.recheck = None
        for sub in tuple(self.subscribers):
            sub.attach(None)


@dataclass
class Held:
    """A presenter-only track of someone who may not present: received and dropped."""

    track: Any
    receiver: Any
    codec: str
    task: Any = None


async def _drain(track: Any) -> None:
    try:
        while True:
            await track.recv()
    except (MediaStreamError, asyncio.CancelledError):
        pass
    except Exception:
        logger.debug("draining a held track failed", exc_info=True)


class Ranking(NamedTuple):
    """Who a big room forwards (Room._ranking): the sessions with a microphone, the audible
    order (AUDIO_LAST_N + 1 of them), the sessions with a camera, the shown order
    (VIDEO_LAST_N + 1, presenters first). One viewer's share leaves out its own."""

    mics: set
    audible: list
    cams: set
    visible: list

    def forwarded(self) -> tuple:
        """What decides every viewer's share: a viewer gets the first N of an order, or the
        first N + 1 but itself. Equal between two rankings: no viewer's share changed."""
        return (frozenset(self.audible[:AUDIO_LAST_N]), frozenset(self.audible),
                frozenset(self.visible[:VIDEO_LAST_N]), frozenset(self.visible))


@dataclass
class Slot:
    """What one transceiver of a viewer's sub connection carries."""

    transceiver: Any
    track: SubscriberTrack
    owner: Optional[str] = None  # publishing session id
    role: Optional[str] = None  # "audio" | "video" | "screen"
    codec: str = ""


@dataclass
class Session:
    id: str
    person_id: int
    name: str
    send: SendFn
    is_host: bool = False
    mode: str = "video"
    hand: bool = False
    pub: Optional[RTCPeerConnection] = None
    sub: Optional[RTCPeerConnection] = None
    publications: dict = field(default_factory=dict)  # source -> Publication
    held: dict = field(default_factory=dict)  # source -> Held (not allowed to present yet)
    slots: list = field(default_factory=list)
    sub_pending: bool = False  # a re-offer is needed once the current one is answered
    sub_offered: bool = False  # an offer awaits the client's answer
    bucket: TokenBucket = field(default_factory=TokenBucket)
    closed: bool = False

    def describe(self) -> dict:
        def live(source: str) -> bool:
            p = self.publications.get(source)
            return bool(p and not p.paused)

        return {
            "session": self.id,
            "person": self.person_id,
            "name": self.name,
            "host": self.is_host,
            "mode": self.mode,
            "hand": self.hand,
            "audio": live("mic"),
            "video": live("camera"),
            "screen": live("screen"),
        }


def _ice_configuration(ice_servers: Optional[list]) -> RTCConfiguration:
    servers = [RTCIceServer(**s) for s in (ice_servers or [])]
    # max-bundle: aiortc's default "balanced" policy mis-bundles a second video
    # transceiver (it keeps a transport that BUNDLE negotiation then stops).
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def _codec_capabilities(kind: str, name: str) -> list:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in caps if c.mimeType.lower() == f"{kind}/{name}".lower()]
    chosen += [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]
    return chosen


class Room:
    """A meeting room. All methods must be called on the room's event loop."""

    def __init__(self, room_id: Any, *, ice_servers: Optional[list] = None,
                 on_empty: Optional[Callable[["Room"], None]] = None) -> None:
        self.id = room_id
        self.ice_servers = ice_servers
        self.sessions: dict[str, Session] = {}
        self.on_empty = on_empty
        self.ended = False
        self.speaker: Optional[str] = None
        self.recorder: Any = None
        self.presenter: Optional[int] = None  # person id a host handed presenting to
        self.presenter_known = False  # set by a handover (or the meeting's record at a join)
        self._speaker_task = asyncio.ensure_future(self._speaker_loop())
        self._remb_task = asyncio.ensure_future(self._remb_loop())
        self._roster_dirty = False
        self._roster_task: Optional[asyncio.Task] = None
        self._last_spoke: dict[str, float] = {}  # session id -> when its microphone last spoke
        self._forwarded: tuple = ()  # Ranking.forwarded() at the last speaker tick

    # ----------------------------------------------------------------- sessions
    async def join(self, person_id: int, name: str, send: SendFn, *, is_host: bool = False,
                   mode: str = "video", session_id: Optional[str] = None,
                   presenter: Optional[int] = None) -> Session:
        if self.ended:
            raise SignallingError("ended", gettext_noop("会议已结束"))
        if presenter is not None and not self.presenter_known:
            self.presenter, self.presenter_known = presenter, True
        if mode not in MODES:
            mode = "video"
        # Joining twice (a second tab, or a reconnect): the older session is replaced.
        for old in [s for s in self.sessions.values() if s.person_id == person_id]:
            await self._safe_send(old, {"type": "replaced", "message": gettext_noop("您已在其他窗口或设备加入本会议")})
            await self._drop(old)
        session = Session(id=session_id or uuid.uuid4().hex[:12], person_id=person_id,
                          name=name, send=send, is_host=is_host, mode=mode)
        self.sessions[session.id] = session
        await self._safe_send(session, {"type": "joined", "session": session.id,
                                        "room": self.id, "mode": mode,
                                        "speaker": self.speaker,
                                        "presenter": self.presenter})
        await self._sync_subscriptions(session)
        await self._broadcast_roster()
        return session

    async def leave(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            await self._drop(session)
            await self._broadcast_roster()
        if not self.sessions and self.on_empty is not None:
            self.on_empty(self)

    async def _drop(self, session: Session) -> None:
        session.closed = True
        self.sessions.pop(session.id, None)
        for pub in list(session.publications.values()):
            await self._unpublish(pub, renegotiate=True)
        session.publications.clear()
        self._release_held(session)
        for slot in session.slots:
            slot.track.stop()
        for pc in (session.pub, session.sub):
            if pc is not None:
                await pc.close()
        session.pub = session.sub = None
        if self.speaker == session.id:
            self.speaker = None
        self._last_spoke.pop(session.id, None)

    async def close(self) -> None:
        self.ended = True
        self._speaker_task.cancel()
        self._remb_task.cancel()
        if self._roster_task is not None:
            self._roster_task.cancel()
        if self.recorder is not None:
            await self.stop_recording()
        for session in list(self.sessions.values()):
            await self._drop(session)

    # ------------------------------------------------------------- dispatching
    async def handle(self, session_id: str, message: Any) -> None:
        """Handle one signalling message; errors become ``error`` frames, never exceptions."""
        session = self.sessions.get(session_id)
        if session is None:
            return
        if not session.bucket.take():
            await self._safe_send(session, {"type": "error", "code": "rate_limited",
                                            "message": gettext_noop("消息过于频繁，请稍后再试")})
            return
        try:
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise SignallingError("bad_message", gettext_noop("无法识别的信令消息"))
            handler = getattr(self, "_on_" + message["type"], None)
            if handler is None:
                raise SignallingError("bad_message", gettext_noop("无法识别的信令消息类型"))
            await handler(session, message)
        except SignallingError as exc:
            await self._safe_send(session, exc.frame(request=message.get("type")
                                                     if isinstance(message, dict) else None))
        except Exception:
            logger.exception("signalling message failed in room %s", self.id)
            await self._safe_send(session, {"type": "error", "code": "internal",
                                            "message": gettext_noop("处理信令时出错，请重试")})

    async def _safe_send(self, session: Session, message: dict) -> None:
        try:
            await session.send(message)
        except Exception:
            logger.debug("send to session %s failed", session.id, exc_info=True)

    # --------------------------------------------------------------- publishing
    @staticmethod
    def _parse_sdp(message: dict, kind: str) -> RTCSessionDescription:
        sdp = message.get("sdp")
        if not isinstance(sdp, str) or not sdp.strip() or len(sdp) > MAX_SDP:
            raise SignallingError("bad_sdp", gettext_noop("会话描述(SDP)无效"))
        try:
            if not sdp.lstrip().startswith("v=0"):
                raise ValueError("no version line")
            parsed = SessionDescription.parse(sdp)
        except Exception:
            raise SignallingError("bad_sdp", gettext_noop("会话描述(SDP)格式错误"))
        if not any(m.kind in ("audio", "video") for m in parsed.media):
            raise SignallingError("bad_sdp", gettext_noop("会话描述(SDP)中没有音视频"))
        if kind == "offer":
            for media in parsed.media:
                if media.kind not in ("audio", "video"):
                    continue
                names = {c.name.lower() for c in media.rtp.codecs}
                if not names & {n.lower() for n in ALLOWED_CODECS[media.kind]}:
                    raise SignallingError(
                        "unsupported_codec",
                        gettext_noop("不支持的媒体编码：音频需要 Opus，视频需要 VP8 或 H.264"))
        return RTCSessionDescription(sdp=sdp, type=kind)

    async def _on_offer(self, session: Session, message: dict) -> None:
        if message.get("pc") != "pub":
            raise SignallingError("out_of_order", gettext_noop("服务器只接受发布连接(pub)的 offer"))
        description = self._parse_sdp(message, "offer")
        tracks = message.get("tracks") or {}
        if not isinstance(tracks, dict):
            raise SignallingError("bad_message", gettext_noop("tracks 必须是对象"))
        pc = session.pub
        if pc is None:
            pc = session.pub = RTCPeerConnection(_ice_configuration(self.ice_servers))
            pc.on("connectionstatechange", lambda: self._on_pub_state(session, pc))
        if pc.signalingState != "stable":
            raise SignallingError("out_of_order", gettext_noop("上一次协商尚未完成"))
        try:
            await pc.setRemoteDescription(description)
        except Exception as exc:
            if session.pub is pc and pc.remoteDescription is None:
                session.pub = None
                await pc.close()
            raise SignallingError("bad_sdp", gettext_noop("无法接受该会话描述：%(reason)s"), reason=str(exc))
        # Mark every remote track before its receiver starts (no await in between).
        for transceiver in pc.getTransceivers():
            if transceiver.receiver.track is not None:
                forwarding.mark_forwarding(transceiver.receiver.track)
            forwarding.stop_bitrate_estimate(transceiver.receiver)  # the room's REMB instead
        seen_sources = set()
        refused: list[str] = []
        counts = {"audio": 0, "video": 0}
        for transceiver in pc.getTransceivers():
            kind = transceiver.kind
            counts[kind] += 1
            default = ("mic" if kind == "audio" else
                       ("camera" if counts[kind] == 1 else "small"))
            source = tracks.get(transceiver.mid, default)
            if SOURCES.get(source) != kind:
                source = default
            # Only forwardable codecs: Opus; VP8 preferred over H.264.
            allowed = [c for c in transceiver._codecs
                       if c.name.lower() in {n.lower() for n in ALLOWED_CODECS[kind]}]
            allowed.sort(key=lambda c: ALLOWED_CODECS[kind].index(
                next(n for n in ALLOWED_CODECS[kind] if n.lower() == c.name.lower())))
            if allowed:
                first = allowed[0]
                rtx = [c for c in transceiver._codecs if c.name.lower() == "rtx"
                       and c.parameters.get("apt") == first.payloadType]
                transceiver._codecs = [first] + rtx
            track = transceiver.receiver.track
            remote_sends = transceiver._offerDirection in ("recvonly", "sendrecv")
            existing = session.publications.get(source)
            if track is None or not remote_sends or transceiver.currentDirection == "inactive":
                if existing is not None and existing.receiver is transceiver.receiver:
                    await self._unpublish(existing, renegotiate=False)
                held = session.held.get(source)
                if held is not None and held.receiver is transceiver.receiver:
                    self._release_held(session, source)
                continue
            seen_sources.add(source)
            if source in PRESENTER_SOURCES and not self.may_present(session):
                if existing is not None:
                    await self._unpublish(existing, renegotiate=False)
                self._hold(session, source, track, transceiver.receiver, transceiver._codecs[0].name)
                refused.append(source)
                continue
            if existing is not None and existing.receiver is transceiver.receiver:
                continue
            if existing is not None:
                await self._unpublish(existing, renegotiate=False)
            self._release_held(session, source)
            pub = Publication(self, session, source, track, transceiver.receiver,
                              transceiver._codecs[0].name)
            session.publications[source] = pub
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        await self._safe_send(session, {"type": "answer", "pc": "pub",
                                        "sdp": pc.localDescription.sdp})
        for source, pub in list(session.publications.items()):
            if source not in seen_sources:
                await self._unpublish(pub, renegotiate=False)
        for source in [s for s in session.held if s not in seen_sources]:
            self._release_held(session, source)
        if self.recorder is not None:
            self.recorder.on_change()  # a new publication may be what the recording shows
        if refused:
            await self._safe_send(session, {
                "type": "error", "code": "not_presenter", "request": "offer",
                "message": gettext_noop("只有主讲人或主持人可以共享屏幕或发送第二路视频，主持人移交主讲后自动生效")})
        await self._resync_all()
        await self._broadcast_roster()

    # ---------------------------------------------------------------- presenting
    def may_present(self, session: Session) -> bool:
        return session.is_host or (self.presenter is not None and session.person_id == self.presenter)

    def _hold(self, session: Session, source: str, track: Any, receiver: Any, codec: str) -> None:
        held = session.held.get(source)
        if held is not None and held.receiver is receiver:
            return
        self._release_held(session, source)
        session.held[source] = Held(track, receiver, codec, asyncio.ensure_future(_drain(track)))

    def _release_held(self, session: Session, source: Optional[str] = None) -> None:
        for key in ([source] if source else list(session.held)):
            held = session.held.pop(key, None)
            if held is not None and held.task is not None:
                held.task.cancel()

    async def set_presenter(self, person_id: Optional[int]) -> None:
        """A host handed presenting to person_id: move the presenter-only tracks, tell everyone."""
        self.presenter, self.presenter_known = person_id, True
        for session in list(self.sessions.values()):
            if self.may_present(session):
                for source, held in list(session.held.items()):
                    self._release_held(session, source)
                    session.publications[source] = Publication(
                        self, session, source, held.track, held.receiver, held.codec)
            else:
                for source in PRESENTER_SOURCES:
                    pub = session.publications.get(source)
                    if pub is not None:
                        await self._unpublish(pub, renegotiate=False)
                        self._hold(session, source, pub.track, pub.receiver, pub.codec)
        if self.recorder is not None:
            self.recorder.on_change()  # the recording follows the presenter
        message = {"type": "presenter", "person": person_id}
        for session in list(self.sessions.values()):
            await self._safe_send(session, message)
        await self._resync_all()
        await self._broadcast_roster()

    def _on_pub_state(self, session: Session, pc: RTCPeerConnection) -> None:
        if pc.connectionState in ("failed", "closed") and session.pub is pc and not session.closed:
            asyncio.ensure_future(self._pub_failed(session, pc))

    async def _pub_failed(self, session: Session, pc: RTCPeerConnection) -> None:
        if session.pub is not pc:
            return
        session.pub = None
        for pub in list(session.publications.values()):
            await self._unpublish(pub, renegotiate=False)
        self._release_held(session)
        await pc.close()
        await self._resync_all()
        await self._broadcast_roster()

    async def _unpublish(self, pub: Publication, renegotiate: bool) -> None:
        if pub.session.publications.get(pub.source) is pub:
            del pub.session.publications[pub.source]
        pub.stop()
        if self.recorder is not None:
            self.recorder.publication_gone(pub)
        if renegotiate:
            await self._resync_all(exclude=pub.session.id)

    # -------------------------------------------------------------- subscribing
    def _wanted(self, viewer: Session, ranking: Optional["Ranking"] = None) -> list[tuple[str, str, Publication]]:
        """(owner session id, role, publication) the viewer should receive."""
        wanted = []
        ranking = ranking or self._ranking()
        audible = self._audible_for(viewer, ranking)
        visible = self._visible_for(viewer, ranking) if viewer.mode == "video" else None
        for other in self.sessions.values():
            if other.id == viewer.id:
                continue
            pubs = other.publications
            if "mic" in pubs and (audible is None or other.id in audible):
                wanted.append((other.id, "audio", pubs["mic"]))
            if viewer.mode != "audio":
                video = None
                if viewer.mode == "small":
                    # a weak line: the presenters' small tracks instead of anyone's camera (a
                    # presenter who sends none is still shown, by the camera)
                    video = pubs.get("small")
                    if video is None and self.may_present(other):
                        video = pubs.get("camera")
                elif "camera" in pubs:
                    video = pubs["camera"] if visible is None or other.id in visible else None
                elif "small" in pubs:
                    video = pubs["small"]
                if video is not None:
                    wanted.append((other.id, "video", video))
                if "screen" in pubs:
                    wanted.append((other.id, "screen", pubs["screen"]))
        return wanted

    # ------------------------------------------------------------ who is heard
    def _audible_order(self) -> list[str]:
        """Session ids of the microphones a big room forwards: the most recent speakers first
        (then presenters, then the order of joining), unmuted ones only, AUDIO_LAST_N + 1 of
        them (a viewer never gets their own). A voice stays until AUDIO_LAST_N others have
        spoken after it, so the choice does not flicker."""
        live = [s for s in self.sessions.values()
                if "mic" in s.publications and not s.publications["mic"].paused]
        return [s.id for s in self._by_recency(live, presenters_first=False)[:AUDIO_LAST_N + 1]]

    def _by_recency(self, sessions: list, presenters_first: bool) -> list:
        """``sessions`` ordered by who spoke last (presenters before or after that), then by
        the order of joining."""
        order = {sid: i for i, sid in enumerate(self.sessions)}

        def key(s: Session) -> tuple:
            recency, presenter = -self._last_spoke.get(s.id, 0.0), not self.may_present(s)
            return ((presenter, recency) if presenters_first else (recency, presenter)) + (order[s.id],)

        return sorted(sessions, key=key)

    def _ranking(self) -> "Ranking":
        """Who a big room forwards, ranked once for every viewer of a resync."""
        cams = [s for s in self.sessions.values() if "camera" in s.publications]
        return Ranking(mics={s.id for s in self.sessions.values() if "mic" in s.publications},
                       audible=self._audible_order(), cams={s.id for s in cams},
                       visible=[s.id for s in self._by_recency(cams, presenters_first=True)[:VIDEO_LAST_N + 1]])

    @staticmethod
    def _audible_for(viewer: Session, ranking: "Ranking") -> Optional[set]:
        """The microphones ``viewer`` receives: every one in a small room (None), else the
        AUDIO_LAST_N chosen by :meth:`_audible_order` — so a viewer in a training of 300 gets
        a few audio streams, not 299 (Jitsi's and LiveKit's rule for big rooms)."""
        if len(ranking.mics - {viewer.id}) <= AUDIO_LAST_N:
            return None
        return set([sid for sid in ranking.audible if sid != viewer.id][:AUDIO_LAST_N])

    @staticmethod
    def _visible_for(viewer: Session, ranking: "Ranking") -> Optional[set]:
        """The cameras ``viewer`` receives: every one up to VIDEO_LAST_N (None), else the
        presenters' and then the most recent speakers', VIDEO_LAST_N in all."""
        if len(ranking.cams - {viewer.id}) <= VIDEO_LAST_N:
            return None
        return set([sid for sid in ranking.visible if sid != viewer.id][:VIDEO_LAST_N])

    async def _resync_all(self, exclude: Optional[str] = None) -> None:
        ranking = self._ranking()  # (a change during the pass brings a resync of its own)
        for session in list(self.sessions.values()):
            if session.id != exclude:
                await self._sync_subscriptions(session, ranking)

    async def _sync_subscriptions(self, viewer: Session, ranking: Optional["Ranking"] = None) -> None:
        """Point the viewer's slots at what it should receive; re-offer if slots were added."""
        if viewer.closed:
            return
        wanted = self._wanted(viewer, ranking)
        keyed = {(owner, role): pub for owner, role, pub in wanted}
        changed = False
        # keep or release existing slots
        for slot in viewer.slots:
            key = (slot.owner, slot.role)
            if slot.owner is not None and key in keyed and keyed[key].codec == slot.codec:
                slot.track.attach(keyed.pop(key))
            elif slot.owner is not None:
                slot.track.attach(None)
                slot.owner = slot.role = None
                changed = True
        # fill free slots, or add transceivers
        added = False
        for (owner, role), pub in keyed.items():
            slot = next((s for s in viewer.slots if s.owner is None
                         and s.track.kind == pub.kind and s.codec == pub.codec), None)
            if slot is None:
                if viewer.sub is None:
                    viewer.sub = RTCPeerConnection(_ice_configuration(self.ice_servers))
                track = SubscriberTrack(pub.kind, VIDEO_BUFFER if pub.kind == "video"
                                        else AUDIO_BUFFER)
                transceiver = viewer.sub.addTransceiver(track, direction="sendonly")
                forwarding.use_forwarding_sender(transceiver.sender)
                transceiver.setCodecPreferences(_codec_capabilities(pub.kind, pub.codec))
                slot = Slot(transceiver=transceiver, track=track, codec=pub.codec)
                forwarding.on_keyframe_request(transceiver.sender,
                                               lambda s=slot: self._viewer_pli(s))
                viewer.slots.append(slot)
                added = True
            slot.owner, slot.role = owner, role
            slot.track.attach(pub)
            changed = True
        if added:
            await self._offer_sub(viewer)
        elif changed:
            await self._send_tracks(viewer)

    def _viewer_pli(self, slot: Slot) -> None:
        pub = slot.track.publication
        if pub is not None:
            pub.request_keyframe()

    def _tracks(self, viewer: Session) -> list[dict]:
        out = []
        for slot in viewer.slots:
            owner = self.sessions.get(slot.owner) if slot.owner else None
            out.append({
                "mid": slot.transceiver.mid,
                "kind": slot.track.kind,
                "role": slot.role if owner else None,
                "session": owner.id if owner else None,
                "person": owner.person_id if owner else None,
                "name": owner.name if owner else None,
            })
        return out

    async def _send_tracks(self, viewer: Session) -> None:
        if viewer.sub is not None and viewer.sub.localDescription is not None:
            await self._safe_send(viewer, {"type": "tracks", "tracks": self._tracks(viewer)})

    async def _offer_sub(self, viewer: Session) -> None:
        pc = viewer.sub
        if pc is None or viewer.closed:
            return
        if viewer.sub_offered or pc.signalingState != "stable":
            viewer.sub_pending = True
            return
        viewer.sub_pending = False
        viewer.sub_offered = True
        offer = await pc.createOffer()
        # No abs-send-time towards viewers: their bandwidth estimates (REMB) could not
        # change a forwarded stream anyway, and aiortc viewers would flood us with REMB.
        sdp = "\r\n".join(line for line in offer.sdp.split("\r\n") if "abs-send-time" not in line)
        await pc.setLocalDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._safe_send(viewer, {"type": "offer", "pc": "sub",
                                       "sdp": pc.localDescription.sdp,
                                       "tracks": self._tracks(viewer)})

    async def _on_answer(self, session: Session, message: dict) -> None:
        if message.get("pc") != "sub":
            raise SignallingError("out_of_order", gettext_noop("服务器只接受订阅连接(sub)的 answer"))
        pc = session.sub
        if pc is None or not session.sub_offered or pc.signalingState != "have-local-offer":
            raise SignallingError("out_of_order", gettext_noop("没有等待应答的 offer"))
        description = self._parse_sdp(message, "answer")
        try:
            await pc.setRemoteDescription(description)
        except Exception as exc:
            raise SignallingError("bad_sdp", gettext_noop("无法接受该应答：%(reason)s"), reason=str(exc))
        session.sub_offered = False
        if session.sub_pending:
            await self._offer_sub(session)

    async def _on_renegotiate(self, session: Session, message: dict) -> None:
        """The client wants a fresh sub offer (e.g. after a reconnect)."""
        if session.sub_offered and session.sub is not None:
            # the previous offer was lost: start over with a new connection
            await self._reset_sub(session)
            return
        if session.sub is None:
            await self._sync_subscriptions(session)
        else:
            await self._offer_sub(session)

    async def _reset_sub(self, session: Session) -> None:
        old = session.sub
        for slot in session.slots:
            slot.track.stop()
        session.slots = []
        session.sub = None
        session.sub_offered = session.sub_pending = False
        if old is not None:
            await old.close()
        await self._sync_subscriptions(session)

    async def _on_candidate(self, session: Session, message: dict) -> None:
        pc = session.pub if message.get("pc") == "pub" else session.sub
        if pc is None or pc.remoteDescription is None:
            raise SignallingError("out_of_order", gettext_noop("连接尚未协商，不能添加候选地址"))
        cand = message.get("candidate")
        if not cand:
            return  # end of candidates
        if not isinstance(cand, dict) or not isinstance(cand.get("candidate"), str):
            raise SignallingError("bad_message", gettext_noop("候选地址格式错误"))
        text = cand["candidate"]
        if text.startswith("candidate:"):
            text = text[len("candidate:"):]
        if not text:
            return
        try:
            candidate = candidate_from_sdp(text)
            candidate.sdpMid = cand.get("sdpMid")
            candidate.sdpMLineIndex = cand.get("sdpMLineIndex")
            await pc.addIceCandidate(candidate)
        except Exception:
            raise SignallingError("bad_message", gettext_noop("候选地址格式错误"))

    # ----------------------------------------------------- per-viewer choices
    async def _on_mode(self, session: Session, message: dict) -> None:
        mode = message.get("mode")
        if mode not in MODES:
            raise SignallingError("bad_message", gettext_noop("接收模式只能是 video、small 或 audio"))
        await self.set_mode(session.id, mode)

    async def set_mode(self, session_id: str, mode: str) -> None:
        session = self.sessions[session_id]
        session.mode = mode
        await self._sync_subscriptions(session)
        await self._broadcast_roster()

    async def _on_mute(self, session: Session, message: dict) -> None:
        kind = message.get("kind")
        sources = {"audio": ["mic"], "video": ["camera", "small"], "screen": ["screen"]}.get(kind)
        if sources is None:
            raise SignallingError("bad_message", gettext_noop("kind 只能是 audio、video 或 screen"))
        on = bool(message.get("on", True))
        for source in sources:
            pub = session.publications.get(source)
            if pub is not None:
                pub.paused = on
                if not on:
                    pub.request_keyframe(subscribe=True)
        await self._broadcast_roster()

    async def _on_hand(self, session: Session, message: dict) -> None:
        session.hand = bool(message.get("up", True))
        await self._broadcast_roster()

    async def _on_join(self, session: Session, message: dict) -> None:
        raise SignallingError("out_of_order", gettext_noop("已经加入会议"))

    # ------------------------------------------------------------ host commands
    async def _on_host(self, session: Session, message: dict) -> None:
        if not session.is_host:
            raise SignallingError("forbidden", gettext_noop("只有主持人可以执行该操作"))
        action = message.get("action")
        target = message.get("target")
        await self.host_command(session, action, target)

    async def host_command(self, actor: Session, action: Any, target: Any) -> None:
        if action == "present":
            if isinstance(target, str) and target.isdigit():
                target = int(target)
            if target is not None and not isinstance(target, int):
                raise SignallingError("bad_message", gettext_noop("请指定主讲人"))
            await self.set_presenter(target)
            return
        if action == "end":
            await self.end(by=actor.person_id)
            return
        if action == "mute_all":
            for other in list(self.sessions.values()):
                if other.id != actor.id:
                    await self._mute(other, ["mic"], "audio")
            await self._broadcast_roster()
            return
        if action not in ("mute", "stop_video", "remove"):
            raise SignallingError("bad_message", gettext_noop("未知的主持人操作"))
        victims = [s for s in self.sessions.values()
                   if s.person_id == target or s.id == target]
        if not victims:
            raise SignallingError("not_found", gettext_noop("该参会人不在会议中"))
        for victim in victims:
            if action == "mute":
                await self._mute(victim, ["mic"], "audio")
            elif action == "stop_video":
                await self._mute(victim, ["camera", "small"], "video")
            elif action == "remove":
                await self._safe_send(victim, {"type": "removed", "message": gettext_noop("您已被主持人移出会议")})
                await self._drop(victim)
        await self._broadcast_roster()

    async def _mute(self, session: Session, sources: list, kind: str) -> None:
        for source in sources:
            pub = session.publications.get(source)
            if pub is not None:
                pub.paused = True
        await self._safe_send(session, {"type": "muted", "kind": kind,
                                        "message": gettext_noop("主持人已将您静音") if kind == "audio"
                                        else gettext_noop("主持人已关闭您的视频")})

    async def end(self, by: Optional[int] = None) -> None:
        for session in list(self.sessions.values()):
            await self._safe_send(session, {"type": "ended", "by": by, "message": gettext_noop("会议已结束")})
        await self.close()

    # ---------------------------------------------------- roster and speaker
    def roster(self) -> list[dict]:
        return [s.describe() for s in self.sessions.values()]

    async def _broadcast_roster(self) -> None:
        """Send everyone the roster, coalesced: changes within ROSTER_COALESCE go out as one
        roster. (Sent at once per change, 250 people joining a training would cost 250² roster
        messages of up to 250 entries each.)"""
        self._roster_dirty = True
        if self._roster_task is None or self._roster_task.done():
            self._roster_task = asyncio.ensure_future(self._flush_roster())

    async def _flush_roster(self) -> None:
        try:
            while self._roster_dirty and not self.ended:
                await asyncio.sleep(ROSTER_COALESCE)
                self._roster_dirty = False
                message = {"type": "participants", "participants": self.roster(),
                           "presenter": self.presenter}
                for session in list(self.sessions.values()):
                    await self._safe_send(session, message)
        except asyncio.CancelledError:
            pass

    async def _speaker_loop(self) -> None:
        try:
            while True:
                await asyncio.sleep(SPEAKER_INTERVAL)
                best, best_level = None, SPEAKER_THRESHOLD
                now = time.monotonic()
                for session in self.sessions.values():
                    pub = session.publications.get("mic")
                    if pub is not None and not pub.paused and pub.level > SPEAKER_THRESHOLD:
                        self._last_spoke[session.id] = now
                    if pub is not None and not pub.paused and pub.level > best_level:
                        best, best_level = session, pub.level
                forwarded = self._ranking().forwarded()
                if forwarded != self._forwarded:
                    self._forwarded = forwarded
                    if len(self.sessions) > min(AUDIO_LAST_N, VIDEO_LAST_N) + 1:
                        await self._resync_all()  # big room: who is heard or seen changed
                if best is not None and best.id != self.speaker:
                    self.speaker = best.id
                    message = {"type": "speaker", "session": best.id,
                               "person": best.person_id}
                    for session in list(self.sessions.values()):
                        await self._safe_send(session, message)
                if self.recorder is not None:
                    self.recorder.on_change()  # the recording's voice follows the speaker
        except asyncio.CancelledError:
            pass

    async def _remb_loop(self) -> None:
        """Tell every publisher, once a second, how much it may send (REMB): the room's
        ceiling, not aiortc's estimate (forwarding.stop_bitrate_estimate says why). Within it
        each browser still backs off on its own when its uplink loses packets."""
        try:
            while True:
                await asyncio.sleep(REMB_INTERVAL)
                for session in list(self.sessions.values()):
                    pc = session.pub
                    if pc is None or pc.connectionState != "connected":
                        continue
                    receivers = [t.receiver for t in pc.getTransceivers() if t.kind == "video"]
                    ssrcs = [src.source for r in receivers for src in r.getSynchronizationSources()]
                    if receivers and ssrcs:
                        try:
                            await forwarding.send_remb(receivers[0], PUBLISH_MAX_BITRATE, ssrcs)
                        except Exception:
                            logger.debug("REMB to %s failed", session.id, exc_info=True)
        except asyncio.CancelledError:
            pass

    # --------------------------------------------------------------- recording
    async def start_recording(self, path: str, person_id: Optional[int] = None) -> None:
        from .recorder import Recorder

        if self.recorder is not None:
            raise SignallingError("busy", gettext_noop("已在录制中"))
        self.recorder = Recorder(self, path, person_id=person_id)
        self.recorder.start()

    async def stop_recording(self) -> Optional[str]:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        return await recorder.stop()

    # -------------------------------------------------------------- statistics
    def stats(self) -> dict:
        pubs = [p for s in self.sessions.values() for p in s.publications.values()]
        return {
            "sessions": len(self.sessions),
            "publications": len(pubs),
            "packets_in": sum(p.packets for p in pubs),
            "pli_sent": sum(p.pli_sent for p in pubs),
            "delivered": sum(sl.track.delivered for s in self.sessions.values() for sl in s.slots),
            "dropped": sum(sl.track.dropped for s in self.sessions.values() for sl in s.slots),
            # median seconds from a video frame's last packet in to it written to every viewer
            # it was not queued for (a viewer with a backlog gets it from its own sender)
            "added_latency": _median([x for p in pubs for x in p.fanout_latency]),
        }


def _median(values: list) -> Optional[float]:
    if not values:
        return None
    values = sorted(values)
    return values[len(values) // 2]
