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


class Hub:
    def __init__(self):
        self.by_key = defaultdict(set)  # "p:<person id>" / "u:<unit id>" → consumers
        self.listener = None
        self.loop = None
        self.channel_name = None

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

    async def ensure_listening(self):
        loop = asyncio.get_running_loop()
        if self.listener is not None and not self.listener.done() and self.loop is loop:
            return
        layer = get_channel_layer()
        self.loop = loop
        self.channel_name = await layer.new_channel("yw.hub.")
        await layer.group_add(BUS_GROUP, self.channel_name)
        self.listener = loop.create_task(self._listen(layer))

    async def _listen(self, layer):
        loop_time = asyncio.get_running_loop().time
        refreshed = loop_time()
        while True:
            try:
                message = await layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup: back off, rejoin, carry on
                log.exception("event bus receive failed")
                await asyncio.sleep(1)
                try:
                    await layer.group_add(BUS_GROUP, self.channel_name)
                except Exception:
                    pass
                continue
            if loop_time() - refreshed > 3600:  # keep the group membership from expiring
                await layer.group_add(BUS_GROUP, self.channel_name)
                refreshed = loop_time()
            await self.deliver(message)

    async def deliver(self, message):
        targets = set()
        for person_id in message.get("people", ()):
            targets |= self.by_key.get(f"p:{person_id}", set())
        for unit_id in message.get("units", ()):
            targets |= self.by_key.get(f"u:{unit_id}", set())
        if not targets:
            return
        frame = message["frame"]
        await asyncio.gather(*(c.push_frame(frame) for c in targets), return_exceptions=True)


hub = Hub()
