"""Who is speaking: the one rule, used by the room (active speaker, last-N) and the recorder.

Loudness comes from the RTP audio-level header extension (RFC 6464,
``urn:ietf:params:rtp-hdrext:ssrc-audio-level``, sent by browsers and by aiortc), read on
every incoming audio RTP packet; if a publisher does not send it, from Opus packet sizes
(speech frames are several times larger than comfort-noise/silence frames). It is smoothed
per microphone (:class:`Loudness`); a microphone speaks when it is live (not muted) and its
smoothed loudness is above :data:`SPEAKER_THRESHOLD`.
"""

from __future__ import annotations

from typing import Any, Optional

SPEAKER_THRESHOLD = 30.0  # loudness (127 - dBov level) above which someone "speaks"
SPEAKER_INTERVAL = 0.4  # seconds between the room's speaker ticks
SMOOTHING = 0.2  # weight of a new reading in the smoothed loudness


class Loudness:
    """The smoothed loudness of one microphone."""

    def __init__(self) -> None:
        self.level = 0.0
        self.from_extension = False

    def feed(self, loudness: float) -> None:
        self.level = (1.0 - SMOOTHING) * self.level + SMOOTHING * loudness

    def on_audio_level(self, dbov: int) -> None:
        """The RFC 6464 level (0 = loudest, 127 = silence) of one RTP packet."""
        self.from_extension = True
        self.feed(127 - dbov)

    def on_packet_size(self, size: int) -> None:
        """An Opus packet of a publisher that sends no audio-level extension."""
        if not self.from_extension:
            self.feed(min(127.0, size * 0.5))


def speaks(pub: Optional[Any]) -> bool:
    """Whether a microphone publication speaks now: live and above the threshold."""
    return pub is not None and not pub.paused and pub.level > SPEAKER_THRESHOLD


def loudest(sessions: Any) -> Optional[Any]:
    """The session whose microphone speaks loudest, or None when nobody speaks."""
    best, best_level = None, SPEAKER_THRESHOLD
    for session in sessions:
        pub = session.publications.get("mic")
        if speaks(pub) and pub.level > best_level:
            best, best_level = session, pub.level
    return best
