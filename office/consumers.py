"""The events websocket (/ws/): authenticate, register with the hub, relay frames."""
import json

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from office.hub import hub


@database_sync_to_async
def _keys_for(person_id):
    from office.models import Post

    unit_ids = Post.objects.active().filter(person_id=person_id).values_list("unit_id", flat=True)
    return [f"p:{person_id}"] + [f"u:{u}" for u in unit_ids]


class EventsConsumer(AsyncWebsocketConsumer):
    keys = ()

    async def dispatch(self, message):
        # Channels runs aclose_old_connections() in a thread hop before every message;
        # this consumer reaches the database only through database_sync_to_async (which
        # closes old connections itself), so skip the hop (platform.md: halves latency).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.keys = await _keys_for(user.id)
        await hub.ensure_listening()
        hub.register(self, self.keys)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello", "op": "connected"}))

    async def disconnect(self, code):
        hub.unregister(self, self.keys)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "ping":
            await self.send(text_data="pong")

    async def push_frame(self, frame):
        await self.send(text_data=frame)
