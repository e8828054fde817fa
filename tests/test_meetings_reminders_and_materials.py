"""Reminders before the start (a periodic job), and the meeting's materials (files)."""
import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


def test_it_reminds_the_invited_once_shortly_before_the_start(county_secretary, units, sent_events):
    from meetings.actions import send_reminders

    soon = schedule(county_secretary, unit_ids=[units["人民路社区"].id], start_in=datetime.timedelta(minutes=10))
    later = schedule(county_secretary, unit_ids=[units["北街村"].id], start_in=datetime.timedelta(hours=3))
    assert send_reminders() == 1
    (event, people, event_units), = sent_events.of("reminder")
    assert event["meeting"] == soon.id and event_units == [units["人民路社区"].id]
    assert send_reminders() == 0  # once only
    assert send_reminders(now=timezone.now() + datetime.timedelta(hours=2, minutes=50)) == 1
    later.refresh_from_db()
    assert later.reminded_at is not None


def test_it_reminds_again_after_the_start_was_moved(county_secretary, units):
    from meetings.actions import do_update, send_reminders

    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id], start_in=datetime.timedelta(minutes=5))
    assert send_reminders() == 1
    new_start = meeting.starts_at + datetime.timedelta(minutes=3)
    do_update(county_secretary, meeting, starts_at=new_start, ends_at=new_start + datetime.timedelta(hours=1))
    assert send_reminders() == 1


def test_it_runs_as_a_management_command_and_refuses_a_bad_lead(county_secretary, units, capsys):
    schedule(county_secretary, unit_ids=[units["人民路社区"].id], start_in=datetime.timedelta(minutes=40))
    call_command("meetings_remind", "--lead-minutes", "60")
    assert "已提醒 1 个会议或培训" in capsys.readouterr().out
    with pytest.raises(CommandError, match="1 到 1440"):
        call_command("meetings_remind", "--lead-minutes", "0")


def test_it_hands_out_materials_to_the_invited_only(settings, tmp_path, client_for, county_secretary, village_cadre,
                                                    outsider, units):
    settings.MEDIA_ROOT = tmp_path
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id])
    upload = SimpleUploadedFile("培训课件.pdf", b"%PDF-1.4 slides", content_type="application/pdf")
    res = client_for(county_secretary).post(f"/meetings/{meeting.id}/materials/", {"file": upload})
    assert res.status_code == 302
    material = meeting.materials.get()
    assert material.name == "培训课件.pdf" and material.size == len(b"%PDF-1.4 slides")
    got = client_for(village_cadre).get(f"/meetings/{meeting.id}/materials/{material.id}/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"%PDF-1.4 slides"
    assert client_for(outsider).get(f"/meetings/{meeting.id}/materials/{material.id}/").status_code == 403
    # a participant cannot upload
    res = client_for(village_cadre).post(f"/meetings/{meeting.id}/materials/",
                                         {"file": SimpleUploadedFile("x.txt", b"x")}, follow=True)
    assert "只有主持人" in res.content.decode() and meeting.materials.count() == 1


def test_it_refuses_an_oversized_material(settings, tmp_path, client_for, county_secretary, units):
    settings.MEDIA_ROOT = tmp_path
    settings.YW_MAX_UPLOAD_BYTES = 1024
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id])
    res = client_for(county_secretary).post(f"/meetings/{meeting.id}/materials/",
                                            {"file": SimpleUploadedFile("big.bin", b"x" * 2048)}, follow=True)
    assert "文件过大" in res.content.decode() and not meeting.materials.exists()
