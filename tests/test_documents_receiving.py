"""Receiving (收文): 签收, 退文, 登记, 拟办, 批办, 承办, 传阅, 办结, 答复 and 转发."""
import datetime as dt

import pytest
from django.utils import timezone

from documents.models import Assignment, Document, Forward, Receipt, Reply
from office.models import Post
from tests.test_documents_support import BODY, call, dispatched, post_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def to_villages(units, city_secretary, city_leader):
    """A city notice sent to every village of 人民路街道 (skipped levels copied)."""
    return dispatched(city_secretary, city_leader, main=[f"under:{units['人民路街道'].id}:village"],
                      add_skipped_cc=True, urgency="特急")


def test_it_signs_registers_and_finishes_a_received_notice(units, to_villages, village_cadre, client_for):
    receipt = Receipt.objects.get(document=to_villages, unit=units["人民路社区"])
    assert receipt.role == "main" and receipt.state == "delivered"
    assert receipt.deadline - receipt.delivered_at == dt.timedelta(days=1)  # 特急: one day by default
    c = client_for(village_cadre)
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/register")
    assert status == 409 and "先签收" in body["detail"]
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/sign")
    assert status == 200 and body["state"] == "signed"
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/sign")
    assert status == 409 and "褚书记" in body["detail"] and "签收" in body["detail"]
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/register")
    assert status == 200 and body["registered_no"] == f"收〔{timezone.localdate().year}〕1号"
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/reply", {"text": "已组织排查，无隐患。"})
    assert status == 201
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/finish", {"note": "已落实"})
    assert status == 200 and body["state"] == "done"
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/finish", {})
    assert status == 409


def test_it_returns_a_document_with_a_reason_the_sender_can_see(units, to_villages, village_cadre2, city_secretary,
                                                                client_for):
    receipt = Receipt.objects.get(document=to_villages, unit=units["北街村"])
    c = client_for(village_cadre2)
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/return", {"reason": ""})
    assert status == 400 and "退文理由不能为空" in body["detail"]
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/return", {"reason": "本村不涉及此项工作。"})
    assert status == 200
    status, body = call(client_for(city_secretary), "get", f"/api/documents/{to_villages.id}/tracking")
    row = next(r for r in body["rows"] if r["unit"] == "北街村民委员会")
    assert row["state"] == "returned" and row["return_reason"] == "本村不涉及此项工作。"


def test_it_routes_a_county_receipt_through_proposal_instruction_assignment_and_circulation(
        units, city_secretary, city_leader, county_secretary, county_leader, county_handler, client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    receipt = Receipt.objects.get(document=doc, unit=units["秦都区"])
    sec, lead = client_for(county_secretary), client_for(county_leader)
    call(sec, "post", f"/api/documents/receipts/{receipt.id}/sign")
    call(sec, "post", f"/api/documents/receipts/{receipt.id}/register")
    status, _ = call(sec, "post", f"/api/documents/receipts/{receipt.id}/propose", {"text": "拟请区财政局牵头办理。"})
    assert status == 200
    status, body = call(sec, "post", f"/api/documents/receipts/{receipt.id}/instruct", {"text": "同意"})
    assert status == 403 and "领导" in body["detail"]
    status, _ = call(lead, "post", f"/api/documents/receipts/{receipt.id}/instruct", {"text": "请区财政局抓紧落实。"})
    assert status == 200
    # 承办 to a department: the deadline defaults by urgency and never passes the receipt's
    status, body = call(sec, "post", f"/api/documents/receipts/{receipt.id}/assign",
                        {"unit_id": units["区财政局"].id, "note": "牵头办理"})
    assert status == 201, body
    a = Assignment.objects.get(id=body["id"])
    receipt.refresh_from_db()
    assert a.deadline <= receipt.deadline
    # and to a person outside the unit: refused
    status, body = call(sec, "post", f"/api/documents/receipts/{receipt.id}/assign", {"person_id": city_leader.id})
    assert status == 400 and "本单位的在岗人员" in body["detail"]
    status, body = call(sec, "post", f"/api/documents/receipts/{receipt.id}/finish", {})
    assert status == 409 and "承办事项" in body["detail"]
    status, _ = call(client_for(county_handler), "post", f"/api/documents/assignments/{a.id}/complete",
                     {"text": "已拨付资金。"})
    assert status == 200
    # 传阅 among the leaders, in order; "where is it now" follows
    deputy = Post.objects.create(person=county_handler, unit=units["秦都区"], is_leader=True, title="副区长")
    status, _ = call(sec, "post", f"/api/documents/receipts/{receipt.id}/circulate",
                     {"post_ids": [post_of(county_leader).id, deputy.id]})
    assert status == 200
    status, body = call(sec, "get", f"/api/documents/{doc.id}")
    assert body["receipts"][0]["where_now"] == "周区长"
    second = body["receipts"][0]["circulations"][1]["id"]
    status, body = call(client_for(county_handler), "post", f"/api/documents/circulations/{second}/read", {})
    assert status == 409 and "周区长" in body["detail"]
    first = Receipt.objects.get(id=receipt.id).circulations.order_by("order").first()
    status, _ = call(lead, "post", f"/api/documents/circulations/{first.id}/read", {"note": "已阅"})
    assert status == 200
    _, body = call(sec, "get", f"/api/documents/{doc.id}")
    assert body["receipts"][0]["where_now"] == county_handler.display_name
    status, body = call(sec, "post", f"/api/documents/receipts/{receipt.id}/finish", {"note": "办结"})
    assert status == 200


def test_it_links_an_approval_to_the_request_it_answers(units, county_secretary, county_leader, city_secretary,
                                                        city_leader, client_for):
    request_doc = dispatched(county_secretary, county_leader, doc_type="请示", title="关于申请防汛资金的请示",
                             body=[{"kind": "p", "text": "妥否，请批示。"}], main=[units["咸阳市"].id])
    assert request_doc.signer_names == ["周区长"]
    receipt = Receipt.objects.get(document=request_doc, unit=units["咸阳市"])
    c = client_for(city_secretary)
    call(c, "post", f"/api/documents/receipts/{receipt.id}/sign")
    status, body = call(c, "post", "/api/documents/", {"title": "关于同意拨付防汛资金的批复", "doc_type": "批复",
                                                       "body": BODY, "reply_to_receipt": receipt.id})
    assert status == 201, body
    approval = Document.objects.get(id=body["id"])
    assert list(approval.main_recipients.all()) == [units["秦都区"]]
    call(c, "post", f"/api/documents/{approval.id}/submit", {"signers": [post_of(city_leader).id]})
    step = approval.steps.get()
    call(client_for(city_leader), "post", f"/api/documents/steps/{step.id}/decide", {"decision": "agree"})
    call(c, "post", f"/api/documents/{approval.id}/register", {})
    status, _ = call(c, "post", f"/api/documents/{approval.id}/dispatch")
    assert status == 200
    # the 请示 shows its 批复, at the county
    _, body = call(client_for(county_secretary), "get", f"/api/documents/{request_doc.id}")
    assert [a["id"] for a in body["answered_by"]] == [approval.id]
    assert Reply.objects.get(reply_document=approval).document_id == request_doc.id


def test_it_forwards_a_city_notice_to_towns_with_a_cover_notice_and_shows_the_chain_at_both_ends(
        units, city_secretary, city_leader, county_secretary, county_leader, town_secretary, client_for):
    original = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    receipt = Receipt.objects.get(document=original, unit=units["秦都区"])
    c = client_for(county_secretary)
    call(c, "post", f"/api/documents/receipts/{receipt.id}/sign")
    status, body = call(c, "post", "/api/documents/", {
        "title": "秦都区人民政府关于转发《咸阳市人民政府关于做好冬季防火工作的通知》的通知", "doc_type": "通知",
        "body": [{"kind": "p", "text": "现将市政府通知转发给你们，请认真贯彻执行。"}],
        "main": [f"under:{units['秦都区'].id}:town"], "forward_receipt": receipt.id})
    assert status == 201, body
    cover = Document.objects.get(id=body["id"])
    call(c, "post", f"/api/documents/{cover.id}/submit", {"signers": [post_of(county_leader).id]})
    call(client_for(county_leader), "post", f"/api/documents/steps/{cover.steps.get().id}/decide", {"decision": "agree"})
    call(c, "post", f"/api/documents/{cover.id}/register", {})
    status, _ = call(c, "post", f"/api/documents/{cover.id}/dispatch")
    assert status == 200
    # the town sees the cover and, through it, the original
    t = client_for(town_secretary)
    status, body = call(t, "get", f"/api/documents/{cover.id}")
    assert status == 200 and body["forward_of"]["id"] == original.id
    status, body = call(t, "get", f"/api/documents/{original.id}")
    assert status == 200
    # the city sees who forwarded its notice, to how many
    _, body = call(client_for(city_secretary), "get", f"/api/documents/{original.id}")
    assert body["forwarded_by"] == [{"cover_id": cover.id, "unit": "秦都区人民政府", "title": cover.title,
                                     "number": Document.objects.get(id=cover.id).number, "state": "dispatched",
                                     "recipients": 2, "view": "", "to": "秦都区各镇（街道）"}]


def test_it_requires_a_town_forwarding_a_village_report_upward_to_add_its_view(
        units, village_cadre, town_secretary, town_leader, client_for):
    Post.objects.filter(person=village_cadre).update(is_leader=True)
    report = dispatched(village_cadre, village_cadre, doc_type="报告", title="关于人民路社区防火工作的报告",
                        main=[units["人民路街道"].id])
    receipt = Receipt.objects.get(document=report, unit=units["人民路街道"])
    t = client_for(town_secretary)
    call(t, "post", f"/api/documents/receipts/{receipt.id}/sign")
    data = {"title": "人民路街道办事处关于转报人民路社区防火工作情况的报告", "doc_type": "报告",
            "body": [{"kind": "p", "text": "现将人民路社区报告转报。"}], "main": [units["秦都区"].id],
            "forward_receipt": receipt.id}
    status, body = call(t, "post", "/api/documents/", data)
    assert status == 400 and "转报下级机关的请示、报告须提出本级意见" in body["detail"]
    status, body = call(t, "post", "/api/documents/", {**data, "forward_view": "经核实，情况属实，建议予以通报表扬。"})
    assert status == 201, body
    assert Forward.objects.get(cover_id=body["id"]).view.startswith("经核实")
