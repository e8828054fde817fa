"""Bad input gets a clear Chinese message and a 4xx; nothing is half-written."""
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from documents.models import Attachment, Document, Receipt, Reply, Step
from office.models import AuditEntry
from tests.test_documents_support import BODY, call, dispatched, draft

pytestmark = pytest.mark.django_db


def _new(client, **data):
    base = {"title": "关于有关事项的通知", "doc_type": "通知", "body": BODY}
    return call(client, "post", "/api/documents/", {**base, **data})


@pytest.mark.parametrize("data, message", [
    ({"title": "   "}, "标题不能为空"),
    ({"title": "关" * 201}, "标题不能超过200个字"),
    ({"doc_type": "便条"}, "文种不正确"),
    ({"urgency": "火急"}, "紧急程度只能是"),
    ({"disclosure": "内部"}, "公开属性只能是"),
    ({"remark": "注" * 301}, "附注不能超过300个字"),
    ({"body": [{"kind": "p", "text": "字" * 20001}]}, "不能超过20000个字"),
    ({"body": [{"kind": "script", "text": "x"}]}, "类型不正确"),
    ({"body": "不是列表"}, "请求数据格式不正确"),
    ({"response_deadline": "2001-01-01T00:00:00+08:00"}, "办理时限不能早于现在"),
    ({"classification": "机密"}, "机要渠道"),
    ({"title": "绝密★ 关于某事的通知"}, "本系统只办理非涉密公文"),
    ({"body": [{"kind": "p", "text": "秘密★1年"}, {"kind": "p", "text": "正文"}]}, "密级标志"),
    ({"attachment_notes": ["机密★ 名单"]}, "密级标志"),
    ({"main": [999999]}, "收文单位不存在"),
])
def test_it_refuses_bad_drafts_with_a_chinese_message_and_writes_nothing(units, city_secretary, client_for, data, message):
    c = client_for(city_secretary)
    before = AuditEntry.objects.count()
    status, body = _new(c, main=[units["秦都区"].id], **data) if "main" not in data else _new(c, **data)
    assert 400 <= status < 500
    assert message in body["detail"]
    assert Document.objects.count() == 0 and AuditEntry.objects.count() == before


def test_it_refuses_malformed_json_in_chinese(city_secretary, client_for):
    resp = client_for(city_secretary).post("/api/documents/", data="{not json", content_type="application/json")
    assert resp.status_code in (400, 422)
    assert any(word in resp.json()["detail"] for word in ("JSON", "格式"))
    assert Document.objects.count() == 0


def test_it_refuses_a_classified_attachment_by_its_name(units, city_secretary, client_for):
    doc = draft(city_secretary, main=[units["秦都区"].id])
    c = client_for(city_secretary)
    resp = c.post(f"/api/documents/{doc.id}/attachments",
                  {"file": SimpleUploadedFile("绝密★名单.txt", "名单".encode(), content_type="text/plain")})
    assert resp.status_code == 400 and "机要" in resp.json()["detail"]
    resp = c.post(f"/api/documents/{doc.id}/attachments",
                  {"file": SimpleUploadedFile("empty.txt", b"", content_type="text/plain")})
    assert resp.status_code == 400 and "空文件" in resp.json()["detail"]
    assert Attachment.objects.count() == 0
    resp = c.post(f"/api/documents/{doc.id}/attachments",
                  {"file": SimpleUploadedFile("经费表.txt", "经费".encode(), content_type="text/plain")})
    assert resp.status_code == 201
    assert Document.objects.get(id=doc.id).attachment_notes == ["经费表"]


def test_it_refuses_actions_in_the_wrong_state(units, city_secretary, city_leader, county_secretary, client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    c = client_for(city_secretary)
    status, body = call(c, "patch", f"/api/documents/{doc.id}", {"title": "改个标题"})
    assert status == 409 and "已登记编号" in body["detail"]
    step = Step.objects.get(document=doc)
    status, body = call(client_for(city_leader), "post", f"/api/documents/steps/{step.id}/decide", {"decision": "agree"})
    assert status == 409 and "已经办理过" in body["detail"]
    status, body = call(c, "post", f"/api/documents/{doc.id}/submit", {"signers": []})
    assert status == 409
    receipt = Receipt.objects.get(document=doc)
    r = client_for(county_secretary)
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/propose", {"text": "拟办"})
    assert status == 409 and "先签收并登记" in body["detail"]
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/reply", {"text": "答复"})
    assert status == 409 and "先签收" in body["detail"]
    call(r, "post", f"/api/documents/receipts/{receipt.id}/return", {"reason": "不属于本单位职责"})
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/sign")
    assert status == 409 and "已退文" in body["detail"]
    assert Reply.objects.count() == 0


def test_it_refuses_a_past_deadline_and_overlong_or_classified_texts_on_a_receipt(units, city_secretary, city_leader,
                                                                                county_secretary, client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    receipt = Receipt.objects.get(document=doc)
    r = client_for(county_secretary)
    call(r, "post", f"/api/documents/receipts/{receipt.id}/sign")
    call(r, "post", f"/api/documents/receipts/{receipt.id}/register")
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/assign",
                        {"unit_id": units["区财政局"].id, "deadline": past})
    assert status == 400 and "办理期限不能早于现在" in body["detail"]
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/assign", {})
    assert status == 400 and "部门或一个人" in body["detail"]
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/reply", {"text": "答" * 2001})
    assert status == 400 and "不能超过2000个字" in body["detail"]
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/reply", {"text": "机密★ 附件另送"})
    assert status == 400 and "机要渠道" in body["detail"]
    status, body = call(r, "post", f"/api/documents/receipts/{receipt.id}/return", {"reason": "理" * 501})
    assert status == 400 and "不能超过500个字" in body["detail"]
    assert Receipt.objects.get(id=receipt.id).state == "registered"
    assert Reply.objects.count() == 0


def test_it_refuses_unknown_steps_receipts_and_documents_with_404(city_secretary, client_for):
    c = client_for(city_secretary)
    assert call(c, "post", "/api/documents/steps/424242/decide", {"decision": "agree"})[0] == 404
    assert call(c, "post", "/api/documents/receipts/424242/sign")[0] == 404
    assert call(c, "get", "/api/documents/424242")[0] == 404
    assert c.get("/documents/424242/").status_code == 404
