"""One meeting room of the forwarding SFU, living on one asyncio event loop: the orchestration.

The room is put together from one module per job:

* :mod:`.messages` — refusals (SignallingError), the send callback, the rate limit;
* :mod:`.signalling` — offers, answers, candidates of each session's ``pub``/``sub`` connections;
* :mod:`.sdp` — SDP checks, codecs that can be forwarded, ICE configuration;
* :mod:`.relay` — publications fanned out to viewers' tracks, key frames, bitrate ceilings;
* :mod:`.ranking` — last-N: which microphones and cameras each viewer receives;
* :mod:`.subscriptions` — each viewer's slots pointed at what it should receive;
* :mod:`.controls` — presenting, per-viewer choices, host commands;
* :mod:`.roster` — the roster and statistics;
* :mod:`.speaking` — who is speaking (also used by :mod:`.recorder`);
* :mod:`.session` — a participant's session and slots.

This module holds the room's state, joins and leaves, the dispatch of signalling messages,
and its periodic loops (active speaker, bitrate ceilings) and recording.

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

Server -> client notifications: ``participants`` (roster), ``tracks`` (mid -> who/what),
``presenter`` (who presents now),
``speaker`` (active speaker), ``muted`` (a host muted you), ``removed``, ``replaced``,
``ended``, ``error`` ({"code", "message"} with a Chinese message).

Recording (:meth:`Room.start_recording`, :mod:`meetings.sfu.recorder`): the recorder is a
sink on the publications it writes (packets, never frames) and follows the stage — a
screen share, else the presenter's camera, else the recording host's — and the active
speaker's voice, one voice at a time. The room tells it when that may have changed:
``recorder.on_change()`` after a pub offer, a presenter handover and on every speaker
tick, ``recorder.publication_gone(pub)`` when a publication ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Callable, Optional

from . import ranking as ranking_module
from . import certificate, consent, relay, sockets, speaking
from .admission import Admission
from .controls import Controls
from .messages import SendFn, SignallingError, gettext_noop
from .recorder import Recorder
from .relay import Publication
from .roster import Roster
from .session import MODES, Session
from .signalling import Signalling
from .subscriptions import Subscriptions

logger = logging.getLogger(__name__)


class Room(Signalling, Subscriptions, Controls, Roster):
    """A meeting room. All methods must be called on the room's event loop."""

    def __init__(self, room_id: Any, *, ice_servers: Optional[list] = None,
                 on_empty: Optional[Callable[["Room"], None]] = None,
                 admission: Optional[Admission] = None) -> None:
        consent.install()  # ICE consent that a busy loop does not break (consent.py)
        sockets.install()  # ICE sockets read in bursts: no backlog behind a busy loop (sockets.py)
        certificate.install()  # one DTLS certificate per worker, not one per connection (certificate.py)
        self.id = room_id
        self.admission = admission if admission is not None else Admission()  # joins in flight
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
        self.cascade: Any = None  # cascade.Cascade when the room spans several workers
        self.server: Optional[str] = None  # the worker serving this room's sessions ("joined")

    async def join(self, person_id: int, name: str, send: SendFn, *, is_host: bool = False,
                   mode: str = "video", session_id: Optional[str] = None,
                   presenter: Optional[int] = None) -> Optional[Session]:
        """Join the room, or queue for it (admission.py): the session when it entered at once;
        None when it waits ("joining" frames, then "joined" when its turn comes) or was refused."""
        if self.ended:
            raise SignallingError("ended", gettext_noop("会议已结束"))
        if presenter is not None and not self.presenter_known:
            self.presenter, self.presenter_known = presenter, True
        if mode not in MODES:
            mode = "video"
        session_id = session_id or uuid.uuid4().hex[:12]
        # hosts and the presenter never wait behind the viewers of their own meeting
        priority = is_host or (self.presenter is not None and person_id == self.presenter)

        async def enter() -> Optional[Session]:
            return await self._enter(person_id, name, send, is_host, mode, session_id)

        return await self.admission.request(session_id, self, person_id, send, enter, priority=priority)

    async def _enter(self, person_id: int, name: str, send: SendFn, is_host: bool, mode: str,
                     session_id: str) -> Optional[Session]:
        if self.ended:
            self.admission.forget(session_id)
            try:
                await send({"type": "ended", "message": gettext_noop("会议已结束")})
            except Exception:
                pass
            return None
        # Joining twice (a second tab, or a reconnect): the older session is replaced.
        for old in [s for s in self.sessions.values() if s.person_id == person_id]:
            if old.link is not None:  # on another worker: that worker replaces it
                old.link.replace(old.id)
                continue
            await self._safe_send(old, {"type": "replaced", "message": gettext_noop("您已在其他窗口或设备加入本会议")})
            await self._drop(old)
        session = Session(id=session_id, person_id=person_id,
                          name=name, send=send, is_host=is_host, mode=mode)
        self.sessions[session.id] = session
        await self._safe_send(session, {"type": "joined", "session": session.id,
                                        "room": self.id, "mode": mode,
                                        "speaker": self.speaker,
                                        "presenter": self.presenter, "server": self.server})
        await self._sync_subscriptions(session)
        # in flight (admission) until its receiving connection is up, if it has one yet
        self.admission.connecting(session.id, None if session.closed else session.sub)
        await self._broadcast_roster()
        return session

    async def leave(self, session_id: str) -> None:
        self.admission.forget(session_id)  # (a join still queued, or in flight)
        session = self.sessions.get(session_id)
        if session is not None:
            await self._drop(session)
            await self._broadcast_roster()
        if self.idle() and self.on_empty is not None:
            self.on_empty(self)

    def idle(self) -> bool:
        """No session on this worker, and none queued to enter."""
        return not self.local_sessions() and not self.admission.waiting(self)

    def local_sessions(self) -> list:
        """The sessions connected to this worker (not those of other workers of the room)."""
        return [s for s in self.sessions.values() if s.link is None]

    async def _drop(self, session: Session) -> None:
        session.closed = True
        if self.sessions.pop(session.id, None) is session:
            self.admission.done(session.id)
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
        if self.cascade is not None:
            self.cascade.close()
        self._speaker_task.cancel()
        self._remb_task.cancel()
        if self._roster_task is not None:
            self._roster_task.cancel()
        if self.recorder is not None:
            await self.stop_recording()
        # joins still queued for this room: dropped (end() told them the meeting ended; when a
        # worker stops, their consumers see it stop and move them to a live one)
        self.admission.drop_room(self)
        for session in list(self.sessions.values()):
            await self._drop(session)

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

    async def _on_join(self, session: Session, message: dict) -> None:
        raise SignallingError("out_of_order", gettext_noop("已经加入会议"))

    async def _safe_send(self, session: Session, message: dict) -> None:
        try:
            await session.send(message)
        except Exception:
            logger.debug("send to session %s failed", session.id, exc_info=True)

    async def _unpublish(self, pub: Publication, renegotiate: bool) -> None:
        if pub.session.publications.get(pub.source) is pub:
            del pub.session.publications[pub.source]
        pub.stop()
        if self.recorder is not None:
            self.recorder.publication_gone(pub)
        if renegotiate:
            await self._resync_all(exclude=pub.session.id)

    async def _speaker_loop(self) -> None:
        try:
            while True:
                await asyncio.sleep(speaking.SPEAKER_INTERVAL)
                now = time.monotonic()
                for session in self.sessions.values():
                    if speaking.speaks(session.publications.get("mic")):
                        self._last_spoke[session.id] = now
                best = speaking.loudest(self.sessions.values())
                forwarded = self._ranking().forwarded()
                if forwarded != self._forwarded:
                    self._forwarded = forwarded
                    if ranking_module.is_big(len(self.sessions)):
                        await self._resync_all()  # big room: who is heard or seen changed
                if best is not None and best.id != self.speaker:
                    self.speaker = best.id
                    message = {"type": "speaker", "session": best.id,
                               "person": best.person_id}
                    for session in list(self.sessions.values()):
                        await self._safe_send(session, message)
                if self.recorder is not None:
                    self.recorder.on_change()  # the recording's voice follows the speaker
                if self.cascade is not None:
                    self.cascade.send_levels()  # the other workers rank with our voices too
        except asyncio.CancelledError:
            pass

    async def _remb_loop(self) -> None:
        """Tell every publisher, once a second, how much it may send (relay.send_ceilings)."""
        try:
            while True:
                await asyncio.sleep(relay.REMB_INTERVAL)
                await relay.send_ceilings(self.sessions.values())
        except asyncio.CancelledError:
            pass

    async def start_recording(self, path: str, person_id: Optional[int] = None) -> None:
        if self.recorder is not None:
            raise SignallingError("busy", gettext_noop("已在录制中"))
        self.recorder = Recorder(self, path, person_id=person_id)
        self.recorder.start()

    async def stop_recording(self) -> Optional[str]:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        return await recorder.stop()
