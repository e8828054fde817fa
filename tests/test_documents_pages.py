"""The 公文 pages in Chinese: lists (with a bounded number of queries), drafting form, detail actions, tracking."""
import json

import pytest

from documents.models import Document, Receipt
from tests.test_documents_support import dispatched, post_of

pytestmark = pytest.mark.django_db


def test_it_drafts_through_the_form_and_refuses_bad_input_in_chinese(units, city_secretary, client_for):
    c = client_for(city_secretary)
    page = c.get("/documents/new/")
    assert page.status_code == 200 and "起草公文" in page.content.decode()
    form = {"doc_type": "通知", "title": "", "urgency": "", "disclosure": "主动公开", "body": "一、总体要求\n请抓好落实。",
            "main": json.dumps([str(units["秦都区"].id)]), "cc": "[]", "add_skipped_cc": "on"}
    resp = c.post("/documents/new/", form)
    assert resp.status_code == 400 and "标题不能为空" in resp.content.decode()
    resp = c.post("/documents/new/", {**form, "title": "秘密★1年 关于某事的通知"})
    assert resp.status_code == 400 and "机要渠道" in resp.content.decode()
    resp = c.post("/documents/new/", {**form, "title": "关于做好冬季防火工作的通知", "response_deadline": "2000-01-01T08:00"})
    assert resp.status_code == 400 and "办理时限不能早于现在" in resp.content.decode()
    resp = c.post("/documents/new/", {**form, "title": "关" * 201})
    assert resp.status_code == 400 and "不能超过200个字" in resp.content.decode()
    assert Document.objects.count() == 0
    resp = c.post("/documents/new/", {**form, "title": "关于做好冬季防火工作的通知"})
    assert resp.status_code == 302
    doc = Document.objects.get()
    assert doc.body == [{"kind": "h1", "text": "一、总体要求"}, {"kind": "p", "text": "请抓好落实。"}]


def test_it_walks_the_detail_page_buttons_from_submission_to_dispatch(units, city_secretary, city_leader, client_for):
    c = client_for(city_secretary)
    c.post("/documents/new/", {"doc_type": "通知", "title": "关于开展春季植树活动的通知", "disclosure": "主动公开",
                               "body": "请各区县组织植树。", "main": json.dumps([f"under:{units['咸阳市'].id}:county"]),
                               "cc": "[]"})
    doc = Document.objects.get()
    resp = c.post(f"/documents/{doc.id}/do/", {"op": "submit", "signers": [post_of(city_leader).id]})
    assert resp.status_code == 302
    leader = client_for(city_leader)
    page = leader.get(f"/documents/{doc.id}/").content.decode()
    step = doc.steps.get()
    assert f'id="agree-{step.id}"' in page
    assert leader.post(f"/documents/{doc.id}/do/", {"op": "decide", "step": step.id, "decision": "agree"}).status_code == 302
    assert c.post(f"/documents/{doc.id}/do/", {"op": "register", "prefix": ""}).status_code == 302
    assert c.post(f"/documents/{doc.id}/do/", {"op": "dispatch"}).status_code == 302
    resp = c.post(f"/documents/{doc.id}/do/", {"op": "dispatch"})
    assert resp.status_code == 409 and "不能重复分发" in resp.content.decode()
    assert Receipt.objects.filter(document=doc).count() == 2
    resp = c.post(f"/documents/{doc.id}/do/", {"op": "nonsense"})
    assert resp.status_code == 400 and "未知的操作" in resp.content.decode()


def test_it_lists_the_inbox_with_a_bounded_number_of_queries(units, city_secretary, city_leader, county_secretary,
                                                             client_for, django_assert_max_num_queries):
    for i in range(12):
        dispatched(city_secretary, city_leader, title=f"关于第{i}批项目的通知", main=[units["秦都区"].id])
    c = client_for(county_secretary)
    with django_assert_max_num_queries(12):
        resp = c.get("/documents/?box=inbox")
    assert resp.status_code == 200 and "关于第11批项目的通知" in resp.content.decode()
    with django_assert_max_num_queries(12):
        resp = c.get("/api/documents/inbox?q=项目")
    assert resp.json()["count"] == 12
    with django_assert_max_num_queries(12):
        resp = c.get("/documents/?box=all&q=第3批")
    assert "关于第3批项目的通知" in resp.content.decode() and "关于第4批项目的通知" not in resp.content.decode()
    with django_assert_max_num_queries(12):
        assert c.get("/documents/?box=outbox").status_code == 200
    with django_assert_max_num_queries(17):  # each 待办 provider (公文, meetings, training, archive) asks once
        resp = c.get("/api/office/todo")
    assert resp.json()["count"] == 12


def test_it_filters_by_number_type_sender_date_and_state(units, city_secretary, city_leader, county_secretary, client_for):
    a = dispatched(city_secretary, city_leader, title="关于甲的通知", main=[units["秦都区"].id])
    b = dispatched(city_secretary, city_leader, doc_type="通报", title="关于乙的通报", main=[units["秦都区"].id])
    c = client_for(county_secretary)
    assert [x["document_id"] for x in c.get(f"/api/documents/inbox?number={a.number}").json()["items"]] == [a.id]
    assert [x["document_id"] for x in c.get("/api/documents/inbox?doc_type=通报").json()["items"]] == [b.id]
    assert c.get(f"/api/documents/inbox?sender={units['乾县'].id}").json()["count"] == 0
    assert c.get("/api/documents/inbox?date_from=2000-01-01&date_to=2000-01-02").json()["count"] == 0
    assert c.get("/api/documents/inbox?state=delivered").json()["count"] == 2
    assert c.get("/api/documents/inbox?date_from=tomorrow").status_code == 400
    assert "格式不正确" in c.get("/api/documents/inbox?date_from=tomorrow").json()["detail"]


def test_it_exports_the_tracking_as_csv_and_pdf(units, city_secretary, city_leader, village_cadre, client_for):
    from documents import actions

    doc = dispatched(city_secretary, city_leader, main=[f"under:{units['人民路街道'].id}:village"], add_skipped_cc=True)
    receipt = Receipt.objects.get(document=doc, unit=units["人民路社区"])
    actions.do_sign(person=village_cadre, post=post_of(village_cadre), receipt_id=receipt.id)
    c = client_for(city_secretary)
    data = c.get(f"/api/documents/{doc.id}/tracking").json()
    assert data["summary"] == {"delivered": 3, "signed": 1, "returned": 0, "overdue": 0, "done": 0}
    tree = {n["name"]: n for n in data["tree"]}
    assert tree["人民路社区"]["state"] == "signed" and tree["咸阳市"]["state"] == ""
    csv = c.get(f"/api/documents/{doc.id}/tracking.csv").content.decode("utf-8-sig")
    assert "人民路社区居民委员会,主送,已签收,褚书记" in csv
    pdf = c.get(f"/api/documents/{doc.id}/tracking.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    import io

    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf.content)) as p:
        text = p.pages[0].extract_text()
    assert "人民路社区居民委员会" in text and "已签收" in text
    page = c.get(f"/documents/{doc.id}/tracking/")
    assert page.status_code == 200 and "四级单位树" in page.content.decode()


def test_it_shows_the_archive_of_finished_documents(units, city_secretary, city_leader, county_secretary, client_for):
    from documents import actions

    doc = dispatched(city_secretary, city_leader, title="关于归档测试的通知", main=[units["秦都区"].id])
    r = Receipt.objects.get(document=doc)
    p = post_of(county_secretary)
    actions.do_sign(person=county_secretary, post=p, receipt_id=r.id)
    actions.do_finish(person=county_secretary, post=p, receipt_id=r.id)
    page = client_for(county_secretary).get("/documents/archive/").content.decode()
    assert "关于归档测试的通知" in page


def test_it_builds_the_tracking_of_a_wide_dispatch_in_a_constant_number_of_queries(
        units, city_secretary, city_leader, client_for, django_assert_max_num_queries):
    doc = dispatched(city_secretary, city_leader, main=[f"under:{units['咸阳市'].id}:all"])
    c = client_for(city_secretary)
    with django_assert_max_num_queries(14):
        data = c.get(f"/api/documents/{doc.id}/tracking").json()
    assert len(data["rows"]) == 13 and len(data["tree"]) == 14


def test_it_seeds_demo_documents_once(seed_small):
    from django.core.management import call_command

    call_command("seed_documents", "--if-empty")
    assert Document.objects.count() == 3
    assert Document.objects.filter(state="dispatched").count() == 2
    # the demo village cadre finds one waiting to be signed for
    from office import todo
    from office.models import Person

    items = todo.items_for(Person.objects.get(username="village_cadre"))
    assert any(item["title"].startswith("待签收") for item in items)
    call_command("seed_documents", "--if-empty")
    assert Document.objects.count() == 3


def test_it_asks_for_the_organisation_before_seeding_demo_documents(db):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_documents")
