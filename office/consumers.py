"""The events websocket (/ws/): authenticate, register with the hub, relay frames."""
import functools
import json

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from twisted.internet import tcp

from office.hub import hub


@database_sync_to_async
def _keys_for(person_id):
    from office.models import Post

    unit_ids = Post.objects.active().filter(person_id=person_id).values_list("unit_id", flat=True)
    return [f"p:{person_id}"] + [f"u:{u}" for u in unit_ids]


_TCP_SERVER = tcp.Server


def _daphne_protocol(send):
    """daphne's WebSocketProtocol behind this consumer's ASGI send, or None.

    daphne passes send=partial(server.handle_reply, protocol); channels' session middleware wraps
    it in a bound method whose object keeps it as .real_send. Under any other server (or
    channels.testing) this finds nothing and frames go through the ASGI send as usual.
    """
    target = getattr(getattr(send, "__self__", None), "real_send", send)
    if isinstance(target, functools.partial) and len(target.args) == 1:
        protocol = target.args[0]
        if hasattr(protocol, "sendMessage") and hasattr(protocol, "STATE_OPEN") and hasattr(protocol, "transport"):
            return protocol
    return None


class DirectDispatchMixin:
    """Skips the thread hop Channels makes before every message.

    Channels 4.3 runs aclose_old_connections() in a thread before each handler; a consumer that
    reaches the database only through database_sync_to_async (which closes old connections
    itself) does not need it, and skipping it roughly halves latency (platform.md)."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class EventsConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    keys = ()
    protocol = None  # daphne's protocol, for push_wire()
    # No channel-layer channel per socket: frames come from the hub (one layer channel per
    # process), never from the layer. Without this every socket keeps a receive() pending on
    # the layer (channels_redis: two tasks and a lock waiter each; in-memory: a queue each),
    # which cost seconds per broadcast at 5,000 sockets (bench/bench_events.py).
    channel_layer_alias = "yw.no-layer-for-sockets"

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.keys = await _keys_for(user.id)
        await hub.ensure_listening()
        if hub.bus_down:  # no live events can flow now: the page keeps its "live link down" badge
            await self.close(code=4503)
            return
        hub.register(self, self.keys)
        await self.accept()
        self.protocol = _daphne_protocol(self.base_send)
        await self.send(text_data=json.dumps({"type": "hello", "op": "connected"}))

    async def disconnect(self, code):
        hub.unregister(self, self.keys)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "ping":
            await self.send(text_data="pong")

    async def push_frame(self, frame):
        await self.send(text_data=frame)

    def push_wire(self, wire):
        """Write a complete, pre-built websocket frame (office.hub.text_frame) to the socket.

        The fast path of a broadcast: one transport.write of bytes built once for all sockets,
        instead of the ASGI send chain (session wrapper, daphne's handle_reply coroutine,
        autobahn's per-message framing) per socket. Returns False when it cannot be used (not
        on daphne, not open yet or any more, compression negotiated): call push_frame() then.
        """
        protocol = self.protocol
        if protocol is None or protocol.state != protocol.STATE_OPEN:
            return False
        transport = protocol.transport
        if transport is None or getattr(protocol, "_perMessageCompress", None) is not None:
            return False
        if (type(transport) is _TCP_SERVER and not transport.TLS and transport.connected
                and not transport.disconnecting and not transport._writeDisconnected
                and not transport.dataBuffer and not transport._tempDataBuffer):
            # Plain TCP with nothing queued: send now. Twisted's write() would queue the bytes,
            # register the socket for writing and unregister it after the send (two epoll
            # calls and a reactor callback per socket: half a broadcast's CPU). Whatever the
            # kernel does not take now goes through write() behind it, so the order holds.
            try:
                sent = transport.socket.send(wire)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:  # the peer is gone; Twisted notices on its next read
                return True
            if sent < len(wire):
                transport.write(wire[sent:])
            return True
        transport.write(wire)
        return True
