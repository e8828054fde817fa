"""A participant's session in a room (its connections, publications and slots) and its
entry in the roster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from aiortc import RTCPeerConnection

from .messages import SendFn, TokenBucket
from .relay import SubscriberTrack

MODES = ("video", "small", "audio")  # what a viewer chooses to receive


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
    link: Any = None  # a session of another worker of the room (cascade.Link), else None

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
