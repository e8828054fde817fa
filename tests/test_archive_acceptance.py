"""接收: the 档号, the 归档章, immutability afterwards, corrections as versions, returns."""
import re

import pytest

from documents.archive import actions
from documents.archive.models import ComponentRole, Item, ItemState
from office.errors import ActionError
from tests.archive_support import filed_sent, isolated_files, with_fonds  # noqa: F401
from tests.test_documents_support import post_of


@pytest.fixture
def accepted(units, city_secretary, city_leader, archivist):
    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于归档接收的通知", main=[units["秦都区"].id])
    return actions.do_accept(person=archivist, item_id=item.id)


def test_it_gives_the_archival_code_with_a_middle_dot_and_four_digits(accepted):
    assert re.fullmatch(r"Z001-WS\u00b72026-D30-BGS-0001", accepted.archival_code.replace(str(accepted.year), "2026"))
    assert accepted.seq == 1 and accepted.state == ItemState.ACCEPTED
    rendition = accepted.components.get(role=ComponentRole.RENDITION)
    assert rendition.pages == 1


def test_it_numbers_each_class_on_its_own(accepted, units, city_secretary, city_leader, archivist):
    second = filed_sent(city_secretary, city_leader, title="关于第二件的通知", main=[units["秦都区"].id])
    third = filed_sent(city_secretary, city_leader, title="关于第三件的请示", doc_type="通知", main=[units["秦都区"].id])
    actions.do_update_pending(person=archivist, item_id=third.id, retention="Y")
    second = actions.do_accept(person=archivist, item_id=second.id)
    third = actions.do_accept(person=archivist, item_id=third.id)
    assert second.archival_code.endswith("-D30-BGS-0002")
    assert third.archival_code.endswith("-Y-BGS-0001")


def test_it_refuses_every_change_to_an_accepted_item(accepted, archivist, client_for):
    c = client_for(archivist)
    url = f"/api/documents/archive/items/{accepted.id}"
    for resp in (c.patch(url, {"retention": "Y"}, content_type="application/json"),
                 c.delete(url),
                 c.put(f"{url}/components/{accepted.components.first().id}"),
                 c.post(f"{url}/accept"),
                 c.post("/documents/archive/do/", {"op": "update", "item": accepted.id, "retention": "Y"}),
                 c.post("/documents/archive/do/", {"op": "delete", "item": accepted.id}),
                 c.post("/documents/archive/do/", {"op": "return", "item": accepted.id, "reason": "重做"})):
        assert resp.status_code == 409, resp.content
        text = resp.json()["detail"] if resp["Content-Type"].startswith("application/json") else resp.content.decode()
        assert "已归档" in text
    accepted.title = "改过的题名"
    with pytest.raises(ActionError) as exc:
        accepted.save()
    assert exc.value.status == 409
    assert Item.objects.get(id=accepted.id).title == "关于归档接收的通知"


def test_it_records_a_correction_as_a_new_version_with_who_when_and_why(accepted, archivist, client_for):
    c = client_for(archivist)
    resp = c.post(f"/api/documents/archive/items/{accepted.id}/corrections",
                  {"changes": {"title": "关于归档接收工作的通知"}, "reason": "题名录入有误"}, content_type="application/json")
    assert resp.status_code == 201
    data = c.get(f"/api/documents/archive/items/{accepted.id}").json()
    assert data["title"] == "关于归档接收工作的通知" and data["archival_code"] == accepted.archival_code
    v = data["versions"][0]
    assert v["by"] == "孙档案" and v["reason"] == "题名录入有误"
    assert v["changes"]["title"] == ["关于归档接收的通知", "关于归档接收工作的通知"]
    refused = c.post(f"/api/documents/archive/items/{accepted.id}/corrections",
                     {"changes": {"archival_code": "X"}, "reason": "想改档号"}, content_type="application/json")
    assert refused.status_code == 409
    assert "关于归档接收工作的通知" in c.get(f"/documents/archive/items/{accepted.id}/metadata.xml").content.decode()


def test_it_returns_an_item_with_the_reason_and_takes_it_again(units, city_secretary, city_leader, archivist,
                                                               client_for):
    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于退回重归的通知", main=[units["秦都区"].id])
    actions.do_return(person=archivist, item_id=item.id, reason="附件不全")
    page = client_for(city_secretary).get("/documents/archive/").content.decode()
    assert "附件不全" in page
    again = actions.do_file(person=city_secretary, post=post_of(city_secretary), document_id=item.document_id)
    assert again.id == item.id and again.state == ItemState.SUBMITTED
    assert actions.do_accept(person=archivist, item_id=item.id).seq == 1


def test_it_lets_only_the_fonds_archivist_accept(units, city_secretary, city_leader, county_secretary, client_for):
    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于越权接收的通知", main=[units["秦都区"].id])
    resp = client_for(county_secretary).post(f"/api/documents/archive/items/{item.id}/accept")
    assert resp.status_code in (403, 404)
    assert Item.objects.get(id=item.id).state == ItemState.SUBMITTED


def test_it_answers_odd_ids_with_a_4xx(units, archivist, client_for):
    huge = "9" * 25
    c = client_for(archivist)
    c.raise_request_exception = False
    for url in (f"/documents/archive/items/{huge}/", f"/documents/archive/items/1/components/{huge}/",
                f"/documents/archive/reports/{huge}/", f"/documents/archive/items/{huge}/metadata.xml"):
        assert c.get(url).status_code == 404, url
    for url in (f"/api/documents/archive/items/{huge}", f"/api/documents/archive/access/{huge}/decide",
                f"/api/documents/archive/disposals/{huge}/decide"):
        r = c.post(url, {"approve": True}, content_type="application/json") if "decide" in url else c.get(url)
        assert 400 <= r.status_code < 500, (url, r.status_code)
