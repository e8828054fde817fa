"""The relay: a publisher's encoded frames fanned out to its viewers, and key frames.

Nothing is decoded or encoded here: publishers' remote tracks are marked with
:func:`meetings.sfu.forwarding.mark_forwarding` so they yield ``av.Packet`` objects,
which a buffered relay (:class:`Publication` -> :class:`SubscriberTrack`) fans out to
the viewers' senders, which only packetise.

Keyframes: a viewer's PLI/FIR is forwarded to the publisher as an RTCP PLI, at most
one per second per publication (:data:`PLI_INTERVAL`); every new subscription (and a
viewer whose buffer overflowed) asks for one at once, merged with one already in flight
or sent within :data:`SUBSCRIBE_PLI_COALESCE` — and looked at again later, so that a
viewer never waits for its first picture longer than a keyframe's round trip.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from . import forwarding, speaking

logger = logging.getLogger(__name__)

PLI_INTERVAL = 1.0  # seconds between keyframe requests forwarded to one publisher
SUBSCRIBE_PLI_COALESCE = 0.3  # subscribe-triggered PLIs closer than this are merged
KEYFRAME_WAIT = 1.0  # seconds a requested keyframe may take before it is asked for again
REMB_INTERVAL = 1.0  # seconds between the room's bitrate ceilings sent to each publisher
PUBLISH_MAX_BITRATE = 2_500_000  # bit/s a publisher may send in all: camera (~600 kbit/s,
#   capped by room.js), the small track, a screen share (~1.2 Mbit/s); the browser's own
#   loss-based control keeps it below what its uplink carries
VIDEO_BUFFER = 60  # encoded frames (~2 s) buffered per viewer before it is resynced on a keyframe
AUDIO_BUFFER = 50  # Opus frames (~1 s)


_FROZEN_AFTER = forwarding.FROZEN_AFTER


class SubscriberTrack(MediaStreamTrack):
    """One viewer's outgoing track: a bounded buffer of encoded packets from a Publication.

    Starts (and restarts after an overflow or a source switch) at a keyframe; rebases
    timestamps when the source changes so the viewer sees one continuous stream.

    What :meth:`push` reads for every frame and viewer is in slots (at fixed places in the
    object, not spread over the instance dict aiortc's track has: fewer cache misses with
    hundreds of viewers).
    """

    __slots__ = ("kind", "maxlen", "queue", "event", "publication", "waiting_keyframe", "offset",
                 "last_out", "need_rebase", "delivered", "dropped", "stalled",
                 "_delivered_at_overflow", "feedback", "frozen", "direct_writer")

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
        # A viewer that takes nothing (it never answered the offer, its sender never ran) is
        # "stalled": its overflows ask the publisher for no keyframe (that would give every
        # viewer of the publication a keyframe every VIDEO_BUFFER frames); it asks once it
        # takes frames again.
        self.stalled = False
        self._delivered_at_overflow = 0
        # set by the viewer's ForwardingSender: is its connection still answering (RTCP)?
        self.feedback: Optional[forwarding.FeedbackClock] = None
        self.frozen = False  # nothing sent while the viewer is frozen (forwarding.FROZEN_AFTER)
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
        # (every frame of a publication passes here once per viewer: the common case first,
        # in as few steps as possible)
        feedback = self.feedback
        if feedback is not None and (self.frozen or feedback.sending_since is not None and feedback.heard_once
                                     and shared.at - feedback.sending_since > _FROZEN_AFTER):
            if self._frozen_drop(shared.at):
                return
        if self.waiting_keyframe:
            if not shared.key:
                return
            self.waiting_keyframe = False
        if not self.queue and self.direct_writer is not None:
            # The viewer's sender is idle: write the frame now instead of waking its task.
            if self.need_rebase:
                self._rebase(shared.pts)
            timestamp = self.last_out = shared.pts + self.offset
            try:
                if self.direct_writer(shared, timestamp):
                    self.delivered += 1
                    return
            except Exception:
                logger.exception("direct write to a viewer failed; queueing instead")
                self.direct_writer = None
        if len(self.queue) >= self.maxlen:
            # A viewer too slow to keep up: drop what is buffered and resync on a keyframe.
            self.stalled = self.delivered == self._delivered_at_overflow  # took none since
            self._delivered_at_overflow = self.delivered
            self.dropped += len(self.queue)
            self.queue.clear()
            if self.kind == "video":
                self.waiting_keyframe = not shared.key
                if self.waiting_keyframe:
                    if self.publication is not None and not self.stalled:
                        self.publication.request_keyframe(subscribe=True)
                    return
        self.queue.append(shared)
        self.event.set()

    @property
    def wants_keyframe(self) -> bool:
        """Waiting for a keyframe and able to take it now (not stalled, not frozen)."""
        return self.waiting_keyframe and not self.stalled and not self.frozen

    def _frozen_drop(self, now: float) -> bool:
        """Drop to live: while the viewer is frozen (no RTCP back), drop what would pile up in
        its socket buffer; once it is heard again, resume at a keyframe, asked for at once."""
        if self.feedback.frozen(now):
            if not self.frozen:
                self.frozen = True
                self.dropped += len(self.queue)
                self.queue.clear()
            self.dropped += 1
            self.waiting_keyframe = self.kind == "video"
            return True
        if self.frozen:
            self.frozen = False
            if self.waiting_keyframe and self.publication is not None:
                self.publication.request_keyframe(subscribe=True)
        return False

    def _timestamp(self, pts: int) -> int:
        """The viewer's RTP timestamp for a frame of the current source (idempotent per frame:
        a rebase after a source switch happens once, on that source's first frame)."""
        if self.need_rebase:
            self._rebase(pts)
        self.last_out = pts + self.offset
        return self.last_out

    def _rebase(self, pts: int) -> None:
        step = 3000 if self.kind == "video" else 960
        self.offset = self.last_out + step - pts
        self.need_rebase = False

    async def recv(self) -> forwarding.ForwardedFrame:
        if self.stalled:
            # taking frames again: ask for the keyframe its overflow did not ask for
            self.stalled = False
            if self.waiting_keyframe and self.publication is not None:
                self.publication.request_keyframe(subscribe=True)
        while not self.queue:
            if self.readyState != "live":
                raise MediaStreamError
            self.event.clear()
            await self.event.wait()
        shared = self.queue.popleft()
        # pts: time base = the codec's RTP clock (forwarding.py)
        timestamp = self._timestamp(shared.pts)
        self.delivered += 1
        return forwarding.ForwardedFrame(shared, timestamp)

    def stop(self) -> None:
        self.direct_writer = None
        self.feedback = None
        if self.publication is not None:
            self.publication.subscribers.discard(self)
            self.publication = None
        super().stop()
        self.event.set()


class Publication:
    """One incoming track of a publisher, relayed (buffered) to its subscribers."""

    def __init__(self, session: Any, source: str, track: Any, receiver: Any, codec: str) -> None:
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
        self.loudness = speaking.Loudness()  # for the active speaker (speaking.py)
        # Added latency, for room.stats(): from the arrival of a video frame's last RTP
        # packet (marker bit) to the frame written to the last of its viewers, in seconds.
        self.frame_in_at = 0.0
        self.fanout_latency: collections.deque = collections.deque(maxlen=256)
        self.task = asyncio.ensure_future(self._pump())
        forwarding.forward_inline(receiver, track)  # no decoder thread round trip per frame
        forwarding.on_rtp_packet(receiver, self._on_rtp if self.kind == "audio" else self._on_video_rtp)

    @property
    def level(self) -> float:
        return self.loudness.level

    @level.setter
    def level(self, value: float) -> None:
        self.loudness.level = value

    @property
    def level_from_ext(self) -> bool:
        return self.loudness.from_extension

    def _on_rtp(self, rtp: Any) -> None:
        ext = rtp.extensions.audio_level
        if ext is not None:
            self.loudness.on_audio_level(ext[1])

    def _on_video_rtp(self, rtp: Any) -> None:
        if rtp.marker:
            self.frame_in_at = time.monotonic()

    async def _pump(self) -> None:
        try:
            while True:
                packet = await self.track.recv()
                self.packets += 1
                if self.kind == "audio":
                    self.loudness.on_packet_size(packet.size)
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
        self._ask_publisher()

    def _ask_publisher(self) -> None:
        """Send the keyframe request (an RTCP PLI to the publisher; a piped publication asks
        the worker it comes from: cascade.py)."""
        asyncio.ensure_future(forwarding.request_keyframe(self.receiver))

    def _recheck_later(self, delay: float) -> None:
        if self.recheck is None:
            self.recheck = asyncio.get_event_loop().call_later(max(0.0, delay), self._recheck)

    def _recheck(self) -> None:
        self.recheck = None
        if self.keyframe_wanted or any(sub.wants_keyframe for sub in self.subscribers):
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

    @classmethod
    def start(cls, track: Any, receiver: Any, codec: str) -> "Held":
        return cls(track, receiver, codec, asyncio.ensure_future(_drain(track)))

    def release(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _drain(track: Any) -> None:
    try:
        while True:
            await track.recv()
    except (MediaStreamError, asyncio.CancelledError):
        pass
    except Exception:
        logger.debug("draining a held track failed", exc_info=True)


async def send_ceilings(sessions: Any) -> None:
    """Tell every publisher how much it may send (REMB): the room's ceiling, not aiortc's
    estimate (forwarding.stop_bitrate_estimate says why). Within it each browser still backs
    off on its own when its uplink loses packets."""
    for session in list(sessions):
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
