"""Retention and disposal (到期鉴定, leader approval, 销毁清册) and access (借阅, watermark, audit)."""
import datetime as dt

import pytest
from django.utils import timezone

from documents.archive import actions
from documents.archive.checks import text_of
from documents.archive.models import DestructionEntry, Disposal, Item, ItemState
from office.errors import ActionError
from office.models import AuditEntry
from tests.archive_support import filed_sent, isolated_files, with_fonds  # noqa: F401


def _accepted(units, secretary, leader, archivist, *, retention, year=None, title="关于鉴定销毁的通知"):
    with_fonds()
    item = filed_sent(secretary, leader, title=title, main=[units["秦都区"].id])
    if year:  # an old 件: its 年度 and date as the flow would have recorded them then
        Item.objects.filter(id=item.id).update(year=year, doc_date=dt.date(year, 6, 1))
    actions.do_update_pending(person=archivist, item_id=item.id, retention=retention)
    return actions.do_accept(person=archivist, item_id=item.id)


def test_it_destroys_an_expired_item_only_with_a_leaders_approval(units, city_secretary, city_leader, archivist,
                                                                  county_leader, client_for):
    item = _accepted(units, city_secretary, city_leader, archivist, retention="D10", year=2010)
    fonds = item.fonds
    assert item in actions.due_for_appraisal(fonds)
    d = actions.do_propose_disposal(person=archivist, item_id=item.id, action="destroy", reason="已无保存价值")
    assert Item.objects.get(id=item.id).state == ItemState.ACCEPTED  # nothing happens before approval
    with pytest.raises(ActionError) as exc:
        actions.do_decide_disposal(person=county_leader, disposal_id=d.id, approve=True)
    assert exc.value.status == 403
    actions.do_decide_disposal(person=city_leader, disposal_id=d.id, approve=True)
    item = Item.objects.get(id=item.id)
    assert item.state == ItemState.DESTROYED and item.archival_code and item.title == "关于鉴定销毁的通知"
    entry = DestructionEntry.objects.get(item=item)
    assert entry.approved_name == "张市长" and entry.proposed_name == "孙档案"
    with pytest.raises(ActionError):
        entry.delete()
    comp = item.components.first()
    resp = client_for(archivist).get(f"/documents/archive/items/{item.id}/components/{comp.id}/")
    assert resp.status_code == 410
    page = client_for(city_leader).get("/documents/archive/manage/").content.decode()
    assert item.archival_code in page and "销毁清册" in page


def test_it_never_destroys_a_permanent_item(units, city_secretary, city_leader, archivist):
    item = _accepted(units, city_secretary, city_leader, archivist, retention="Y", year=1990)
    with pytest.raises(ActionError) as exc:
        actions.do_propose_disposal(person=archivist, item_id=item.id, action="destroy", reason="试图销毁")
    assert exc.value.status == 409 and "永久" in exc.value.message
    assert item not in actions.due_for_appraisal(item.fonds)


def test_it_keeps_an_item_with_a_new_period_as_a_new_version(units, city_secretary, city_leader, archivist):
    item = _accepted(units, city_secretary, city_leader, archivist, retention="D10", year=2012)
    d = actions.do_propose_disposal(person=archivist, item_id=item.id, action="keep", new_retention="D30",
                                    reason="仍有参考价值")
    assert Disposal.objects.get(id=d.id).state == "approved"
    assert actions.effective(item)["retention"] == "D30"
    assert item not in actions.due_for_appraisal(item.fonds)
    assert Item.objects.get(id=item.id).retention == "D10"  # the 档号 does not change


def test_it_lends_an_item_outside_the_fonds_only_after_approval_and_watermarks_it(
        units, city_secretary, city_leader, archivist, outsider, client_for):
    item = _accepted(units, city_secretary, city_leader, archivist, retention="D30", title="关于借阅测试的通知")
    c = client_for(outsider)
    assert c.get(f"/documents/archive/items/{item.id}/").status_code == 404
    assert c.get(f"/api/documents/archive/items/{item.id}").status_code == 404
    assert item.archival_code not in c.get("/documents/archive/?q=借阅测试").content.decode()
    until = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    resp = c.post("/api/documents/archive/access", {"archival_code": item.archival_code, "reason": "查阅政策依据",
                                                    "until": until}, content_type="application/json")
    assert resp.status_code == 201
    assert c.get(f"/documents/archive/items/{item.id}/").status_code == 404  # not before approval
    leader = client_for(city_leader)
    assert "查阅政策依据" in leader.get("/documents/archive/manage/").content.decode()
    assert leader.post(f"/api/documents/archive/access/{resp.json()['id']}/decide", {"approve": True},
                       content_type="application/json").status_code == 200
    page = c.get(f"/documents/archive/items/{item.id}/")
    assert page.status_code == 200 and "水印" in page.content.decode()
    comp = item.components.order_by("order").first()
    pdf = c.get(f"/documents/archive/items/{item.id}/components/{comp.id}/")
    assert pdf.status_code == 200
    text = text_of(pdf.content)
    assert "蒋秘书" in text and "乾县人民政府" in text
    views = AuditEntry.objects.filter(action="archive.view", person_id_at=outsider.id, object_id=str(item.id))
    assert views.filter(data__watermarked=True).exists()


def test_it_searches_the_holdings_in_chinese(units, city_secretary, city_leader, archivist, client_for):
    item = _accepted(units, city_secretary, city_leader, archivist, retention="D30", title="关于秸秆禁烧工作的通知")
    c = client_for(archivist)
    for q in ("秸秆禁烧", "禁烧", "今冬明春防火"):  # title words and full text
        found = c.get(f"/api/documents/archive/items?q={q}").json()
        assert [i["id"] for i in found["items"]] == [item.id], q
    assert c.get("/api/documents/archive/items?q=不存在的词").json()["count"] == 0
    assert AuditEntry.objects.filter(action="archive.view", data__what="search:禁烧").exists()
