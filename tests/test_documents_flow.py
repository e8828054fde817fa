"""Sending (发文): draft → review → 会签 → 签发 → 登记 → 核发, through the JSON API."""
import pytest

from documents.models import Document, DocumentVersion, Receipt, Step
from office.models import AuditEntry, Delegation
from tests.test_documents_support import BODY, call, post_of

pytestmark = pytest.mark.django_db


def test_it_walks_a_notice_from_draft_to_dispatch_with_review_countersign_and_signoff(
        units, city_secretary, city_office_secretary, city_finance_secretary, city_leader, client_for):
    sec = client_for(city_secretary)
    status, body = call(sec, "post", "/api/documents/", {
        "title": "咸阳市人民政府关于做好冬季防火工作的通知", "doc_type": "通知", "urgency": "加急",
        "body": BODY, "main": [f"under:{units['咸阳市'].id}:county"], "remark": "联系人：王秘书"})
    assert status == 201, body
    doc_id = body["id"]
    status, body = call(sec, "post", f"/api/documents/{doc_id}/submit", {
        "reviewers": [post_of(city_office_secretary).id], "countersign": [units["市财政局"].id],
        "signers": [post_of(city_leader).id]})
    assert status == 200, body
    assert Document.objects.get(id=doc_id).state == "review"

    # the leader cannot sign before review and 会签 are done
    leader = client_for(city_leader)
    signoff = Step.objects.get(document_id=doc_id, kind="signoff")
    status, body = call(leader, "post", f"/api/documents/steps/{signoff.id}/decide", {"decision": "agree"})
    assert status == 409 and "还没有轮到" in body["detail"]

    review = Step.objects.get(document_id=doc_id, kind="review")
    status, _ = call(client_for(city_office_secretary), "post", f"/api/documents/steps/{review.id}/decide",
                     {"decision": "agree"})
    assert status == 200
    assert Document.objects.get(id=doc_id).state == "countersign"
    cs = Step.objects.get(document_id=doc_id, kind="countersign")
    status, _ = call(client_for(city_finance_secretary), "post", f"/api/documents/steps/{cs.id}/decide",
                     {"decision": "opinion", "opinion": "建议增加经费保障内容。"})
    assert status == 200
    status, _ = call(leader, "post", f"/api/documents/steps/{signoff.id}/decide", {"decision": "agree", "opinion": "同意印发"})
    assert status == 200
    doc = Document.objects.get(id=doc_id)
    assert doc.state == "signed" and doc.signer_names == ["张市长"] and doc.signed_at is not None
    assert DocumentVersion.objects.filter(document=doc, is_final=True).count() == 1

    status, body = call(sec, "post", f"/api/documents/{doc_id}/register", {})
    assert status == 200, body
    assert body["number"].startswith("咸政发〔") and body["number"].endswith("〕1号")
    status, body = call(sec, "post", f"/api/documents/{doc_id}/dispatch")
    assert status == 200, body
    assert body["recipients"] == 2
    assert set(Receipt.objects.filter(document_id=doc_id).values_list("unit__short_name", flat=True)) == {"秦都区", "乾县"}
    actions = set(AuditEntry.objects.filter(object_id=str(doc_id), object_type="documents.document")
                  .values_list("action", flat=True))
    assert {"document.create", "document.submit", "document.review", "document.countersign", "document.signoff",
            "document.register", "document.dispatch"} <= actions


def test_it_returns_a_draft_to_its_author_when_a_reviewer_sends_it_back(units, city_secretary, city_office_secretary,
                                                                        city_leader, client_for):
    sec = client_for(city_secretary)
    _, body = call(sec, "post", "/api/documents/", {"title": "关于开展安全检查的通知", "doc_type": "通知", "body": BODY,
                                                    "main": [units["秦都区"].id]})
    doc_id = body["id"]
    call(sec, "post", f"/api/documents/{doc_id}/submit", {"reviewers": [post_of(city_office_secretary).id],
                                                          "signers": [post_of(city_leader).id]})
    review = Step.objects.get(document_id=doc_id, kind="review")
    status, body = call(client_for(city_office_secretary), "post", f"/api/documents/steps/{review.id}/decide",
                        {"decision": "return"})
    assert status == 400 and "意见" in body["detail"]
    status, _ = call(client_for(city_office_secretary), "post", f"/api/documents/steps/{review.id}/decide",
                     {"decision": "return", "opinion": "请补充检查时间。"})
    assert status == 200
    doc = Document.objects.get(id=doc_id)
    assert doc.state == "returned"
    assert Step.objects.get(document_id=doc_id, kind="signoff").state == "cancelled"
    # the author edits and resubmits: a new round
    status, _ = call(sec, "patch", f"/api/documents/{doc_id}", {"body": BODY + [{"kind": "p", "text": "检查时间为12月。"}]})
    assert status == 200
    status, _ = call(sec, "post", f"/api/documents/{doc_id}/submit", {"signers": [post_of(city_leader).id]})
    assert status == 200
    assert Document.objects.get(id=doc_id).round == 2


def test_it_lets_a_deputy_sign_off_for_an_absent_leader_and_records_who_acted_for_whom(
        units, city_secretary, city_leader, city_deputy, client_for):
    from datetime import timedelta

    from django.utils import timezone

    Delegation.objects.create(from_post=post_of(city_leader), to_post=post_of(city_deputy),
                              starts_at=timezone.now() - timedelta(hours=1), ends_at=timezone.now() + timedelta(days=1),
                              reason="出差")
    sec = client_for(city_secretary)
    _, body = call(sec, "post", "/api/documents/", {"title": "关于防汛工作的通知", "doc_type": "通知", "body": BODY,
                                                    "main": [units["秦都区"].id]})
    doc_id = body["id"]
    call(sec, "post", f"/api/documents/{doc_id}/submit", {"signers": [post_of(city_leader).id]})
    step = Step.objects.get(document_id=doc_id, kind="signoff")
    status, body = call(client_for(city_deputy), "post", f"/api/documents/steps/{step.id}/decide", {"decision": "agree"})
    assert status == 200, body
    step.refresh_from_db()
    assert step.acted_by_id == city_deputy.id and step.acted_for_post_id == post_of(city_leader).id
    assert Document.objects.get(id=doc_id).signer_names == ["李副市长（代张市长）"]


def test_it_sends_a_changed_final_text_back_to_the_signer(units, city_secretary, city_leader, client_for):
    sec = client_for(city_secretary)
    _, body = call(sec, "post", "/api/documents/", {"title": "关于春节值班的通知", "doc_type": "通知", "body": BODY,
                                                    "main": [units["秦都区"].id]})
    doc_id = body["id"]
    call(sec, "post", f"/api/documents/{doc_id}/submit", {"signers": [post_of(city_leader).id]})
    step = Step.objects.get(document_id=doc_id, kind="signoff")
    call(client_for(city_leader), "post", f"/api/documents/steps/{step.id}/decide", {"decision": "agree"})
    assert Document.objects.get(id=doc_id).state == "signed"
    status, _ = call(sec, "patch", f"/api/documents/{doc_id}", {"title": "关于春节期间值班的通知"})
    assert status == 200
    doc = Document.objects.get(id=doc_id)
    assert doc.state == "signoff" and doc.signer_names == [] and doc.signed_at is None
    new_step = Step.objects.get(document_id=doc_id, round=doc.round, kind="signoff")
    assert new_step.post_id == post_of(city_leader).id


def test_it_refuses_a_co_issuer_of_another_level_and_a_signer_from_outside_the_issuers(
        units, city_secretary, city_leader, county_leader, client_for):
    sec = client_for(city_secretary)
    status, body = call(sec, "post", "/api/documents/", {"title": "关于联合开展检查的通知", "doc_type": "通知", "body": BODY,
                                                         "main": [units["秦都区"].id], "co_issuers": [units["乾县"].id]})
    assert status == 400 and "同级" in body["detail"]
    # a joint document between the city government and its finance bureau (same level)
    status, body = call(sec, "post", "/api/documents/", {"title": "关于联合开展检查的通知", "doc_type": "通知", "body": BODY,
                                                         "main": [units["秦都区"].id], "co_issuers": [units["市教育局"].id]})
    assert status == 201, body
    doc_id = body["id"]
    status, body = call(sec, "post", f"/api/documents/{doc_id}/submit", {"signers": [post_of(county_leader).id]})
    assert status == 400 and "不是发文机关的领导" in body["detail"]


def test_it_has_each_co_issuers_head_sign_and_dates_by_the_last_signature(units, county_secretary, county_leader,
                                                                         outsider, client_for):
    from office.models import Person, Post

    qian_head = Person.objects.create_user("qian_head", "Demo-2026!", display_name="乾县县长")
    head_post = Post.objects.create(person=qian_head, unit=units["乾县"], is_leader=True)
    c = client_for(county_secretary)
    status, body = call(c, "post", "/api/documents/", {
        "title": "秦都区人民政府 乾县人民政府关于联合开展防汛检查的通知", "doc_type": "通知", "body": BODY,
        "main": [f"under:{units['秦都区'].id}:town"], "cc": [], "co_issuers": [units["乾县"].id]})
    assert status == 201, body
    doc_id = body["id"]
    status, body = call(c, "post", f"/api/documents/{doc_id}/submit", {"signers": [post_of(county_leader).id]})
    assert status == 400 and "乾县人民政府" in body["detail"]
    status, _ = call(c, "post", f"/api/documents/{doc_id}/submit", {"signers": [post_of(county_leader).id, head_post.id]})
    assert status == 200
    # the co-issuer sees the joint document; its head signs too
    assert call(client_for(outsider), "get", f"/api/documents/{doc_id}")[0] == 200
    steps = {s.post_id: s for s in Step.objects.filter(document_id=doc_id)}
    call(client_for(county_leader), "post", f"/api/documents/steps/{steps[post_of(county_leader).id].id}/decide",
         {"decision": "agree"})
    assert Document.objects.get(id=doc_id).state == "signoff"
    call(client_for(qian_head), "post", f"/api/documents/steps/{steps[head_post.id].id}/decide", {"decision": "agree"})
    doc = Document.objects.get(id=doc_id)
    last = Step.objects.filter(document_id=doc_id).order_by("-acted_at").first()
    from django.utils import timezone

    assert doc.state == "signed" and doc.signer_names == ["周区长", "乾县县长"]
    assert doc.signed_at == timezone.localdate(last.acted_at)


def test_it_runs_countersigning_departments_one_after_another_when_asked(units, city_secretary, city_leader,
                                                                         city_finance_secretary, client_for):
    from office.models import Person, Post

    edu = Person.objects.create_user("edu_secretary", "Demo-2026!", display_name="教育局文书")
    Post.objects.create(person=edu, unit=units["市教育局"], is_secretary=True)
    sec = client_for(city_secretary)
    _, body = call(sec, "post", "/api/documents/", {"title": "关于学校食堂经费的通知", "doc_type": "通知", "body": BODY,
                                                    "main": [units["秦都区"].id]})
    doc_id = body["id"]
    call(sec, "post", f"/api/documents/{doc_id}/submit", {"countersign": [units["市财政局"].id, units["市教育局"].id],
                                                          "countersign_mode": "sequential",
                                                          "signers": [post_of(city_leader).id]})
    cs = {s.unit_id: s for s in Step.objects.filter(document_id=doc_id, kind="countersign")}
    status, body = call(client_for(edu), "post", f"/api/documents/steps/{cs[units['市教育局'].id].id}/decide",
                        {"decision": "agree"})
    assert status == 409
    assert call(client_for(city_finance_secretary), "post",
                f"/api/documents/steps/{cs[units['市财政局'].id].id}/decide", {"decision": "agree"})[0] == 200
    assert call(client_for(edu), "post", f"/api/documents/steps/{cs[units['市教育局'].id].id}/decide",
                {"decision": "agree"})[0] == 200
    assert Document.objects.get(id=doc_id).state == "signoff"
