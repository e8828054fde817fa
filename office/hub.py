"""Per-process fan-out of live events to the websockets connected to this process.

send_event() puts ONE message per event on the channel layer group "yw.bus"; every server
process has one listener in that group (started with its first websocket) that hands the event
to the consumers registered here for the addressed people and units. This replaces one channel
layer message per browser with one per process — the Channels group_send path costs
~2 ms per member (platform.md), which is seconds at 5,000 members.
"""
import asyncio
import logging
from collections import defaultdict

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

BUS_GROUP = "yw.bus"
CHUNK = 500  # sockets written between two turns of the event loop


class Hub:
    def __init__(self):
        self.by_key = defaultdict(set)  # "p:<person id>" / "u:<unit id>" → consumers
        self.listener = None
        self.loop = None
        self.channel_name = None
        self.start_lock = self.start_lock_loop = None
        # True while the channel layer (Redis) fails: sockets are closed (code 4503) so that pages
        # show the live link down, and refused until the bus answers again; on reconnecting a page
        # refetches what it shows (the events of the outage are lost, the database is not).
        self.bus_down = False

    def register(self, consumer, keys):
        for key in keys:
            self.by_key[key].add(consumer)

    def unregister(self, consumer, keys):
        for key in keys:
            members = self.by_key.get(key)
            if members is not None:
                members.discard(consumer)
                if not members:
                    del self.by_key[key]

    def _listening(self, loop):
        return self.listener is not None and not self.listener.done() and self.loop is loop

    async def ensure_listening(self):
        loop = asyncio.get_running_loop()
        if self._listening(loop):
            return
        if self.start_lock_loop is not loop:
            self.start_lock, self.start_lock_loop = asyncio.Lock(), loop
        # Sockets connect many at a time: without the lock every handshake that arrived while
        # group_add awaited Redis started a listener of its own (bench_events found three group
        # members for two processes, and a run in which no event arrived at all).
        async with self.start_lock:
            if self._listening(loop):
                return
            layer = get_channel_layer()
            # The layer's default prefix: channels_redis multiplexes every process-local channel
            # over ONE Redis list named after the prefix, read by whichever receiver holds its
            # lock; a channel with another prefix ("yw.hub.") was never read while other
            # consumers of the process (meetings) were waiting on theirs.
            channel_name = await layer.new_channel()
            await layer.group_add(BUS_GROUP, channel_name)
            self.loop, self.channel_name = loop, channel_name
            self.listener = loop.create_task(self._listen(layer, channel_name))

    async def _listen(self, layer, channel_name):
        keeper = asyncio.get_running_loop().create_task(self._keep_membership(layer, channel_name))
        try:
            while True:
                try:
                    message = await layer.receive(channel_name)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a Redis hiccup: back off, rejoin, carry on
                    if not self.bus_down:
                        log.exception("event bus receive failed: closing the live sockets until it is back")
                        self.bus_down = True
                        await self._close_all()
                    await asyncio.sleep(1)
                    try:
                        await layer.group_add(BUS_GROUP, channel_name)
                        self.bus_down = False
                        log.warning("event bus is back")
                    except Exception:
                        pass
                    continue
                try:
                    await self.deliver(message)
                except Exception:  # never let one bad message end the process's listener
                    log.exception("event delivery failed")
        finally:
            keeper.cancel()

    async def _close_all(self, code=4503):
        consumers = {c for members in self.by_key.values() for c in members}
        for consumer in consumers:
            try:
                await consumer.close(code=code)
            except Exception:  # noqa: BLE001 - a socket already gone
                pass

    async def _keep_membership(self, layer, channel_name):
        """Re-join the bus group on a timer, whether or not messages arrive.

        The membership lives in Redis: a FLUSHDB (Django's RedisCache.clear() on the same
        database), a Redis restart without persistence or the group expiry removes it without
        any error here, and a listener that only re-joined after receiving something would stay
        deaf for good. group_add of a present member only renews it (one ZADD).
        """
        from django.conf import settings

        interval = getattr(settings, "YW_EVENT_BUS_REFRESH", 30)
        while True:
            await asyncio.sleep(interval)
            try:
                await layer.group_add(BUS_GROUP, channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("could not renew the event bus membership", exc_info=True)

    async def deliver(self, message):
        targets = set()
        for person_id in message.get("people", ()):
            targets |= self.by_key.get(f"p:{person_id}", set())
        for unit_id in message.get("units", ()):
            targets |= self.by_key.get(f"u:{unit_id}", set())
        if not targets:
            return
        frame = message["frame"]
        # The frame is framed once for every socket; each socket gets one transport write, no
        # task and no coroutine chain. Every CHUNK sockets the loop gets a turn, so the writes
        # already made go out and other sockets' traffic is not held up by a big broadcast.
        wire = text_frame(frame)
        slow = []
        for n, consumer in enumerate(targets, 1):
            push_wire = getattr(consumer, "push_wire", None)
            try:
                if push_wire is None or not push_wire(wire):
                    slow.append(consumer)
            except Exception:  # the fast path broke on this socket: it still gets the event
                log.warning("push_wire failed; sending this event the slow way", exc_info=True)
                slow.append(consumer)
            if n % CHUNK == 0:
                await asyncio.sleep(0)
        for consumer in slow:
            try:
                await consumer.push_frame(frame)
            except Exception:
                log.warning("push_frame failed", exc_info=True)


def text_frame(text):
    """One unmasked, unfragmented websocket text frame (RFC 6455 5.2) carrying text."""
    payload = text.encode("utf-8")
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


hub = Hub()
