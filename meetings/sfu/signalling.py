"""Signalling: the offer/answer exchanges of a session's two connections, and ICE candidates.

Every participant session has up to two RTCPeerConnections, each with a single offerer
so that renegotiation never collides (no glare):

* ``pub`` — the client offers what it publishes (camera, optional small second camera
  track, microphone, screen); the server answers. Adding/removing a screen share is a
  new client offer on the same connection (renegotiation client -> server).
* ``sub`` — the server offers what the client should receive; the client answers.
  A new publisher or a new screen share anywhere in the room re-offers to every
  viewer (renegotiation server -> client).

A mixin of :class:`meetings.sfu.room.Room` (it reads the room's sessions and calls its
subscription, presenting and roster methods).
"""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from . import certificate, forwarding, sdp
from .controls import PRESENTER_SOURCES
from .messages import SignallingError, gettext_noop
from .relay import Publication
from .session import Session


class Signalling:
    async def _on_offer(self, session: Session, message: dict) -> None:
        if message.get("pc") != "pub":
            raise SignallingError("out_of_order", gettext_noop("服务器只接受发布连接(pub)的 offer"))
        description = sdp.parse(message, "offer")
        tracks = message.get("tracks") or {}
        if not isinstance(tracks, dict):
            raise SignallingError("bad_message", gettext_noop("tracks 必须是对象"))
        pc = session.pub
        if pc is None:
            pc = session.pub = certificate.peer_connection(sdp.ice_configuration(self.ice_servers))
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
            counts[transceiver.kind] += 1
            source = sdp.source_of(transceiver.kind, transceiver.mid, tracks, counts[transceiver.kind])
            codec = sdp.keep_forwardable_codec(transceiver)
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
                self._hold(session, source, track, transceiver.receiver, codec)
                refused.append(source)
                continue
            if existing is not None and existing.receiver is transceiver.receiver:
                continue
            if existing is not None:
                await self._unpublish(existing, renegotiate=False)
            self._release_held(session, source)
            pub = Publication(session, source, track, transceiver.receiver, codec)
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
        await pc.setLocalDescription(RTCSessionDescription(sdp=sdp.without_abs_send_time(offer.sdp),
                                                          type="offer"))
        await self._safe_send(viewer, {"type": "offer", "pc": "sub",
                                       "sdp": pc.localDescription.sdp,
                                       "tracks": self._tracks(viewer)})

    async def _on_answer(self, session: Session, message: dict) -> None:
        if message.get("pc") != "sub":
            raise SignallingError("out_of_order", gettext_noop("服务器只接受订阅连接(sub)的 answer"))
        pc = session.sub
        if pc is None or not session.sub_offered or pc.signalingState != "have-local-offer":
            raise SignallingError("out_of_order", gettext_noop("没有等待应答的 offer"))
        description = sdp.parse(message, "answer")
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
