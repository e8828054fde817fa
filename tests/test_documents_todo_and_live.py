"""待办/待阅 across all of a person's posts, and documents arriving live over /ws/."""
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from documents import actions
from documents.models import Receipt
from office.models import Post
from tests.test_documents_support import dispatched, draft, post_of


def _kinds(client):
    return sorted(i["kind"] for i in client.get("/api/office/todo").json()["items"])


@pytest.mark.django_db
def test_it_lists_steps_incoming_documents_and_readings_across_all_posts(units, city_secretary, city_leader,
                                                                         county_secretary, county_leader, client_for):
    # the county leader also holds a post at the city (兼职): work of both posts shows up
    Post.objects.create(person=county_leader, unit=units["市财政局"], is_leader=True, title="兼职")
    doc = draft(city_secretary, main=[units["秦都区"].id])
    actions.do_submit(person=city_secretary, post=post_of(city_secretary), doc=doc,
                      countersign=[units["市财政局"].id], signers=[post_of(city_leader).id])
    c = client_for(county_leader)
    assert _kinds(c) == ["documents.countersign"]
    assert _kinds(client_for(city_leader)) == []  # not his turn yet
    step = doc.steps.get(kind="countersign")
    actions.do_decide(person=county_leader, step_id=step.id, decision="agree")
    assert _kinds(client_for(city_leader)) == ["documents.signoff"]
    assert _kinds(c) == []

    notice = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    assert "documents.incoming" in _kinds(client_for(county_secretary))
    receipt = Receipt.objects.get(document=notice)
    p = post_of(county_secretary)
    actions.do_sign(person=county_secretary, post=p, receipt_id=receipt.id)
    actions.do_register_receipt(person=county_secretary, post=p, receipt_id=receipt.id)
    actions.do_circulate(person=county_secretary, post=p, receipt_id=receipt.id,
                         post_ids=[Post.objects.get(person=county_leader, unit=units["秦都区"]).id])
    items = c.get("/api/office/todo").json()["items"]
    reading = [i for i in items if i["kind"] == "documents.read"]
    assert len(reading) == 1 and reading[0]["title"].startswith("待阅：") and reading[0]["unit"] == "秦都区人民政府"
    assert c.get("/api/office/todo/count").json()["count"] == len(items)
    page = c.get(reading[0]["url"])
    assert page.status_code == 200 and "已阅" in page.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_it_tells_the_secretaries_of_every_recipient_unit_live_when_a_document_arrives(seed_small, client_for):
    units, people = seed_small
    cadre = people["village_cadre"]
    client = await sync_to_async(client_for)(cadre)
    cookie = client.cookies["sessionid"].value
    comm = WebsocketCommunicator(__import__("asgi").application, "/ws/",
                                 headers=[(b"origin", b"http://127.0.0.1"), (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await comm.connect()
    assert connected
    assert json.loads(await comm.receive_from())["type"] == "hello"
    doc = await sync_to_async(dispatched)(people["city_secretary"], people["city_leader"],
                                          main=[f"under:{units['人民路街道'].id}:village"], add_skipped_cc=True)
    event = None
    for _ in range(10):
        event = json.loads(await comm.receive_from(timeout=5))
        if event.get("op") == "arrived":
            break
    assert event == {"type": "documents", "op": "arrived", "document": doc.id}
    await comm.disconnect()
