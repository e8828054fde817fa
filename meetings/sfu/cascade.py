"""One room across several SFU worker processes (on one or more hosts): the cascade.

The pattern of mediasoup's ``pipeToRouter`` and Jitsi's Octo: every worker serving a room keeps
its own :class:`~meetings.sfu.room.Room` with the sessions connected to it, and each pair of
those workers is joined by one TCP "pipe" per room (:class:`Link`). Over it go

* every publication's encoded frames, once per remote worker (never decoded): the origin's
  :class:`~meetings.sfu.relay.Publication` has the pipe as a sink; the remote worker feeds them
  into a :class:`PipedPublication`, which its viewers subscribe to like any other;
* key frame requests back to the origin (the remote side rate-limits them first, as for its own
  viewers; the origin merges them with its own);
* the state of each worker's own sessions — who, host, mode, hand, publications, muted or not —
  as a snapshot after every roster change; the other side reconciles its copies
  (:class:`~meetings.sfu.session.Session` with ``link`` set) and so ranks, shows and lists them
  like its own (last-N, small tracks, presenters, the roster);
* the loudness of each worker's microphones on every speaker tick (who speaks, last-N);
* host commands (present, mute, mute_all, stop_video, remove, end): applied on every worker to
  the sessions connected to it; a person joining twice on two workers: the older is replaced.

Chat and attendance do not pass through the SFU (Django actions and events), so they work
across workers as they do in one.

Who serves a room, and where their pipes listen, is kept in the shared cache (Redis):
``sfu:<prefix>:cascade:<meeting>`` → {worker channel: "host:port"}. Each worker re-adds itself
there on every heartbeat and dials the workers listed whose channel sorts after its own (so each
pair is dialled once). A worker that dies closes its pipes (the kernel does, even on SIGKILL):
the others drop its sessions and publications at once; its viewers' consumers see its heartbeat
stop and reconnect them to another worker (meetings/consumers.py).

Frames on a pipe are bounded: when a pipe's write buffer holds more than PIPE_BUFFER bytes (a
slow link between hosts), its video is dropped until the next keyframe and its audio dropped,
rather than delivered late (drop to live).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import logging
import struct
import time
from typing import Any, Optional

import av

from .messages import gettext_noop
from .relay import Publication
from .session import Session

logger = logging.getLogger(__name__)

PIPE_BUFFER = 1_000_000  # bytes queued on a pipe before its frames are dropped to live
PIPE_QUEUE = 120  # frames of one piped publication waiting for its relay
CONNECT_TIMEOUT = 3.0
CLOCK = {"video": 90000, "audio": 48000}

_HEADER = struct.Struct("!IB")  # body length, message type
_FRAME = struct.Struct("!IqBd")  # publication number, pts, flags (1 = keyframe), sent at (time.time)
T_CONTROL, T_FRAME = 1, 2


async def _no_send(message: dict) -> None:
    """What a session of another worker is "sent": nothing (its own worker talks to it)."""


class PipeTrack:
    """The frames of a publication of another worker, as the relay reads a remote track."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.queue: asyncio.Queue = asyncio.Queue(PIPE_QUEUE)
        self.readyState = "live"

    def feed(self, packet: av.Packet) -> None:
        try:
            self.queue.put_nowait(packet)
        except asyncio.QueueFull:  # the relay fell behind: drop (its viewers resync on a keyframe)
            pass

    async def recv(self) -> av.Packet:
        from aiortc.mediastreams import MediaStreamError

        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        self.readyState = "ended"
        self.feed(None)


class _PipeReceiver:
    """Stands in for an RTCRtpReceiver: nothing arrives by RTP, nothing to report on."""

    async def _handle_rtp_packet(self, packet: Any, arrival_time_ms: int) -> None:
        pass

    def getSynchronizationSources(self) -> list:
        return []


class PipedPublication(Publication):
    """A publication of another worker: fed by the pipe; its key frame requests go back up it."""

    def __init__(self, session: Session, source: str, kind: str, codec: str, link: "Link",
                 number: int) -> None:
        self.link = link
        self.number = number
        self.pipe_track = PipeTrack(kind)
        super().__init__(session, source, self.pipe_track, _PipeReceiver(), codec)

    def _ask_publisher(self) -> None:
        self.link.send_control({"op": "keyframe", "pub": self.number})

    def stop(self) -> None:
        self.pipe_track.stop()
        super().stop()


class Link:
    """The pipe between this worker and one other worker, for one room."""

    def __init__(self, cascade: "Cascade", peer: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.cascade = cascade
        self.peer = peer  # the other worker's channel name
        self.reader = reader
        self.writer = writer
        self.sessions: dict[str, Session] = {}  # its sessions, as copies in our room
        self.pubs: dict[int, PipedPublication] = {}  # its publication number -> our copy
        self.skipping: set[int] = set()  # our publications whose video waits for a keyframe
        self.hop_latency: list = []  # seconds from the frame sent there to here (last 256)
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self.closed = False
        self.task = asyncio.ensure_future(self._read())

    # ----------------------------------------------------------------- sending
    def _write(self, kind: int, body: bytes) -> None:
        if self.closed:
            return
        self.writer.write(_HEADER.pack(len(body), kind) + body)

    def send_control(self, message: dict) -> None:
        self._write(T_CONTROL, json.dumps(message, separators=(",", ":")).encode())

    def send_frame(self, number: int, packet: av.Packet, kind: str) -> None:
        if self.closed:
            return
        key = bool(packet.is_keyframe)
        if self.writer.transport.get_write_buffer_size() > PIPE_BUFFER:
            self.dropped += 1
            if kind == "video":
                self.skipping.add(number)
            return
        if number in self.skipping:
            if not key:
                self.dropped += 1
                return
            self.skipping.discard(number)
        self.frames_out += 1
        self._write(T_FRAME, _FRAME.pack(number, packet.pts or 0, 1 if key else 0, time.time())
                    + bytes(packet))

    def replace(self, session_id: str) -> None:
        self.send_control({"op": "replace", "session": session_id})

    # --------------------------------------------------------------- receiving
    async def _read(self) -> None:
        try:
            while True:
                length, kind = _HEADER.unpack(await self.reader.readexactly(_HEADER.size))
                body = await self.reader.readexactly(length)
                if kind == T_FRAME:
                    self._on_frame(body)
                elif kind == T_CONTROL:
                    await self.cascade.on_control(self, json.loads(body))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            logger.exception("cascade pipe from %s failed", self.peer)
        await self.cascade.link_lost(self)

    def _on_frame(self, body: bytes) -> None:
        number, pts, flags, sent_at = _FRAME.unpack_from(body)
        pub = self.pubs.get(number)
        if pub is None:
            return
        self.frames_in += 1
        self.hop_latency.append(time.time() - sent_at)
        if len(self.hop_latency) > 256:
            del self.hop_latency[:128]
        packet = av.Packet(body[_FRAME.size:])
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, CLOCK[pub.kind])
        packet.is_keyframe = bool(flags & 1)
        pub.pipe_track.feed(packet)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.writer.close()
            except Exception:
                pass
            self.task.cancel()


class Cascade:
    """One room's part in a cascade: its links to the other workers serving the same room."""

    def __init__(self, room: Any, worker: Any) -> None:
        self.room = room
        self.worker = worker  # the PipeServer of this process: channel, address, registry
        self.links: dict[str, Link] = {}
        self.numbers: dict[int, Publication] = {}  # our publication number -> publication
        self._numbered: dict[int, int] = {}  # id(publication) -> number
        self._next = 1
        self._dialling: set[str] = set()
        self._closed = False

    # ------------------------------------------------------------ from the room
    def local_changed(self) -> None:
        """After a roster change: send every pipe a snapshot of our own sessions."""
        if self.links:
            snapshot = self.snapshot()
            for link in list(self.links.values()):
                link.send_control(snapshot)

    def snapshot(self) -> dict:
        sessions = []
        for session in self.room.local_sessions():
            pubs = []
            for source, pub in session.publications.items():
                pubs.append({"n": self._number(pub), "source": source, "kind": pub.kind,
                             "codec": pub.codec, "paused": pub.paused})
            sessions.append({**session.describe(), "pubs": pubs})
        return {"op": "state", "sessions": sessions, "presenter": self.room.presenter}

    def _number(self, pub: Publication) -> int:
        number = self._numbered.get(id(pub))
        if number is None or self.numbers.get(number) is not pub:
            number = self._next
            self._next += 1
            self._numbered[id(pub)] = number
            self.numbers[number] = pub
            kind = pub.kind
            pub.sinks.append(lambda packet, n=number, k=kind: self._pipe(n, packet, k))
        return number

    def _pipe(self, number: int, packet: av.Packet, kind: str) -> None:
        for link in self.links.values():
            link.send_frame(number, packet, kind)

    def send_levels(self) -> None:
        if not self.links:
            return
        levels = {}
        for session in self.room.local_sessions():
            pub = session.publications.get("mic")
            if pub is not None and id(pub) in self._numbered:
                levels[self._numbered[id(pub)]] = round(pub.level, 1)
        if levels:
            for link in list(self.links.values()):
                link.send_control({"op": "levels", "levels": levels})

    def command(self, action: str, target: Any, actor: Optional[int]) -> None:
        for link in list(self.links.values()):
            link.send_control({"op": "command", "action": action, "target": target, "actor": actor})

    # ---------------------------------------------------------- from the pipes
    async def on_control(self, link: Link, message: dict) -> None:
        op = message.get("op")
        room = self.room
        if op == "state":
            await self._reconcile(link, message)
        elif op == "levels":
            for number, level in message.get("levels", {}).items():
                pub = link.pubs.get(int(number))
                if pub is not None:
                    pub.level = float(level)
        elif op == "keyframe":
            pub = self.numbers.get(int(message.get("pub", 0)))
            if pub is not None:
                pub.request_keyframe(subscribe=True)
        elif op == "command":
            actor = _Actor(message.get("actor"))
            try:
                await room.host_command(actor, message.get("action"), message.get("target"),
                                        from_cascade=True)
            except Exception as exc:  # e.g. the target is not connected here: nothing to do
                logger.debug("cascaded command %s: %s", message.get("action"), exc)
        elif op == "replace":
            session = room.sessions.get(message.get("session"))
            if session is not None and session.link is None:
                await room._safe_send(session, {"type": "replaced",
                                                "message": gettext_noop("您已在其他窗口或设备加入本会议")})
                await room.leave(session.id)

    async def _reconcile(self, link: Link, state: dict) -> None:
        room = self.room
        changed = False
        if state.get("presenter") != room.presenter and state.get("presenter") is not None \
                and not room.presenter_known:
            room.presenter, room.presenter_known = state["presenter"], True
        seen = set()
        for entry in state.get("sessions", []):
            sid = entry["session"]
            seen.add(sid)
            session = link.sessions.get(sid)
            if session is None:
                if sid in room.sessions:
                    continue  # (a session id of ours: never shadow it)
                session = Session(id=sid, person_id=entry["person"], name=entry["name"],
                                  send=_no_send, is_host=entry["host"], mode=entry["mode"],
                                  hand=entry["hand"], link=link)
                link.sessions[sid] = session
                room.sessions[sid] = session
                changed = True
            for attr in ("is_host", "mode", "hand"):
                value = entry["host"] if attr == "is_host" else entry[attr]
                if getattr(session, attr) != value:
                    setattr(session, attr, value)
                    changed = True
            wanted = {p["n"]: p for p in entry.get("pubs", [])}
            for source, pub in list(session.publications.items()):
                if pub.number not in wanted:
                    link.pubs.pop(pub.number, None)
                    await room._unpublish(pub, renegotiate=False)
                    changed = True
            for number, p in wanted.items():
                pub = link.pubs.get(number)
                if pub is None:
                    old = session.publications.get(p["source"])
                    if old is not None:
                        link.pubs.pop(old.number, None)
                        await room._unpublish(old, renegotiate=False)
                    pub = PipedPublication(session, p["source"], p["kind"], p["codec"], link, number)
                    link.pubs[number] = pub
                    session.publications[p["source"]] = pub
                    changed = True
                if pub.paused != p["paused"]:
                    pub.paused = p["paused"]
                    changed = True
        for sid in [s for s in link.sessions if s not in seen]:
            await self._drop_copy(link, link.sessions.pop(sid))
            changed = True
        if changed:
            if room.recorder is not None:
                room.recorder.on_change()
            await room._resync_all()
            await room._broadcast_roster()

    async def _drop_copy(self, link: Link, session: Session) -> None:
        for pub in list(session.publications.values()):
            link.pubs.pop(getattr(pub, "number", None), None)
        if self.room.sessions.get(session.id) is session:
            await self.room._drop(session)

    async def link_lost(self, link: Link) -> None:
        if self.links.get(link.peer) is link:
            del self.links[link.peer]
        link.close()
        if self._closed or self.room.ended:
            return
        for session in list(link.sessions.values()):
            await self._drop_copy(link, session)
        link.sessions.clear()
        await self.room._resync_all()
        await self.room._broadcast_roster()
        if not self.links and self.room.idle() and self.room.on_empty is not None:
            self.room.on_empty(self.room)  # opened by a pipe, never joined here

    # ----------------------------------------------------------------- linking
    def add_link(self, peer: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Link:
        old = self.links.get(peer)
        if old is not None:
            old.close()
        link = self.links[peer] = Link(self, peer, reader, writer)
        link.send_control(self.snapshot())
        return link

    async def dial(self, peer: str, address: str) -> None:
        """Open the pipe to ``peer`` for this room (unless one is open or being opened)."""
        if peer in self.links or peer in self._dialling or self._closed:
            return
        self._dialling.add(peer)
        try:
            host, port = address.rsplit(":", 1)
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)),
                                                    CONNECT_TIMEOUT)
            hello = {"op": "hello", "room": self.room.id, "worker": self.worker.channel}
            body = json.dumps(hello).encode()
            writer.write(_HEADER.pack(len(body), T_CONTROL) + body)
            if not self._closed:
                self.add_link(peer, reader, writer)
            else:
                writer.close()
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            logger.info("cascade: no pipe to %s at %s: %s", peer, address, exc)
        finally:
            self._dialling.discard(peer)

    def stats(self) -> dict:
        hops = sorted(x for link in self.links.values() for x in link.hop_latency)
        return {"links": len(self.links),
                "frames_in": sum(link.frames_in for link in self.links.values()),
                "frames_out": sum(link.frames_out for link in self.links.values()),
                "pipe_dropped": sum(link.dropped for link in self.links.values()),
                "hop_latency": hops[len(hops) // 2] if hops else None,
                "hop_latency_p95": hops[int(len(hops) * 0.95)] if hops else None}

    def close(self) -> None:
        self._closed = True
        for link in list(self.links.values()):
            link.close()
        self.links.clear()
        self.worker.room_closed(self.room.id)


class _Actor:
    """Who issued a command that arrived from another worker (not a session of this one)."""

    def __init__(self, person_id: Optional[int]) -> None:
        self.id = None
        self.person_id = person_id


class PipeServer:
    """The pipes of one worker process: listens for other workers' pipes, keeps the registry
    of which workers serve which room (in the shared cache) and dials the ones it should."""

    def __init__(self, host: Any, channel: str, bind: str = "127.0.0.1",
                 advertise: Optional[str] = None, registry: Any = None) -> None:
        self.host = host  # the RoomHost whose rooms we pipe
        self.channel = channel
        self.bind = bind
        self.advertise = advertise or bind
        self.registry = registry  # Registry (the shared cache), or None in tests that link by hand
        self.server: Optional[asyncio.base_events.Server] = None
        self.address = ""

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._accept, self.bind, 0)
        port = self.server.sockets[0].getsockname()[1]
        self.address = f"{self.advertise}:{port}"
        return self.address

    def attach(self, room: Any) -> Cascade:
        room.cascade = Cascade(room, self)
        if self.registry is not None:
            asyncio.ensure_future(self.refresh(room))
        return room.cascade

    async def refresh(self, room: Any) -> None:
        """List ourselves for the room and dial the workers listed after us."""
        if room.ended or room.cascade is None:
            return
        members = await self.registry.join_room(room.id, self.channel, self.address)
        for peer, address in members.items():
            if peer > self.channel and peer not in room.cascade.links:
                await room.cascade.dial(peer, address)

    def room_closed(self, room_id: Any) -> None:
        if self.registry is not None:
            asyncio.ensure_future(self.registry.leave_room(room_id, self.channel))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            length, kind = _HEADER.unpack(await asyncio.wait_for(reader.readexactly(_HEADER.size),
                                                                 CONNECT_TIMEOUT))
            hello = json.loads(await reader.readexactly(length))
            if kind != T_CONTROL or hello.get("op") != "hello":
                raise ValueError("no hello")
        except Exception:
            writer.close()
            return
        room = self.host.room(hello["room"])  # a pipe may open the room here (before a viewer)
        if room.cascade is None:
            self.attach(room)
        room.cascade.add_link(hello["worker"], reader, writer)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class Registry:
    """Workers and rooms in the shared cache (Redis in production): the workers' load for
    placing viewers, and which workers serve each room with their pipe addresses."""

    STALE = 3.0  # seconds without a heartbeat (every WORKER_HEARTBEAT = 1 s) before a worker counts as dead

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _workers_key(self) -> str:
        return f"sfu:{self.prefix}:workers"

    def _room_key(self, room_id: Any) -> str:
        return f"sfu:{self.prefix}:cascade:{room_id}"

    async def heartbeat(self, channel: str, load: int) -> None:
        from django.core.cache import cache

        now = time.time()
        workers = await cache.aget(self._workers_key()) or {}
        workers = {k: v for k, v in workers.items() if now - v["at"] < 60}
        workers[channel] = {"load": load, "at": now}
        await cache.aset(self._workers_key(), workers, 120)

    async def forget_worker(self, channel: str) -> None:
        from django.core.cache import cache

        workers = await cache.aget(self._workers_key()) or {}
        if workers.pop(channel, None) is not None:
            await cache.aset(self._workers_key(), workers, 120)

    async def workers(self) -> dict:
        """{channel: load} of the live workers."""
        from django.core.cache import cache

        now = time.time()
        workers = await cache.aget(self._workers_key()) or {}
        return {k: v["load"] for k, v in workers.items() if now - v["at"] < self.STALE}

    async def alive(self, channel: str) -> bool:
        return channel in await self.workers()

    async def join_room(self, room_id: Any, channel: str, address: str) -> dict:
        from django.core.cache import cache

        live = await self.workers()
        members = await cache.aget(self._room_key(room_id)) or {}
        members = {k: v for k, v in members.items() if k in live or k == channel}
        if members.get(channel) != address:
            members[channel] = address
        await cache.aset(self._room_key(room_id), members, 3600)
        return members

    async def leave_room(self, room_id: Any, channel: str) -> None:
        from django.core.cache import cache

        members = await cache.aget(self._room_key(room_id)) or {}
        if members.pop(channel, None) is not None:
            await cache.aset(self._room_key(room_id), members, 3600)

    async def room_workers(self, room_id: Any) -> list:
        from django.core.cache import cache

        live = await self.workers()
        return [k for k in (await cache.aget(self._room_key(room_id)) or {}) if k in live]
