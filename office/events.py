"""send_event(): the ONE way anything reaches a browser.

Events are small dicts with "type" and "op" (and ids): hints for the page to refetch what it
shows. They are sent after the surrounding transaction commits, never before.
"""
import asyncio
import json
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from office.hub import BUS_GROUP

log = logging.getLogger(__name__)


def _publish(message):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True  # sync code on a thread that runs a loop (a sync test under Playwright)
    try:
        if in_loop:
            worker = threading.Thread(target=asyncio.run,
                                      args=(get_channel_layer().group_send(BUS_GROUP, message),))
            worker.start()
            worker.join(10)
        else:
            async_to_sync(get_channel_layer().group_send)(BUS_GROUP, message)
    except Exception:  # the database is the truth; a lost hint is refetched on reconnect
        log.exception("could not publish event %s", message.get("frame", "")[:200])


def send_event(event, *, people=(), units=()):
    if "type" not in event or "op" not in event:
        raise ValueError("an event needs 'type' and 'op'")
    message = {
        "type": "bus.event",
        "frame": json.dumps(event, ensure_ascii=False, default=str),
        "people": sorted({int(p) for p in people}),
        "units": sorted({int(u) for u in units}),
    }
    if not message["people"] and not message["units"]:
        return
    transaction.on_commit(lambda: _publish(message))
