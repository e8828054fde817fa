"""Subscriptions: point each viewer's slots (transceivers of its ``sub`` connection) at the
publications it should receive (:mod:`meetings.sfu.ranking` chooses them), adding
transceivers and re-offering when needed.

A mixin of :class:`meetings.sfu.room.Room`.
"""

from __future__ import annotations

from typing import Optional

from . import certificate, forwarding, relay, sdp
from . import ranking as ranking_module
from .ranking import Ranking
from .relay import SubscriberTrack
from .session import Session, Slot


class Subscriptions:
    def _ranking(self) -> Ranking:
        """Who a big room forwards, ranked once for every viewer of a resync."""
        return ranking_module.rank(self.sessions, self._last_spoke, self.may_present)

    async def _resync_all(self, exclude: Optional[str] = None) -> None:
        ranking = self._ranking()  # (a change during the pass brings a resync of its own)
        for session in list(self.sessions.values()):
            if session.id != exclude:
                await self._sync_subscriptions(session, ranking)

    async def _sync_subscriptions(self, viewer: Session, ranking: Optional[Ranking] = None) -> None:
        """Point the viewer's slots at what it should receive; re-offer if slots were added."""
        if viewer.closed or viewer.link is not None:
            return  # (a session of another worker receives from that worker)
        wanted = ranking_module.wanted(viewer, self.sessions, ranking or self._ranking(), self.may_present)
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
                    viewer.sub = certificate.peer_connection(sdp.ice_configuration(self.ice_servers))
                track = SubscriberTrack(pub.kind, relay.VIDEO_BUFFER if pub.kind == "video"
                                        else relay.AUDIO_BUFFER)
                transceiver = viewer.sub.addTransceiver(track, direction="sendonly")
                forwarding.use_forwarding_sender(transceiver.sender)
                transceiver.setCodecPreferences(sdp.codec_capabilities(pub.kind, pub.codec))
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
