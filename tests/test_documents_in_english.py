"""公文 texts built in code reach an English-speaking reader in English: 催办 reminders sent by the
job (stored in Chinese, shown in the reader's language), 待办 titles, who may act, 文种."""
import datetime as dt
import json
import re

import pytest

from documents.models import Receipt, Reminder
from documents.reminders import run_reminders
from tests.test_documents_support import dispatched

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.fixture
def notice(units, city_secretary, city_leader):
    return dispatched(city_secretary, city_leader, main=[units["秦都区"].id])


def test_it_shows_a_reminder_sent_by_the_job_in_the_readers_language(units, notice, client_for, county_secretary):
    receipt = Receipt.objects.get(document=notice, unit=units["秦都区"])
    assert run_reminders(now=receipt.deadline - dt.timedelta(hours=3)) == 1
    stored = Reminder.objects.get(receipt=receipt).message
    assert stored.startswith(f"《{notice.title}》将于") and stored.endswith("请抓紧办理。")  # the record stays Chinese

    page = client_for(county_secretary).get(f"/documents/{notice.id}/?receipt={receipt.id}",
                                            HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"“{notice.title}” is due at " in page and "please handle it promptly" in page
    assert "请抓紧办理" not in page
    chinese = client_for(county_secretary).get(f"/documents/{notice.id}/?receipt={receipt.id}").content.decode()
    assert stored in chinese


def test_it_lists_the_to_do_items_as_english_sentences(units, notice, client_for, county_secretary):
    items = client_for(county_secretary).get("/api/office/todo", HTTP_ACCEPT_LANGUAGE="en").json()["items"]
    incoming = [i for i in items if i["kind"] == "documents.incoming"]
    assert [i["title"] for i in incoming] == [f"To sign for: {notice.title}"]
    chinese = client_for(county_secretary).get("/api/office/todo").json()["items"]
    assert f"待签收：{notice.title}" in [i["title"] for i in chinese]


def test_it_names_who_may_act_in_one_english_phrase(units, notice, client_for, county_leader):
    receipt = Receipt.objects.get(document=notice, unit=units["秦都区"])
    r = client_for(county_leader).post(f"/api/documents/receipts/{receipt.id}/propose",
                                       data=json.dumps({"text": "拟请办公室牵头办理"}),
                                       content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert "secretary/clerk or handler" in detail and " or " in detail, detail
    assert "或" not in detail


def test_it_labels_the_document_type_in_english(notice, client_for, county_secretary):
    page = client_for(county_secretary).get("/documents/?box=inbox", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert notice.title in page
    assert "<td>Notice</td>" in page and "<td>通知</td>" not in page


def test_it_exports_the_distribution_tracking_in_english(units, notice, client_for, city_secretary):
    import io

    import pdfplumber

    client = client_for(city_secretary)
    rows = client.get(f"/api/documents/{notice.id}/tracking.csv", HTTP_ACCEPT_LANGUAGE="en").content \
        .decode("utf-8-sig").splitlines()
    assert rows[1].startswith("Recipient units,Main / copy,Status,Signed for by,Signed for at,")
    assert rows[2].startswith("秦都区人民政府,Main recipient,")
    pdf = client.get(f"/api/documents/{notice.id}/tracking.pdf", HTTP_ACCEPT_LANGUAGE="en")
    with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
        text = doc.pages[0].extract_text()
    assert "Distribution tracking:" in text and "Issued by:" in text
    assert "公文分发跟踪" not in text and "发文机关" not in text


def test_it_refuses_a_classified_file_in_english(client_for, city_secretary):
    from django.utils import translation

    from documents.classified import ClassifiedRefused

    with translation.override("en"):
        refusal = ClassifiedRefused("机密")
    assert refusal.message.startswith("This file is marked “机密” (classified).")
    assert refusal.status == 400 and refusal.code == "classified"
