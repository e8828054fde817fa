"""Presenting, per-viewer choices and host controls.

Presenting (主讲): the hosts and the one person a host handed presenting to ("present")
may publish the small second video track and a screen share; anyone else's are held
(received and dropped, never forwarded) until they are handed presenting. A handover
broadcasts ``{"type": "presenter", "person": <id or null>}``; ``joined`` and
``participants`` carry ``presenter`` too, so every client can put the presenter on stage.

A mixin of :class:`meetings.sfu.room.Room`.
"""

from __future__ import annotations

from typing import Any, Optional

from .messages import SignallingError, gettext_noop
from .relay import Held, Publication
from .session import MODES, Session

PRESENTER_SOURCES = ("small", "screen")  # only hosts and the presenter may publish these


class Controls:
    def may_present(self, session: Session) -> bool:
        return session.is_host or (self.presenter is not None and session.person_id == self.presenter)

    def _hold(self, session: Session, source: str, track: Any, receiver: Any, codec: str) -> None:
        held = session.held.get(source)
        if held is not None and held.receiver is receiver:
            return
        self._release_held(session, source)
        session.held[source] = Held.start(track, receiver, codec)

    def _release_held(self, session: Session, source: Optional[str] = None) -> None:
        for key in ([source] if source else list(session.held)):
            held = session.held.pop(key, None)
            if held is not None:
                held.release()

    async def set_presenter(self, person_id: Optional[int]) -> None:
        """A host handed presenting to person_id: move the presenter-only tracks, tell everyone."""
        self.presenter, self.presenter_known = person_id, True
        for session in list(self.sessions.values()):
            if self.may_present(session):
                for source, held in list(session.held.items()):
                    self._release_held(session, source)
                    session.publications[source] = Publication(
                        session, source, held.track, held.receiver, held.codec)
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

    async def _on_host(self, session: Session, message: dict) -> None:
        if not session.is_host:
            raise SignallingError("forbidden", gettext_noop("只有主持人可以执行该操作"))
        action = message.get("action")
        target = message.get("target")
        await self.host_command(session, action, target)

    async def host_command(self, actor: Any, action: Any, target: Any,
                           from_cascade: bool = False) -> None:
        """A host's command. In a room across several workers (cascade.py) it is passed on to the
        other workers, and each applies it to the sessions connected to it."""
        if action == "present":
            if isinstance(target, str) and target.isdigit():
                target = int(target)
            if target is not None and not isinstance(target, int):
                raise SignallingError("bad_message", gettext_noop("请指定主讲人"))
        elif action not in ("end", "mute_all", "mute", "stop_video", "remove"):
            raise SignallingError("bad_message", gettext_noop("未知的主持人操作"))
        elif action != "end" and action != "mute_all" and not any(
                s.person_id == target or s.id == target for s in self.sessions.values()):
            raise SignallingError("not_found", gettext_noop("该参会人不在会议中"))
        if self.cascade is not None and not from_cascade:
            self.cascade.command(action, target, actor.person_id)
        if action == "present":
            await self.set_presenter(target)
            return
        if action == "end":
            await self.end(by=actor.person_id)
            return
        if action == "mute_all":
            for other in self.local_sessions():
                if other.id != actor.id and (actor.person_id is None or other.person_id != actor.person_id):
                    await self._mute(other, ["mic"], "audio")
            await self._broadcast_roster()
            return
        victims = [s for s in self.local_sessions() if s.person_id == target or s.id == target]
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
        for ticket in self.admission.drop_room(self):  # joins still waiting to enter (admission.py)
            try:
                await ticket.send({"type": "ended", "by": by, "message": gettext_noop("会议已结束")})
            except Exception:
                pass
        await self.close()
