"""Admission control: how many joins one event loop (a worker, or the embedded daphne) works on at
once, and the queue of the others ("正在进入…").

A join costs the loop far more than a viewer already receiving: a certificate and an SDP offer,
ICE checks, a DTLS handshake, SRTP keys, a roster entry. A training starts and hundreds join within
seconds; done all at once, that work kept the loop so busy that the presenter's media and its ICE
consent checks waited seconds behind it (bench/bench_join_storm.py). So a join is *in flight* from
the moment it enters a room until its receiving (``sub``) connection is connected — or failed, or
:data:`HOLD` seconds passed, or the session left — and at most :data:`LIMIT` are in flight per loop
(``SFU_MAX_JOINING``, a ceiling: see the pacing below). The others wait in a first-come queue: they are told ``{"type": "joining",
"position": n, "message": "正在进入会议…"}`` at once and every :data:`NOTICE` seconds (less often
for a long queue), and enter as
places free up. Hosts and the presenter never wait (a presenter reconnecting after a network blip
must not queue behind the village viewers of its own training). When more than ``SFU_MAX_QUEUE``
are waiting, further joins are refused with ``{"type": "error", "code": "busy"}`` and the page
tries again later, backing off (frontend/static/meetings/room.js).

How many joins may be in flight is not a fixed count: the loop's own lag paces it (AIMD, as TCP
paces a sender). While joins are in flight or waiting, a probe measures how late a
:data:`PROBE` s timer fires; a lag over :data:`TARGET_LAG` halves the window (at most once every
:data:`COOLDOWN` s, never below :data:`FLOOR`), and each join that completes while the loop keeps
up and others are waiting widens it by one, up to the ceiling ``SFU_MAX_JOINING``. It starts at
:data:`START`. A machine with a core to spare thus admits up to the ceiling; a loaded one admits
a few at a time and keeps the presenter's media and consent answers on time. :meth:`observe` takes
each lag sample (tests inject theirs, with ``probe=False``).

One :class:`Admission` serves every room of a :class:`~meetings.sfu.worker.RoomHost` (all on one
loop); a :class:`~meetings.sfu.room.Room` made alone gets its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Optional

from .messages import gettext_noop

logger = logging.getLogger(__name__)

LIMIT = 32  # joins in flight per event loop at most: the window's ceiling (SFU_MAX_JOINING; 0: no limit)
START = 16  # the window at first (the fixed count before pacing)
FLOOR = 2  # the window at least (a queue always drains)
TARGET_LAG = 0.05  # seconds: a loop later than this is too busy for more joins at once
PROBE = 0.1  # seconds between lag samples, while joins are in flight or waiting
COOLDOWN = 0.5  # seconds between two halvings (one long stall is one signal, not several)
MAX_QUEUE = 3000  # joins waiting per event loop before further ones are refused (SFU_MAX_QUEUE)
# seconds a join may stay in flight: a client that never answers frees its place, and so does one
# whose handshake waits on retransmission timers (DTLS: 1, 2, 4 s...) rather than on this loop —
# measured under load, a few such joins at 10 s held the whole queue back (256 in 58 s, not ~20)
HOLD = 4.0
NOTICE = 2.0  # seconds between a waiting join's position updates, at least ...
NOTICE_RATE = 200  # ... and at most this many updates a second in all (a queue of 3,000: every 15 s)


def _setting(name: str, default: int) -> int:
    try:
        from django.conf import settings

        value = getattr(settings, name, None)
    except Exception:  # (the bench runs rooms without Django settings)
        value = None
    if value is None:
        value = os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


class Ticket:
    """A join waiting for its turn."""

    __slots__ = ("key", "room", "person_id", "send", "enter", "position")

    def __init__(self, key: str, room: Any, person_id: int, send: Callable[[dict], Awaitable[None]],
                 enter: Callable[[], Awaitable[Any]]) -> None:
        self.key = key
        self.room = room
        self.person_id = person_id
        self.send = send
        self.enter = enter
        self.position = 0


class Admission:
    """Joins in flight on one event loop, and the queue of those waiting (see the module doc)."""

    def __init__(self, limit: Optional[int] = None, max_queue: Optional[int] = None,
                 hold: float = HOLD, *, probe: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = _setting("SFU_MAX_JOINING", LIMIT) if limit is None else limit
        self.window = float(min(START, self.limit))  # joins allowed in flight now (see the module doc)
        self.lag = 0.0  # the loop's last measured lag, seconds
        self.probe = probe
        self.clock = clock
        self._cut_at = -COOLDOWN  # when the window was last halved (clock)
        self._prober: Optional[asyncio.Task] = None
        self.max_queue = _setting("SFU_MAX_QUEUE", MAX_QUEUE) if max_queue is None else max_queue
        self.hold = hold
        self.in_flight: dict[str, asyncio.TimerHandle] = {}  # session id -> its HOLD timer
        self.queue: "OrderedDict[str, Ticket]" = OrderedDict()  # session id -> ticket, oldest first
        self._notifier: Optional[asyncio.Task] = None
        self.counts = {"admitted": 0, "queued": 0, "refused": 0, "most_waiting": 0, "halved": 0,
                       "least_window": int(self.window)}

    # ------------------------------------------------------------------ asking
    def allowed(self) -> int:
        """How many joins may be in flight now (0: no limit)."""
        return int(self.window) if self.limit else 0

    def has_room(self) -> bool:
        return not self.limit or (len(self.in_flight) < self.allowed() and not self.queue)

    def waiting(self, room: Any) -> bool:
        """Whether joins of ``room`` are waiting (the room is not empty while they do)."""
        return any(t.room is room for t in self.queue.values())

    def stats(self) -> dict:
        return {"limit": self.limit, "window": self.allowed(), "lag": round(self.lag, 3), "in_flight": len(self.in_flight), "waiting": len(self.queue),
                **self.counts}

    # ------------------------------------------------------------------ joining
    async def request(self, key: str, room: Any, person_id: int, send: Callable[[dict], Awaitable[None]],
                      enter: Callable[[], Awaitable[Any]], *, priority: bool = False) -> Any:
        """Enter now (``await enter()``, its result returned) if a place is free or ``priority``;
        else queue the join (None is returned; ``enter`` runs when its turn comes) or, with the
        queue full, refuse it with a "busy" error."""
        self.forget(key)  # the same session asking again (a reconnect) keeps one place
        for old in [t for t in self.queue.values() if t.room is room and t.person_id == person_id]:
            # the same person from a second tab, or reconnecting while still queued: one place
            del self.queue[old.key]
            await _safe(old.send, {"type": "replaced", "message": gettext_noop("您已在其他窗口或设备加入本会议")})
        self._start_probe()
        if priority or self.has_room():
            self.counts["admitted"] += 1
            self._start(key)
            return await enter()
        if self.max_queue and len(self.queue) >= self.max_queue:
            self.counts["refused"] += 1
            await _safe(send, {"type": "error", "code": "busy", "retry": True,
                               "message": gettext_noop("进入会议的人数过多，稍后将自动重试")})
            return None
        ticket = Ticket(key, room, person_id, send, enter)
        self.queue[key] = ticket
        self.counts["queued"] += 1
        self.counts["most_waiting"] = max(self.counts["most_waiting"], len(self.queue))
        ticket.position = len(self.queue)
        await _safe(send, _notice(ticket.position))
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.ensure_future(self._notify())
        return None

    def connecting(self, key: str, pc: Any) -> None:
        """The entered session ``key`` is in flight until ``pc`` (its receiving connection, or
        None: nothing to receive yet) is connected, failed or closed."""
        if key not in self.in_flight:
            return
        if pc is None or pc.connectionState in ("connected", "failed", "closed"):
            self.done(key)
            return

        def changed() -> None:
            if pc.connectionState in ("connected", "failed", "closed"):
                self.done(key)

        pc.on("connectionstatechange", changed)

    def done(self, key: str) -> None:
        """The join ``key`` is no longer in flight: the next waiting one enters."""
        timer = self.in_flight.pop(key, None)
        if timer is None:
            return
        timer.cancel()
        if self.limit and self.queue and self.lag <= TARGET_LAG:
            self.window = min(float(self.limit), self.window + 1)  # additive increase
        self._admit_next()

    def observe(self, lag: float) -> None:
        """A sample of the loop's lag (seconds): over TARGET_LAG, the window halves."""
        self.lag = lag
        if not self.limit or lag <= TARGET_LAG:
            return
        now = self.clock()
        if now - self._cut_at < COOLDOWN:
            return
        self._cut_at = now
        floor = float(min(FLOOR, self.limit))
        if self.window > floor:
            self.window = max(floor, self.window / 2)  # multiplicative decrease
            self.counts["halved"] += 1
            self.counts["least_window"] = min(self.counts["least_window"], int(self.window))

    def forget(self, key: str) -> None:
        """The session ``key`` left: out of the queue, and its place (if in flight) is free."""
        self.queue.pop(key, None)
        self.done(key)

    def drop_room(self, room: Any) -> list:
        """The tickets of a room that ended (removed from the queue; the caller tells them)."""
        gone = [t for t in self.queue.values() if t.room is room]
        for t in gone:
            del self.queue[t.key]
        return gone

    # ------------------------------------------------------------------ inside
    def _start(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        old = self.in_flight.pop(key, None)
        if old is not None:
            old.cancel()
        self.in_flight[key] = loop.call_later(self.hold, self.done, key)

    def _admit_next(self) -> None:
        while self.queue and (not self.limit or len(self.in_flight) < self.allowed()):
            _key, ticket = self.queue.popitem(last=False)
            self.counts["admitted"] += 1
            self._start(ticket.key)
            asyncio.ensure_future(self._enter(ticket))

    async def _enter(self, ticket: Ticket) -> None:
        try:
            await ticket.enter()
        except Exception:
            logger.exception("a queued join failed")
            self.done(ticket.key)

    def _start_probe(self) -> None:
        if self.probe and self.limit and (self._prober is None or self._prober.done()):
            self._prober = asyncio.ensure_future(self._measure())

    async def _measure(self) -> None:
        """While joins are in flight or waiting: every PROBE s, how late the loop woke up."""
        loop = asyncio.get_running_loop()
        try:
            while self.in_flight or self.queue:
                asked = loop.time()
                await asyncio.sleep(PROBE)
                self.observe(max(0.0, loop.time() - asked - PROBE))
        except asyncio.CancelledError:
            pass

    async def _notify(self) -> None:
        """Every NOTICE seconds (longer for a long queue: NOTICE_RATE), tell each waiting join its
        new place (only when it moved)."""
        try:
            while self.queue:
                await asyncio.sleep(max(NOTICE, len(self.queue) / NOTICE_RATE))
                for position, ticket in enumerate(list(self.queue.values()), 1):
                    if position != ticket.position:
                        ticket.position = position
                        await _safe(ticket.send, _notice(position))
        except asyncio.CancelledError:
            pass


def _notice(position: int) -> dict:
    """The "joining" frame: the Chinese message with its msgid and params (the signalling
    consumer translates it for each person, as SignallingError.frame)."""
    msgid = gettext_noop("正在进入会议…（前面还有 %(ahead)s 人）")
    params = {"ahead": position - 1}
    return {"type": "joining", "position": position, "message": msgid % params,
            "msgid": msgid, "params": params}


async def _safe(send: Callable[[dict], Awaitable[None]], message: dict) -> None:
    try:
        await send(message)
    except Exception:
        logger.debug("admission notice failed", exc_info=True)
