"""send_event(): after commit only, to the addressed people and units, over /ws/."""
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from asgi import application
from office.events import send_event

ORIGIN = (b"origin", b"http://127.0.0.1")


def _cookie_headers(client):
    cookie = client.cookies["sessionid"].value
    return [ORIGIN, (b"cookie", f"sessionid={cookie}".encode())]


async def connect(client):
    comm = WebsocketCommunicator(application, "/ws/", headers=_cookie_headers(client))
    connected, _ = await comm.connect()
    assert connected
    hello = json.loads(await comm.receive_from())
    assert hello["type"] == "hello"
    return comm


@pytest.fixture
def logged_in(client_for):
    return sync_to_async(client_for)


@pytest.mark.django_db(transaction=True)
async def test_it_delivers_an_event_to_the_person_and_to_their_unit(seed_small, client_for):
    units, people = seed_small
    village = people["village_cadre"]
    client = await sync_to_async(client_for)(village)
    comm = await connect(client)

    @sync_to_async
    def send():
        with transaction.atomic():
            send_event({"type": "test", "op": "person", "n": 1}, people=[village.id])
        with transaction.atomic():
            send_event({"type": "test", "op": "unit", "n": 2}, units=[units["人民路社区"].id])
        with transaction.atomic():
            send_event({"type": "test", "op": "other", "n": 3}, units=[units["北街村"].id])

    await send()
    first = json.loads(await comm.receive_from(timeout=5))
    second = json.loads(await comm.receive_from(timeout=5))
    assert (first["op"], second["op"]) == ("person", "unit")
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_sends_nothing_when_the_transaction_rolls_back(seed_small, client_for):
    units, people = seed_small
    client = await sync_to_async(client_for)(people["town_secretary"])
    comm = await connect(client)

    @sync_to_async
    def send_and_fail():
        try:
            with transaction.atomic():
                send_event({"type": "test", "op": "ghost"}, people=[people["town_secretary"].id])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    await send_and_fail()
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_reaches_every_open_tab_of_the_person(seed_small, client_for):
    units, people = seed_small
    client = await sync_to_async(client_for)(people["county_leader"])
    tabs = [await connect(client), await connect(client)]
    await sync_to_async(lambda: send_event({"type": "test", "op": "tabs"}, people=[people["county_leader"].id]))()
    for tab in tabs:
        assert json.loads(await tab.receive_from(timeout=5))["op"] == "tabs"
        await tab.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_refuses_an_unauthenticated_websocket():
    comm = WebsocketCommunicator(application, "/ws/", headers=[ORIGIN])
    connected, code = await comm.connect()
    assert not connected
    assert code == 4401


@pytest.mark.django_db(transaction=True)
async def test_it_refuses_a_foreign_origin(seed_small, client_for):
    client = await sync_to_async(client_for)(seed_small[1]["county_leader"])
    cookie = client.cookies["sessionid"].value
    comm = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", b"http://evil.example"),
                                                                 (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await comm.connect()
    assert not connected


def test_it_refuses_an_event_without_type_and_op():
    with pytest.raises(ValueError):
        send_event({"type": "x"}, people=[1])
