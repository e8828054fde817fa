"""The roster (who is in the room, with what) sent to everyone, coalesced, and the room's
statistics.

A mixin of :class:`meetings.sfu.room.Room`.
"""

from __future__ import annotations

import asyncio
from typing import Optional

ROSTER_COALESCE = 0.2  # seconds: roster changes within this go out as one "participants"


class Roster:
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
                if self.cascade is not None:
                    self.cascade.local_changed()  # the other workers reconcile their copy
        except asyncio.CancelledError:
            pass

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
