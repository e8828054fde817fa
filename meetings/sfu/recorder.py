"""Recording a room to WebM by muxing the forwarded VP8 and Opus packets (no transcoding).

What is recorded: one video stream — a screen share if anyone shares, else the camera of
the person who started the recording (the host), else the first camera in the room — and
the microphone of that same person. Mixing several microphones would need decoding, which
this SFU never does; each recording therefore carries one voice (the presenter's).

The file starts at the first video keyframe (a PLI is sent when recording starts); audio
and video are placed on one timeline by their arrival times. Call :meth:`Recorder.stop`
to finish the file; the duration is in ``Recorder.duration``.
"""

from __future__ import annotations

import datetime
import fractions
import logging
import struct
import time
from typing import Any, Optional

import av

logger = logging.getLogger(__name__)

OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)


def vp8_size(data: bytes) -> Optional[tuple[int, int]]:
    """Width and height from a VP8 keyframe header (RFC 6386 section 9.1)."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = struct.unpack_from("<H", data, 6)[0] & 0x3FFF
    height = struct.unpack_from("<H", data, 8)[0] & 0x3FFF
    return width, height


class Recorder:
    def __init__(self, room: Any, path: str, person_id: Optional[int] = None) -> None:
        self.room = room
        self.path = path
        self.person_id = person_id
        self.container: Any = None
        self.video_stream: Any = None
        self.audio_stream: Any = None
        self.video_pub: Any = None
        self.audio_pub: Any = None
        self.started_at = time.monotonic()
        self.started_at_dt = datetime.datetime.now(datetime.timezone.utc)
        self.origin: Optional[float] = None  # wall time of the first muxed packet
        self.offsets: dict = {}
        self.last_pts: dict = {}
        self.packets = {"video": 0, "audio": 0}
        self.duration = 0.0
        self._video_sink = self._on_video
        self._audio_sink = self._on_audio

    # ---------------------------------------------------------------- choosing
    def _choose(self) -> None:
        sessions = list(self.room.sessions.values())
        video = next((s.publications["screen"] for s in sessions if "screen" in s.publications), None)
        mine = next((s for s in sessions if s.person_id == self.person_id), None)
        if video is None and mine is not None:
            video = mine.publications.get("camera")
        if video is None:
            video = next((s.publications["camera"] for s in sessions if "camera" in s.publications),
                         None)
        audio = None
        if mine is not None:
            audio = mine.publications.get("mic")
        if audio is None and video is not None:
            audio = video.session.publications.get("mic")
        if audio is None:
            audio = next((s.publications["mic"] for s in sessions if "mic" in s.publications), None)
        self._attach(video, audio)

    def _attach(self, video: Any, audio: Any) -> None:
        if video is not self.video_pub:
            if self.video_pub is not None and self._video_sink in self.video_pub.sinks:
                self.video_pub.sinks.remove(self._video_sink)
            self.video_pub = video
            if video is not None and video.codec.upper() == "VP8":
                video.sinks.append(self._video_sink)
                video.request_keyframe(subscribe=True)
        if audio is not self.audio_pub:
            if self.audio_pub is not None and self._audio_sink in self.audio_pub.sinks:
                self.audio_pub.sinks.remove(self._audio_sink)
            self.audio_pub = audio
            if audio is not None and audio.codec.lower() == "opus":
                audio.sinks.append(self._audio_sink)

    def start(self) -> None:
        self._choose()

    def publication_gone(self, pub: Any) -> None:
        if pub is self.video_pub or pub is self.audio_pub:
            self._choose()

    # ------------------------------------------------------------------ muxing
    def _open(self, width: int = 0, height: int = 0) -> None:
        self.container = av.open(self.path, mode="w", format="webm")
        if width and height:
            self.video_stream = self.container.add_stream("libvpx", rate=30)
            self.video_stream.width, self.video_stream.height = width, height
            self.video_stream.pix_fmt = "yuv420p"
            self.video_stream.time_base = fractions.Fraction(1, 1000)
        self.audio_stream = self.container.add_stream("libopus", rate=48000)
        self.audio_stream.layout = "stereo"
        self.audio_stream.time_base = fractions.Fraction(1, 1000)
        self.audio_stream.codec_context.extradata = OPUS_HEAD
        self.origin = time.monotonic()

    def _mux(self, kind: str, packet: av.Packet) -> None:
        stream = self.video_stream if kind == "video" else self.audio_stream
        clock = 90000 if kind == "video" else 48000
        if stream is None:
            return
        if kind not in self.offsets:
            # place the stream's first packet at its arrival time on the file's timeline
            self.offsets[kind] = packet.pts - int((time.monotonic() - self.origin) * clock)
        pts = packet.pts - self.offsets[kind]
        if pts < 0 or (kind in self.last_pts and pts <= self.last_pts[kind]):
            return
        self.last_pts[kind] = pts
        out = av.Packet(bytes(packet))
        out.pts = out.dts = pts
        out.time_base = fractions.Fraction(1, clock)
        out.is_keyframe = packet.is_keyframe
        out.stream = stream
        self.container.mux(out)
        self.packets[kind] += 1
        self.duration = max(self.duration, pts / clock)

    def _on_video(self, packet: av.Packet) -> None:
        try:
            if self.container is None:
                size = vp8_size(bytes(packet)) if packet.is_keyframe else None
                if size is None:
                    return
                self._open(*size)
            self._mux("video", packet)
        except Exception:
            logger.exception("recording %s: video packet failed", self.path)

    def _on_audio(self, packet: av.Packet) -> None:
        if self.container is None and self.video_pub is None:
            self._open()  # nobody shows video: an audio-only recording
        if self.container is None:
            return  # the file starts at the first video keyframe
        try:
            self._mux("audio", packet)
        except Exception:
            logger.exception("recording %s: audio packet failed", self.path)

    async def stop(self) -> Optional[str]:
        self._attach(None, None)
        if self.container is None:
            # nothing arrived: write an empty-but-valid note instead of a broken file
            return None
        self.container.close()
        self.container = None
        return self.path
