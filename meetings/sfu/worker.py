"""Where rooms run: in the daphne process (embedded, the default) or in SFU worker processes.

``SFU_WORKERS=embedded`` (default): one :class:`RoomHost` per process; every meeting's
:class:`~meetings.sfu.room.Room` lives on the daphne event loop, and the signalling
consumer calls it directly.

``SFU_WORKERS=external``: run ``python manage.py sfu_worker`` (one per core, on one or
several machines sharing the Redis channel layer). Placement goes through the channel
layer:

1. a consumer looks up the meeting's owner in the cache (``sfu:room:<id>`` → worker
   channel name); if there is none it sends ``{"type": "sfu.place", "meeting", "reply"}``
   to the shared channel :data:`PLACEMENT_CHANNEL`; whichever idle worker takes it claims
   the room with an atomic ``cache.add`` (a second worker that races loses and answers
   with the winner) and replies ``{"type": "sfu.placed", "worker": <its channel>}``;
2. the consumer then sends ``sfu.join`` / ``sfu.signal`` / ``sfu.leave`` / ``sfu.command``
   to that worker channel; the worker answers each session through the consumer's own
   channel with ``{"type": "sfu.message", "message": {...}}``.

Workers refresh their claims every :data:`HEARTBEAT` seconds (TTL :data:`CLAIM_TTL`) and report
that they live every :data:`WORKER_HEARTBEAT` second (cascade.Registry). When a worker stops
reporting, the consumers of its sessions drop its claims and close their sockets with 4503: the
participants reconnect and the room is placed again on a live worker within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Awaitable, Callable, Optional

from .admission import Admission
from .messages import SignallingError
from .room import Room

logger = logging.getLogger(__name__)

PLACEMENT_CHANNEL = "sfu.placement"
CLAIM_TTL = 30
HEARTBEAT = 10


class _ClaimKey:
    """Cache key of a room's claim: sfu:<channel layer prefix>:room:<meeting id>."""

    def format(self, meeting_id: Any) -> str:
        from django.conf import settings

        prefix = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("prefix", "")
        return f"sfu:{prefix}:room:{meeting_id}"


CLAIM_KEY = _ClaimKey()
WORKER_HEARTBEAT = 1.0  # seconds between a worker's load reports (viewer placement)


def placement() -> str:
    """"room" (a room on one worker) or "viewer" (each viewer on the least-loaded worker; a
    room's workers are joined by pipes: cascade.py)."""
    from django.conf import settings

    return getattr(settings, "SFU_PLACEMENT", "room")


def registry() -> Any:
    from django.conf import settings

    from .cascade import Registry

    return Registry(settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("prefix", ""))

SendFn = Callable[[dict], Awaitable[None]]


def ice_servers() -> list:
    """STUN servers for the SFU's own connections (meetings/sfu/turn.py: no TURN for itself)."""
    from .turn import ice_servers as servers

    return servers(None)


class RoomHost:
    """The rooms of one process, all on one event loop."""

    def __init__(self, ice: Optional[list] = None) -> None:
        self.rooms: dict[Any, Room] = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.ice = ice
        self.on_room_closed: Optional[Callable[[Any], None]] = None
        self.on_room_created: Optional[Callable[[Room], Any]] = None  # e.g. joins the cascade
        self.name: Optional[str] = None  # a worker's channel name
        self.admission = Admission()  # joins in flight on this loop, for all its rooms

    def room(self, meeting_id: Any, create: bool = True) -> Optional[Room]:
        self.loop = asyncio.get_running_loop()
        room = self.rooms.get(meeting_id)
        if room is not None and room.ended:
            self.rooms.pop(meeting_id, None)
            room = None
        if room is None and create:
            room = Room(meeting_id, ice_servers=self.ice, on_empty=self._empty,
                        admission=self.admission)
            room.server = self.name
            self.rooms[meeting_id] = room
            if self.on_room_created is not None:
                self.on_room_created(room)
        return room

    def _empty(self, room: Room) -> None:
        if self.rooms.get(room.id) is room:
            asyncio.ensure_future(self._close(room))

    async def _close(self, room: Room) -> None:
        await asyncio.sleep(0)
        if room.sessions or not room.idle() or self.rooms.get(room.id) is not room:
            return
        self.rooms.pop(room.id, None)
        await room.close()
        if self.on_room_closed is not None:
            self.on_room_closed(room.id)

    async def join(self, meeting_id: Any, session_id: str, person_id: int, name: str,
                   is_host: bool, mode: str, send: SendFn, presenter: Optional[int] = None) -> None:
        room = self.room(meeting_id)
        try:
            await room.join(person_id, name, send, is_host=is_host, mode=mode,
                            session_id=session_id, presenter=presenter)
        except SignallingError as exc:
            await send(exc.frame())

    async def signal(self, meeting_id: Any, session_id: str, message: Any) -> None:
        room = self.room(meeting_id, create=False)
        if room is not None:
            await room.handle(session_id, message)

    async def leave(self, meeting_id: Any, session_id: str) -> None:
        room = self.room(meeting_id, create=False)
        if room is not None:
            await room.leave(session_id)

    async def command(self, meeting_id: Any, action: str, target: Any = None,
                      path: Optional[str] = None, person_id: Optional[int] = None) -> dict:
        """Host commands and recording from outside the room's own signalling."""
        room = self.room(meeting_id, create=False)
        if room is None:
            return {"ok": False, "reason": "no_room"}
        if action == "record_start":
            await room.start_recording(path, person_id=person_id)
            return {"ok": True}
        if action == "record_stop":
            recorder = room.recorder
            started = getattr(recorder, "started_at", None)
            out = await room.stop_recording()
            if out is None:
                return {"ok": False, "reason": "not_recording"}
            await _save_recording(meeting_id, out, recorder)
            return {"ok": True, "path": out, "started": started}
        if action == "end":
            await room.end()
            self.rooms.pop(meeting_id, None)
            return {"ok": True}
        if action in ("mute", "mute_all", "stop_video", "remove", "present"):
            await room.host_command(_Nobody(), action, target)
            return {"ok": True}
        return {"ok": False, "reason": "unknown"}


class _Nobody:
    """A stand-in actor for commands that arrive from the HTTP API (not a room session)."""

    def __init__(self) -> None:
        self.id = None
        self.person_id = None


async def _save_recording(meeting_id: Any, path: str, recorder: Any) -> None:
    from channels.db import database_sync_to_async

    try:
        from meetings.actions import do_recording_saved
    except ImportError:  # pragma: no cover - the meetings app is always there in the project
        return
    try:
        await database_sync_to_async(do_recording_saved)(
            meeting_id, path, duration_seconds=getattr(recorder, "duration", 0.0),
            started_at=getattr(recorder, "started_at_dt", None),
            person=getattr(recorder, "person_id", None))
    except Exception:
        logger.exception("could not list recording %s", path)


# ----------------------------------------------------------------------- embedded
_embedded: Optional[RoomHost] = None


def embedded_host() -> RoomHost:
    global _embedded
    if _embedded is None:
        _embedded = RoomHost(ice=ice_servers())
    return _embedded


def mode() -> str:
    from django.conf import settings

    return getattr(settings, "SFU_WORKERS", os.environ.get("SFU_WORKERS", "embedded"))


async def room_command(meeting_id: Any, action: str, target: Any = None,
                       path: Optional[str] = None, person_id: Optional[int] = None) -> dict:
    """Send a host command (mute, mute_all, stop_video, remove, present, end, record_start/stop)
    to a meeting's room, wherever it runs. Async; from sync code use async_to_sync."""
    if mode() == "external":
        return await ChannelBackend().command(meeting_id, action, target, path, person_id)
    host = embedded_host()
    if host.loop is not None and host.loop.is_closed():
        # the loop its rooms lived on is gone (a test's loop; a server's lives as long as
        # the process): so are those rooms
        host.loop = None
        host.rooms.clear()
    if host.loop is not None and host.loop is not _running_loop():
        fut = asyncio.run_coroutine_threadsafe(
            host.command(meeting_id, action, target, path, person_id), host.loop)
        return await asyncio.wrap_future(fut)
    return await host.command(meeting_id, action, target, path, person_id)


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# ----------------------------------------------------------------------- external
_live_workers: dict = {"at": float("-inf"), "workers": {}}  # the registry's live workers, read by alive()


class ChannelBackend:
    """The consumer's side of external workers: talk to the owner of a room via the layer."""

    def __init__(self, layer: Any = None) -> None:
        from channels.layers import get_channel_layer

        self.layer = layer or get_channel_layer()

    async def owner(self, meeting_id: Any, timeout: float = 5.0) -> str:
        """The worker channel hosting the meeting's room, placing the room if needed.

        The answer comes on a one-off channel read here directly (a consumer cannot be
        dispatched a message while it is itself waiting inside a handler)."""
        from django.core.cache import cache

        worker = await cache.aget(CLAIM_KEY.format(meeting_id))
        if worker:
            return worker
        reply = await self.layer.new_channel()  # shares the process-local queue: demultiplexed
        await self.layer.send(PLACEMENT_CHANNEL, {"type": "sfu.place", "meeting": meeting_id,
                                                  "reply": reply})
        placed = await asyncio.wait_for(self.layer.receive(reply), timeout)
        return placed["worker"]

    async def place_viewer(self, meeting_id: Any, timeout: float = 5.0) -> str:
        """The least-loaded live worker (SFU_PLACEMENT=viewer): the viewer joins the room there,
        and that worker pipes the room's media from and to the room's other workers."""
        import random

        deadline = time.monotonic() + timeout
        reg = registry()
        while True:
            workers = await reg.workers()
            if workers:
                least = min(workers.values())
                return random.choice([w for w, load in workers.items() if load == least])
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError
            await asyncio.sleep(0.5)

    async def alive(self, worker: str) -> bool:
        """Whether ``worker`` reported within the registry's STALE seconds. Every joined session of
        this process asks once a second: one read of the registry per process serves them all for
        half a second."""
        now = time.monotonic()
        if now - _live_workers["at"] > 0.5:
            _live_workers["workers"] = await registry().workers()
            _live_workers["at"] = time.monotonic()
        return worker in _live_workers["workers"]

    async def forget(self, meeting_id: Any, worker: str) -> None:
        """Drop a claim whose worker does not answer (it died), so the room is placed again."""
        from django.core.cache import cache

        key = CLAIM_KEY.format(meeting_id)
        if await cache.aget(key) == worker:
            await cache.adelete(key)

    async def command(self, meeting_id: Any, action: str, target: Any = None,
                      path: Optional[str] = None, person_id: Optional[int] = None) -> dict:
        from django.core.cache import cache

        if placement() == "viewer":  # any worker of the room: it passes the command on
            workers = await registry().room_workers(meeting_id)
            worker = workers[0] if workers else None
        else:
            worker = await cache.aget(CLAIM_KEY.format(meeting_id))
        if not worker:
            return {"ok": False, "reason": "no_room"}
        await self.layer.send(worker, {"type": "sfu.command", "meeting": meeting_id,
                                       "action": action, "target": target, "path": path,
                                       "person": person_id})
        return {"ok": True, "sent": True}


class Worker:
    """One SFU worker process: hosts the rooms placed on it (``manage.py sfu_worker``)."""

    def __init__(self, max_rooms: int = 200) -> None:
        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.host = RoomHost(ice=ice_servers())
        self.host.on_room_closed = self._release
        self.max_rooms = max_rooms
        self.channel: Optional[str] = None
        self.stopping = asyncio.Event()
        self.senders: dict = {}
        self.pipes: Any = None  # cascade.PipeServer with SFU_PLACEMENT=viewer

    def _release(self, meeting_id: Any) -> None:
        asyncio.ensure_future(self._unclaim(meeting_id))

    async def _unclaim(self, meeting_id: Any) -> None:
        from django.core.cache import cache

        key = CLAIM_KEY.format(meeting_id)
        if await cache.aget(key) == self.channel:
            await cache.adelete(key)

    async def run(self, ready: Optional[Callable[[str], None]] = None) -> None:
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
        self.channel = await self.layer.new_channel("sfu.worker.")
        self.host.name = self.channel
        tasks = [asyncio.ensure_future(self._own_loop())]
        # Every worker reports that it lives (and its load) each second: the signalling consumers
        # of its sessions watch for that, and move their sessions when it stops (a killed worker).
        self.registry = registry()
        if placement() == "viewer":
            from django.conf import settings

            from .cascade import PipeServer

            self.pipes = PipeServer(self.host, self.channel, bind=settings.SFU_PIPE_BIND,
                                    advertise=settings.SFU_PIPE_ADVERTISE or None,
                                    registry=self.registry)
            await self.pipes.start()
            self.host.on_room_created = self.pipes.attach
        else:
            tasks += [asyncio.ensure_future(self._placement_loop()),
                      asyncio.ensure_future(self._heartbeat())]
        await self.registry.heartbeat(self.channel, 0)
        tasks.append(asyncio.ensure_future(self._load_heartbeat()))
        if ready is not None:
            ready(self.channel)
        try:
            await self.stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            for room in list(self.host.rooms.values()):
                await room.close()
                await self._unclaim(room.id)
            if self.pipes is not None:
                self.pipes.close()
            await self.registry.forget_worker(self.channel)

    async def _load_heartbeat(self) -> None:
        """Report this worker's load (its own sessions) every second; with SFU_PLACEMENT=viewer,
        also keep its rooms listed and piped to the room's other workers."""
        while True:
            try:
                load = sum(len(room.local_sessions()) for room in self.host.rooms.values())
                await self.registry.heartbeat(self.channel, load)
                for room in list(self.host.rooms.values()) if self.pipes is not None else ():
                    await self.pipes.refresh(room)
            except Exception:
                logger.exception("worker heartbeat failed")
            await asyncio.sleep(WORKER_HEARTBEAT)

    async def _placement_loop(self) -> None:
        while True:
            if len(self.host.rooms) >= self.max_rooms:
                await asyncio.sleep(0.5)  # full: let other workers take placements
                continue
            message = await self.layer.receive(PLACEMENT_CHANNEL)
            try:
                await self._place(message)
            except Exception:
                logger.exception("placement failed")

    async def _place(self, message: dict) -> None:
        from django.core.cache import cache

        meeting_id = message["meeting"]
        key = CLAIM_KEY.format(meeting_id)
        if await cache.aadd(key, self.channel, CLAIM_TTL):
            owner = self.channel
            self.host.room(meeting_id)
        else:
            owner = await cache.aget(key) or self.channel
            if owner == self.channel:
                self.host.room(meeting_id)
        await self.layer.send(message["reply"], {"type": "sfu.placed", "meeting": meeting_id,
                                                 "worker": owner})

    async def _heartbeat(self) -> None:
        from django.core.cache import cache

        while True:
            await asyncio.sleep(HEARTBEAT)
            for meeting_id in list(self.host.rooms):
                await cache.aset(CLAIM_KEY.format(meeting_id), self.channel, CLAIM_TTL)

    async def _own_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            try:
                await self._dispatch(message)
            except Exception:
                logger.exception("worker message failed: %s", message.get("type"))

    def _sender(self, reply: str) -> SendFn:
        async def send(payload: dict) -> None:
            await self.layer.send(reply, {"type": "sfu.message", "message": payload})
        return send

    async def _dispatch(self, message: dict) -> None:
        kind = message.get("type")
        meeting_id = message.get("meeting")
        if kind == "sfu.join":
            await self.host.join(meeting_id, message["session"], message["person"],
                                 message.get("name", ""), bool(message.get("host")),
                                 message.get("mode", "video"), self._sender(message["reply"]),
                                 presenter=message.get("presenter"))
        elif kind == "sfu.signal":
            await self.host.signal(meeting_id, message["session"], message.get("message"))
        elif kind == "sfu.leave":
            await self.host.leave(meeting_id, message["session"])
        elif kind == "sfu.command":
            result = await self.host.command(meeting_id, message["action"], message.get("target"),
                                             message.get("path"), message.get("person"))
            if message.get("reply"):
                await self.layer.send(message["reply"], {"type": "sfu.result", "result": result})
        elif kind == "sfu.stop":
            self.stopping.set()


def run_worker(max_rooms: int = 200) -> None:  # pragma: no cover - exercised by the command
    started = time.monotonic()

    async def main() -> None:
        worker = Worker(max_rooms=max_rooms)

        def ready(channel: str) -> None:
            print(f"sfu_worker {os.getpid()} ready on {channel} "
                  f"({time.monotonic() - started:.1f}s)", flush=True)

        await worker.run(ready)

    asyncio.run(main())
