"""A person sees a document only when written in, sent to, circulated or assigned to them: 404 otherwise."""
import pytest

from documents.models import Receipt
from tests.test_documents_support import call, dispatched, draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_notice(units, city_secretary, city_leader):
    return dispatched(city_secretary, city_leader, title="关于秦都区内部审计整改的通知", main=[units["秦都区"].id])


def test_it_hides_another_units_document_from_an_outsider_via_api_and_pages(city_notice, outsider, client_for):
    c = client_for(outsider)
    receipt = Receipt.objects.get(document=city_notice)
    for url in (f"/api/documents/{city_notice.id}", f"/api/documents/{city_notice.id}/tracking",
                f"/api/documents/{city_notice.id}/tracking.csv", f"/api/documents/{city_notice.id}/attachments/1",
                f"/documents/{city_notice.id}/", f"/documents/{city_notice.id}/tracking/"):
        resp = c.get(url)
        assert resp.status_code == 404, url
        assert "内部审计" not in resp.content.decode(), url
    for url in (f"/api/documents/receipts/{receipt.id}/sign", f"/api/documents/receipts/{receipt.id}/reply",
                f"/api/documents/{city_notice.id}/dispatch", f"/api/documents/{city_notice.id}/register"):
        status, body = call(c, "post", url, {"text": "x"})
        assert status == 404, url
        assert "内部审计" not in str(body)
    _, body = call(c, "get", "/api/documents/?q=审计")
    assert body["count"] == 0
    _, body = call(c, "get", "/api/documents/inbox")
    assert body["count"] == 0


def test_it_shows_a_document_to_its_recipients_but_not_the_senders_tracking(city_notice, county_secretary,
                                                                            town_secretary, client_for):
    c = client_for(county_secretary)
    status, body = call(c, "get", f"/api/documents/{city_notice.id}")
    assert status == 200 and body["title"] == city_notice.title
    assert body["steps"] == [] and not body["sender_side"]
    status, _ = call(c, "get", f"/api/documents/{city_notice.id}/tracking")
    assert status == 404
    # a town below the county was not sent it: nothing
    status, _ = call(client_for(town_secretary), "get", f"/api/documents/{city_notice.id}")
    assert status == 404


def test_it_keeps_drafts_inside_the_drafting_unit_and_its_office(units, city_secretary, city_office_secretary,
                                                                 city_finance_secretary, county_secretary, client_for):
    doc = draft(city_secretary, main=[units["秦都区"].id])
    assert call(client_for(city_secretary), "get", f"/api/documents/{doc.id}")[0] == 200
    assert call(client_for(county_secretary), "get", f"/api/documents/{doc.id}")[0] == 404
    # the government's 办公室 handles its documents; another department does not see them
    assert call(client_for(city_office_secretary), "get", f"/api/documents/{doc.id}")[0] == 200
    assert call(client_for(city_finance_secretary), "get", f"/api/documents/{doc.id}")[0] == 404


def test_it_shows_a_received_document_to_a_person_it_is_assigned_to(units, city_secretary, city_leader,
                                                                   county_secretary, county_handler, client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    receipt = Receipt.objects.get(document=doc)
    c = client_for(county_secretary)
    assert call(client_for(county_handler), "get", f"/api/documents/{doc.id}")[0] == 404
    call(c, "post", f"/api/documents/receipts/{receipt.id}/sign")
    call(c, "post", f"/api/documents/receipts/{receipt.id}/register")
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/assign", {"person_id": county_handler.id})
    assert status == 201, body
    assert call(client_for(county_handler), "get", f"/api/documents/{doc.id}")[0] == 200


def test_it_exposes_check_can_view_for_the_renderers(city_notice, outsider, county_secretary):
    from documents.actions import check_can_view
    from office.errors import ActionError

    check_can_view(county_secretary, city_notice)
    with pytest.raises(ActionError) as exc:
        check_can_view(outsider, city_notice)
    assert exc.value.status == 404
