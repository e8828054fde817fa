"""Recording a room to WebM by muxing the forwarded VP8 and Opus packets (no transcoding).

What is recorded is what participants see on stage and whom they hear:

* video — a screen share if anyone shares (the presenter's first), else the presenter's
  camera (``room.presenter``, the person a host handed presenting to), else the camera
  of the person who started the recording (the host), else the first camera. Only VP8
  can go into WebM; H.264 publications are never chosen.
* audio — the active speaker's microphone (``room.speaker``, computed by the room from
  audio levels) while that person speaks, else the presenter's, else the recording
  host's, else the shown person's, else the first microphone. A voice is kept at least
  :data:`MIN_VOICE` seconds so that two people talking over each other do not make the
  recording flicker between them. Mixing several voices would need decoding, which this
  SFU never does; the recording carries one voice at a time, spliced from the Opus
  packets of whoever speaks (each Opus packet decodes on its own).

The choice is made again whenever the room calls :meth:`Recorder.on_change` (presenter
handed over, publications added or removed, and on every active-speaker tick) and when
a chosen publication goes (:meth:`Recorder.publication_gone`).

Switching sources: the old source keeps being written until the new one can take over.
A new video source is asked for a keyframe (``request_keyframe(subscribe=True)``, asked
again if none arrives) and its packets are skipped until that keyframe; the old camera
stays on screen until then. Every source is *rebased*: its first packet is placed on the
file's timeline at its arrival time (never earlier than just after the previous packet
of that track), the following ones by their RTP timestamps — so the file has one
continuous, monotonic timeline whatever the sources. A new source may have another
resolution: VP8 keyframes carry their size, decoders (libvpx, browsers) follow it; the
WebM header gives the size of the first source.

The file starts at the first video keyframe (a PLI is sent when recording starts), or at
the first audio packet if nobody shows a VP8 video then. While nobody shows video, the
video track carries a still card once a second (``placeholder.vp8``: "音频录制中，暂无视频
画面", one VP8 keyframe made by scripts/make_recording_placeholder.py and committed — the
server encodes nothing), so a camera or a screen share that appears later is recorded
too and the player always has a picture. Call :meth:`Recorder.stop` to finish the file;
the duration is in ``Recorder.duration``.
"""

from __future__ import annotations

import datetime
import fractions
import logging
import os
import struct
import time
from pathlib import Path
from typing import Any, Optional

import av

from .speaking import speaks

logger = logging.getLogger(__name__)

OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)
MIN_VOICE = 1.0  # seconds a voice is kept before the recording follows another speaker
KEYFRAME_RETRY = 1.0  # seconds before a new video source is asked again for a keyframe
MS = fractions.Fraction(1, 1000)  # WebM (Matroska) timestamps are in milliseconds
PLACEHOLDER_FILE = Path(__file__).with_name("placeholder.vp8")
PLACEHOLDER_SIZE = (640, 360)
PLACEHOLDER_EVERY = 1.0  # seconds between still cards while nobody shows video
PLACEHOLDER_GRACE = 2.0  # seconds a chosen source may take to send its keyframe before the card
_placeholder: Optional[bytes] = None


def placeholder_frame() -> bytes:
    global _placeholder
    if _placeholder is None:
        _placeholder = PLACEHOLDER_FILE.read_bytes()
    return _placeholder


def vp8_size(data: bytes) -> Optional[tuple[int, int]]:
    """Width and height from a VP8 keyframe header (RFC 6386 section 9.1)."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = struct.unpack_from("<H", data, 6)[0] & 0x3FFF
    height = struct.unpack_from("<H", data, 8)[0] & 0x3FFF
    return width, height


class Feed:
    """One publication feeding one track of the file, with its own rebasing."""

    def __init__(self, lane: "Lane", pub: Any) -> None:
        self.lane = lane
        self.pub = pub
        self.offset: Optional[float] = None  # file ms = pts * 1000 / clock - offset
        self.asked = 0.0

    def __call__(self, packet: av.Packet) -> None:
        self.lane.packet(self, packet)

    def attach(self) -> None:
        self.pub.sinks.append(self)

    def detach(self) -> None:
        if self in self.pub.sinks:
            self.pub.sinks.remove(self)


class Lane:
    """One track of the file (video or audio): the source written now and the next one."""

    def __init__(self, recorder: "Recorder", kind: str) -> None:
        self.recorder = recorder
        self.kind = kind
        self.clock = 90000 if kind == "video" else 48000
        self.step = 33 if kind == "video" else 20  # ms: one frame after the previous one
        self.live: Optional[Feed] = None  # written to the file
        self.next: Optional[Feed] = None  # chosen, waiting for its first (key)frame
        self.since = 0.0  # when the live source was chosen
        self.last_ms: Optional[int] = None
        self.switches = 0
        self.sources: list = []  # (file ms, session id, source) of every source written

    @property
    def target(self) -> Any:
        feed = self.next or self.live
        return feed.pub if feed is not None else None

    def choose(self, pub: Any) -> None:
        """Make pub the source; it takes over at its next packet (video: keyframe)."""
        if pub is self.target:
            return
        if self.next is not None:
            self.next.detach()
            self.next = None
        if pub is None:
            self.drop_live()
            return
        if self.live is not None and self.live.pub is pub:
            return  # back to the source still being written
        feed = Feed(self, pub)
        feed.attach()
        self.next = feed
        self.since = time.monotonic()
        if self.kind == "video":
            feed.asked = time.monotonic()
            pub.request_keyframe(subscribe=True)

    def drop_live(self) -> None:
        if self.live is not None:
            self.live.detach()
            self.live = None

    def gone(self, pub: Any) -> None:
        if self.live is not None and self.live.pub is pub:
            self.drop_live()
        if self.next is not None and self.next.pub is pub:
            self.next.detach()
            self.next = None

    def packet(self, feed: Feed, packet: av.Packet) -> None:
        try:
            if feed is self.next:
                if self.kind == "video" and not packet.is_keyframe:
                    now = time.monotonic()
                    if now - feed.asked >= KEYFRAME_RETRY:  # the PLI may have been lost
                        feed.asked = now
                        feed.pub.request_keyframe()
                    return
                if not self.recorder.ready(self.kind, packet):
                    return
                self.drop_live()
                self.live, self.next = feed, None
                self.switches += 1
            if feed is not self.live or not self.recorder.ready(self.kind, packet):
                return
            self.write(feed, packet)
            if self.kind == "audio":
                self.recorder.placeholder_tick()
        except Exception:
            logger.exception("recording %s: %s packet failed", self.recorder.path, self.kind)

    def write(self, feed: Feed, packet: av.Packet) -> None:
        stream = self.recorder.streams.get(self.kind)
        if stream is None:
            return
        source_ms = packet.pts * 1000 / self.clock
        if feed.offset is None:
            # rebase: this source's first packet goes at its arrival time on the file's
            # timeline, and never before the track's previous packet
            at = int((time.monotonic() - self.recorder.origin) * 1000)
            if self.last_ms is not None:
                at = max(at, self.last_ms + self.step)
            feed.offset = source_ms - at
            pub = feed.pub
            self.sources.append((at, pub.session.id, pub.source))
            logger.debug("recording %s: %s from %s/%s at %d ms", self.recorder.path,
                         self.kind, pub.session.id, pub.source, at)
        ms = int(round(source_ms - feed.offset))
        if ms < 0 or (self.last_ms is not None and ms <= self.last_ms):
            return  # late or duplicated: the file's timestamps only go forward
        self.last_ms = ms
        out = av.Packet(bytes(packet))
        out.pts = out.dts = ms
        out.time_base = MS
        out.is_keyframe = packet.is_keyframe
        out.stream = stream
        self.recorder.container.mux(out)
        self.recorder.packets[self.kind] += 1
        self.recorder.duration = max(self.recorder.duration, ms / 1000)


class Recorder:
    def __init__(self, room: Any, path: str, person_id: Optional[int] = None) -> None:
        self.room = room
        self.path = path
        self.person_id = person_id
        self.container: Any = None
        self.streams: dict = {}
        self.video = Lane(self, "video")
        self.audio = Lane(self, "audio")
        self.started_at = time.monotonic()
        self.started_at_dt = datetime.datetime.now(datetime.timezone.utc)
        self.origin: Optional[float] = None  # monotonic time of the file's 0
        self.packets = {"video": 0, "audio": 0}
        self.duration = 0.0
        self.stopped = False
        self.placeholder_at = -PLACEHOLDER_EVERY
        self.placeholder_frames = 0

    # ---------------------------------------------------------------- choosing
    def start(self) -> None:
        self.on_change()

    def on_change(self) -> None:
        """Something in the room changed (or a speaker tick): choose the sources again."""
        if self.stopped:
            return
        try:
            self.video.choose(self._choose_video())
            self._choose_voice()
        except Exception:
            logger.exception("recording %s: choosing sources failed", self.path)

    def publication_gone(self, pub: Any) -> None:
        self.video.gone(pub)
        self.audio.gone(pub)
        self.on_change()

    def _sessions(self) -> list:
        return list(self.room.sessions.values())

    @staticmethod
    def _first_live(candidates: list) -> Any:
        """The first candidate that is not paused (muted/stopped), else the first."""
        candidates = [p for p in candidates if p is not None]
        return next((p for p in candidates if not p.paused), candidates[0] if candidates else None)

    def _choose_video(self) -> Any:
        sessions = self._sessions()
        presenter = self.room.presenter

        def pubs(source: str, sessions: list) -> list:
            return [s.publications[source] for s in sessions if source in s.publications
                    and s.publications[source].codec.upper() == "VP8"]

        presenting = [s for s in sessions if s.person_id == presenter] if presenter else []
        recording = [s for s in sessions if s.person_id == self.person_id]
        screens = pubs("screen", presenting) + pubs("screen", sessions)
        if screens:
            return self._first_live(screens)
        return self._first_live(pubs("camera", presenting) + pubs("camera", recording)
                                + pubs("camera", sessions))

    def _choose_voice(self) -> None:
        mics = {s.id: s.publications["mic"] for s in self._sessions()
                if "mic" in s.publications and s.publications["mic"].codec.lower() == "opus"}
        current = self.audio.target
        if current is not None and current not in mics.values():
            current = None

        wanted = mics.get(self.room.speaker) if self.room.speaker else None
        if not speaks(wanted):
            wanted = current if speaks(current) else None
        if wanted is None:
            # nobody speaks: the presenter's microphone, the host's, the one on screen
            by_person = {}
            for s in self._sessions():
                if s.id in mics:
                    by_person.setdefault(s.person_id, mics[s.id])
            shown = self.video.target
            wanted = self._first_live([
                by_person.get(self.room.presenter) if self.room.presenter else None,
                by_person.get(self.person_id),
                mics.get(shown.session.id) if shown is not None else None,
                *mics.values()])
        if wanted is current:
            return
        if current is not None and not current.paused \
                and time.monotonic() - self.audio.since < MIN_VOICE:
            return  # hysteresis: keep a voice at least MIN_VOICE seconds
        self.audio.choose(wanted)

    # ------------------------------------------------------------------ muxing
    def ready(self, kind: str, packet: av.Packet) -> bool:
        """Whether the file is open for this packet (opening it on the first keyframe)."""
        if self.container is not None:
            return kind in self.streams
        if self.stopped:
            return False
        if kind == "video":
            size = vp8_size(bytes(packet)) if packet.is_keyframe else None
            if size is None:
                return False
            self._open(*size)
            return True
        if self.video.target is None:
            self._open(*PLACEHOLDER_SIZE)  # nobody shows video (yet): the still card for now
            return True
        return False  # the file starts at the first video keyframe

    def _open(self, width: int, height: int) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)  # the worker's own spool folder
        self.container = av.open(self.path, mode="w", format="webm")
        stream = self.container.add_stream("libvpx", rate=30)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = MS
        self.streams["video"] = stream
        stream = self.container.add_stream("libopus", rate=48000)
        stream.layout = "stereo"
        stream.time_base = MS
        stream.codec_context.extradata = OPUS_HEAD
        self.streams["audio"] = stream
        self.origin = time.monotonic()

    def placeholder_tick(self) -> None:
        """While nobody's video is written, put the still card on the video track (driven by
        the audio packets being written: no timer, nothing when nothing is recorded)."""
        lane = self.video
        if lane.live is not None or "video" not in self.streams or self.container is None:
            return
        now = time.monotonic()
        if now - self.placeholder_at < PLACEHOLDER_EVERY:
            return
        if lane.next is not None and now - lane.since < PLACEHOLDER_GRACE:
            return  # a new source is about to take over (its keyframe is on the way)
        self.placeholder_at = now
        at = int((now - self.origin) * 1000)
        if lane.last_ms is not None:
            at = max(at, lane.last_ms + lane.step)
        out = av.Packet(placeholder_frame())
        out.pts = out.dts = at
        out.time_base = MS
        out.is_keyframe = True
        out.stream = self.streams["video"]
        self.container.mux(out)
        lane.last_ms = at
        self.placeholder_frames += 1
        self.duration = max(self.duration, at / 1000)

    async def stop(self) -> Optional[str]:
        self.stopped = True
        for lane in (self.video, self.audio):
            lane.choose(None)
        if self.container is None:
            return None  # nothing arrived: no file
        self.container.close()
        self.container = None
        return self.path
