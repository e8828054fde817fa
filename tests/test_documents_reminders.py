"""催办: a scheduled job that never sends twice, a manual reminder with a message, escalation when overdue."""
import datetime as dt

import pytest
from django.core.management import call_command

from documents.models import Receipt, Reminder
from documents.reminders import run_reminders
from tests.test_documents_support import call, dispatched

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr("office.events._publish", sent.append)
    return sent


@pytest.fixture
def notice(units, city_secretary, city_leader):
    return dispatched(city_secretary, city_leader, main=[units["秦都区"].id, units["乾县"].id])


def test_it_reminds_before_and_at_the_deadline_once_each_and_then_tells_the_leader(
        units, notice, county_secretary, county_leader, outsider, published, django_capture_on_commit_callbacks):
    receipt = Receipt.objects.get(document=notice, unit=units["秦都区"])
    deadline = receipt.deadline
    with django_capture_on_commit_callbacks(execute=True):
        assert run_reminders(now=deadline - dt.timedelta(days=3)) == 0
        assert run_reminders(now=deadline - dt.timedelta(hours=3)) == 2  # both recipients: "before"
        assert run_reminders(now=deadline - dt.timedelta(hours=2)) == 0  # never twice
    kinds = Reminder.objects.filter(receipt=receipt).values_list("kind", flat=True)
    assert list(kinds) == ["before"]
    assert Reminder.objects.get(receipt=receipt).people == [county_secretary.id]
    assert any(f'"receipt": {receipt.id}' in m["frame"] and m["people"] == [county_secretary.id] for m in published)
    # the other county signs and finishes: it gets nothing more
    other = Receipt.objects.get(document=notice, unit=units["乾县"])
    Receipt.objects.filter(id=other.id).update(state="done")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_reminders(now=deadline + dt.timedelta(minutes=1)) == 1
        assert run_reminders(now=deadline + dt.timedelta(hours=25)) == 1
        assert run_reminders(now=deadline + dt.timedelta(hours=26)) == 0
    assert sorted(Reminder.objects.filter(receipt=receipt).values_list("kind", flat=True)) == ["before", "due", "escalate"]
    assert Reminder.objects.get(receipt=receipt, kind="escalate").people == [county_leader.id]
    assert not Reminder.objects.filter(receipt=other).exclude(kind="before").exists()


def test_it_survives_a_restart_because_what_was_sent_is_in_the_database(notice):
    receipt = Receipt.objects.filter(document=notice).first()
    now = receipt.deadline + dt.timedelta(minutes=5)
    assert run_reminders(now=now) == 2
    # a new process (the command) finds everything already sent
    call_command("run_reminders", "--once")
    assert Reminder.objects.filter(kind="due").count() == 2
    assert Reminder.objects.filter(kind="before").count() == 0  # too late for "before": not sent late


def test_it_sends_a_manual_reminder_with_a_message_from_the_senders_secretary(
        units, notice, city_secretary, county_secretary, published, client_for, django_capture_on_commit_callbacks):
    receipt = Receipt.objects.get(document=notice, unit=units["秦都区"])
    c = client_for(city_secretary)
    status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/remind", {"message": ""})
    assert status == 400 and "催办内容不能为空" in body["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(c, "post", f"/api/documents/receipts/{receipt.id}/remind", {"message": "请于今天下班前签收。"})
    assert status == 201
    r = Reminder.objects.get(kind="manual")
    assert r.message == "请于今天下班前签收。" and r.sent_by_id == city_secretary.id and r.people == [county_secretary.id]
    assert any(m["people"] == [county_secretary.id] and '"reminder"' in m["frame"] for m in published)
    # the recipient cannot chase the sender
    status, _ = call(client_for(county_secretary), "post", f"/api/documents/receipts/{receipt.id}/remind", {"message": "x"})
    assert status == 403


def test_it_refuses_a_bad_interval_for_the_reminder_loop():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="interval"):
        call_command("run_reminders", "--interval", "0")


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_job_in_a_background_thread_of_the_server_process(seed_small):
    import time

    from django.utils import timezone

    from documents.reminders import start_in_process

    units, people = seed_small
    doc = dispatched(people["city_secretary"], people["city_leader"], main=[units["秦都区"].id])
    Receipt.objects.filter(document=doc).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    thread = start_in_process(interval=0.2)
    try:
        for _ in range(50):
            if Reminder.objects.filter(kind="due").exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)  # more passes: still one
        assert Reminder.objects.filter(kind="due").count() == 1
    finally:
        thread.stop.set()
        thread.join(5)


def test_it_chases_every_unfinished_recipient_at_once_or_only_the_overdue(units, notice, city_secretary,
                                                                         county_secretary, town_secretary, client_for):
    c = client_for(city_secretary)
    qindu = Receipt.objects.get(document=notice, unit=units["秦都区"])
    Receipt.objects.filter(id=qindu.id).update(deadline=qindu.delivered_at - dt.timedelta(hours=1))
    status, body = call(c, "post", f"/api/documents/{notice.id}/remind", {"message": "请按期办结。", "only_overdue": True})
    assert status == 200 and body["count"] == 1
    assert Reminder.objects.get().people == [county_secretary.id]
    status, body = call(c, "post", f"/api/documents/{notice.id}/remind", {"message": "请按期办结。"})
    assert status == 200 and body["count"] == 2
    Receipt.objects.filter(document=notice).update(state="done")
    status, body = call(c, "post", f"/api/documents/{notice.id}/remind", {"message": "请按期办结。"})
    assert status == 409 and "没有需要催办" in body["detail"]
    # a recipient cannot chase on the sender's behalf; a unit it was not sent to does not even see it
    assert call(client_for(county_secretary), "post", f"/api/documents/{notice.id}/remind", {"message": "x"})[0] == 403
    assert call(client_for(town_secretary), "post", f"/api/documents/{notice.id}/remind", {"message": "x"})[0] == 404
