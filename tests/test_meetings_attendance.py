"""Training attendance: join/leave intervals, minutes present, audio-only, 签到, the per-unit report."""
import csv
import datetime
import io

import pytest
from django.utils import timezone

from office.errors import ActionError
from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


def _shift(meeting, person, minutes_ago_joined, minutes_ago_left=None, session_key=None):
    """Moves the person's latest interval back in time (tests cannot wait half an hour)."""
    from meetings.models import Attendance

    row = Attendance.objects.filter(meeting=meeting, person=person).order_by("-id").first()
    now = timezone.now()
    row.joined_at = now - datetime.timedelta(minutes=minutes_ago_joined)
    if minutes_ago_left is not None:
        row.left_at = now - datetime.timedelta(minutes=minutes_ago_left)
    Attendance.objects.filter(id=row.id).update(joined_at=row.joined_at, left_at=row.left_at)


def _scheduled(meeting, starts_minutes_ago, ends_minutes_ago=None):
    """Moves the meeting's schedule back in time (scheduling refuses a start in the past)."""
    from meetings.models import Meeting

    now = timezone.now()
    meeting.starts_at = now - datetime.timedelta(minutes=starts_minutes_ago)
    if ends_minutes_ago is not None:
        meeting.ends_at = now - datetime.timedelta(minutes=ends_minutes_ago)
    Meeting.objects.filter(id=meeting.id).update(starts_at=meeting.starts_at, ends_at=meeting.ends_at)
    return meeting


@pytest.fixture
def training(county_secretary, units):
    """A training that started an hour ago (so that intervals moved back in time are inside it)."""
    return _scheduled(schedule(county_secretary, kind="training", title="农村人居环境整治培训",
                               villages_of=[units["人民路街道"].id], unit_ids=[units["陈杨寨村"].id]), 60)


def test_it_records_join_and_leave_intervals_and_starts_the_meeting(training, village_cadre, sent_events):
    from meetings.actions import do_participant_joined, do_participant_left
    from meetings.models import Attendance, Participant

    row = do_participant_joined(village_cadre, training, "video", session_key="tab-1")
    training.refresh_from_db()
    assert training.state == "live" and training.started_at is not None
    assert row.unit.short_name == "人民路社区" and row.left_at is None
    assert sent_events.of("started")
    # the same session reported twice opens no second interval
    assert do_participant_joined(village_cadre, training, "video", session_key="tab-1").id == row.id
    do_participant_left(village_cadre, training, session_key="tab-1")
    assert Attendance.objects.get(id=row.id).left_at is not None
    assert not Participant.objects.get(meeting=training, person=village_cadre).online


def test_it_counts_two_overlapping_tabs_once_and_keeps_the_person_online_until_both_leave(training, village_cadre):
    from meetings.actions import do_participant_joined, do_participant_left
    from meetings.models import Participant
    from meetings.reports import person_summaries

    do_participant_joined(village_cadre, training, "video", session_key="tab-1")
    _shift(training, village_cadre, 30)
    do_participant_joined(village_cadre, training, "video", session_key="tab-2")
    _shift(training, village_cadre, 20)
    do_participant_left(village_cadre, training, session_key="tab-1")
    assert Participant.objects.get(meeting=training, person=village_cadre).online
    do_participant_left(village_cadre, training, session_key="tab-2")
    assert not Participant.objects.get(meeting=training, person=village_cadre).online
    minutes = person_summaries(training)[village_cadre.id]["minutes"]
    assert 29.5 <= minutes <= 30.5  # not 50


def test_it_counts_minutes_from_the_scheduled_start_until_the_meeting_really_ends(training, county_secretary,
                                                                                   village_cadre, village_cadre2):
    from meetings.actions import do_host_command, do_participant_joined, do_participant_left
    from meetings.reports import attendance_report, person_summaries

    # scheduled 20 minutes ago for 15 minutes: it overruns by 5 minutes and is ended now
    _scheduled(training, 20, 5)
    do_participant_joined(village_cadre, training, "video", session_key="early")
    _shift(training, village_cadre, 50)  # in the room 30 minutes before the start
    do_participant_joined(village_cadre2, training, "audio", session_key="gone")
    _shift(training, village_cadre2, 40, 25)  # came early and left before the start
    do_host_command(county_secretary, training, "end")
    training.refresh_from_db()

    summaries = person_summaries(training)
    assert 19.5 <= summaries[village_cadre.id]["minutes"] <= 20.5  # not 50 (early), not 15 (overrun)
    assert summaries[village_cadre2.id]["minutes"] == 0.0
    later = person_summaries(training, now=timezone.now() + datetime.timedelta(hours=2))
    assert later[village_cadre.id]["minutes"] == summaries[village_cadre.id]["minutes"]  # ended: no more
    rows = {p["name"]: p for g in attendance_report(training)["units"] for p in g["people"]}
    assert 19.5 <= rows["褚书记"]["minutes"] <= 20.5
    assert rows["卫文书"]["first_join"] < training.starts_at  # when they came is still shown as it was


def test_it_splits_the_interval_when_someone_switches_to_audio_only(training, village_cadre, village_cadre2):
    from meetings.actions import do_participant_joined, do_set_media_mode
    from meetings.models import Attendance
    from meetings.reports import person_summaries

    do_participant_joined(village_cadre, training, "video", session_key="a")
    do_set_media_mode(village_cadre, training, "audio")
    modes = list(Attendance.objects.filter(meeting=training, person=village_cadre).values_list("media_mode", flat=True))
    assert modes == ["video", "audio"]
    do_participant_joined(village_cadre2, training, "audio", session_key="b")
    _shift(training, village_cadre2, 12)
    summaries = person_summaries(training)
    assert summaries[village_cadre2.id]["mode"] == "仅音频"
    assert summaries[village_cadre.id]["mode"] in ("音视频混合", "视频", "仅音频")
    with pytest.raises(ActionError, match="未知的媒体模式"):
        do_set_media_mode(village_cadre, training, "smell")


def test_it_runs_a_check_in_window_during_the_session(client_for, training, county_secretary, village_cadre,
                                                      village_cadre2, outsider, sent_events):
    from meetings.actions import do_participant_joined

    host = client_for(county_secretary)
    early = host.post(f"/api/meetings/{training.id}/checkin/start", {"minutes": 5}, content_type="application/json")
    assert early.status_code == 409 and "会议开始后" in early.json()["detail"]
    do_participant_joined(county_secretary, training, "video")
    bad = host.post(f"/api/meetings/{training.id}/checkin/start", {"minutes": 0}, content_type="application/json")
    assert bad.status_code == 400 and "1至60分钟" in bad.json()["detail"]
    assert host.post(f"/api/meetings/{training.id}/checkin/start", {"minutes": 5},
                     content_type="application/json").status_code == 200
    assert sent_events.of("checkin")
    cadre = client_for(village_cadre)
    assert cadre.get(f"/api/meetings/{training.id}/checkin").json()["open"] is True
    absent = cadre.post(f"/api/meetings/{training.id}/checkin")
    assert absent.status_code == 409 and "请先进入会议" in absent.json()["detail"]
    do_participant_joined(village_cadre, training, "video")
    assert cadre.post(f"/api/meetings/{training.id}/checkin").status_code == 200
    twice = cadre.post(f"/api/meetings/{training.id}/checkin")
    assert twice.status_code == 409 and "已签到" in twice.json()["detail"]
    assert cadre.get(f"/api/meetings/{training.id}/checkin").json()["checked_in"] is True
    assert client_for(outsider).post(f"/api/meetings/{training.id}/checkin").status_code == 403
    assert client_for(village_cadre).post(f"/api/meetings/{training.id}/checkin/start", {"minutes": 5},
                                          content_type="application/json").status_code == 403


def _run_training(training, county_secretary, village_cadre, village_cadre2):
    from meetings.actions import (do_check_in, do_host_command, do_participant_joined, do_participant_left,
                                  do_start_checkin)

    do_participant_joined(county_secretary, training, "video", session_key="h")
    do_participant_joined(village_cadre, training, "video", session_key="c1")
    _shift(training, village_cadre, 45, 5)
    do_participant_joined(village_cadre2, training, "audio", session_key="c2")
    _shift(training, village_cadre2, 20)
    do_start_checkin(county_secretary, training, 5)
    do_check_in(village_cadre2, training)
    do_participant_left(village_cadre2, training)
    do_host_command(county_secretary, training, "end")


def test_it_reports_attendance_per_unit_with_who_attended_and_who_missed(client_for, training, county_secretary,
                                                                         village_cadre, village_cadre2, units):
    from meetings.reports import attendance_report

    _run_training(training, county_secretary, village_cadre, village_cadre2)
    training.refresh_from_db()
    report = attendance_report(training)
    by_name = {g["name"]: g for g in report["units"]}
    assert list(by_name)[:3] == ["人民路社区居民委员会", "北街村民委员会", "陈杨寨村民委员会"]
    community = by_name["人民路社区居民委员会"]
    assert (community["invited"], community["attended"], community["missed"]) == (1, 1, 0)
    褚 = community["people"][0]
    assert 褚["name"] == "褚书记" and 39.5 <= 褚["minutes"] <= 40.5 and not 褚["checked_in"]
    north = by_name["北街村民委员会"]["people"][0]
    assert north["name"] == "卫文书" and north["checked_in"] and north["mode"] == "仅音频"
    assert 19.5 <= north["minutes"] <= 20.5
    assert (by_name["陈杨寨村民委员会"]["invited"], by_name["陈杨寨村民委员会"]["attended"]) == (0, 0)
    host_group = by_name["个人邀请及主持人"]
    assert [p["name"] for p in host_group["people"]] == ["吴秘书"] and host_group["attended"] == 1
    assert report["totals"] == {"invited": 3, "attended": 3, "missed": 0, "checked_in": 1}

    page = client_for(county_secretary).get(f"/meetings/{training.id}/attendance/").content.decode()
    assert "<svg" in page and 'data-unit="人民路社区居民委员会" data-attended="1" data-missed="0"' in page
    assert client_for(village_cadre).get(f"/meetings/{training.id}/attendance/").status_code == 403


def test_it_marks_a_member_who_never_joined_as_missed(training, county_secretary, units):
    from meetings.actions import do_participant_joined
    from meetings.reports import attendance_report

    do_participant_joined(county_secretary, training, "video")
    report = attendance_report(training)
    community = [g for g in report["units"] if g["unit_id"] == units["人民路社区"].id][0]
    assert community["missed"] == 1 and community["people"][0]["attended"] is False


def test_it_exports_the_report_as_csv_and_pdf_with_a_chart(client_for, training, county_secretary, village_cadre,
                                                           village_cadre2):
    import pdfplumber

    _run_training(training, county_secretary, village_cadre, village_cadre2)
    client = client_for(county_secretary)
    res = client.get(f"/meetings/{training.id}/attendance.csv")
    assert res.status_code == 200 and res["Content-Type"].startswith("text/csv")
    assert "filename*=UTF-8''" in res["Content-Disposition"]
    text = res.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["单位", "姓名", "是否出席", "在线分钟"]
    row = [r for r in rows if r[1] == "卫文书"][0]
    assert row[0] == "北街村民委员会" and row[2] == "出席" and row[6] == "仅音频" and row[7] == "已签到"

    pdf = client.get(f"/meetings/{training.id}/attendance.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
        first = doc.pages[0]
        words = first.extract_text()
        assert "农村人居环境整治培训" in words and "出勤报告" in words
        assert "褚书记" in words and "北街村民委员会" in words
        assert len(first.rects) >= 4  # the bar chart and the table cells are drawn

    svg = client.get(f"/meetings/{training.id}/attendance.svg")
    assert svg["Content-Type"].startswith("image/svg+xml") and svg.content.decode().count('class="bar"') == 3


def test_it_lets_an_early_participant_wait_without_starting_the_meeting(county_secretary, village_cadre, units):
    from meetings.actions import do_participant_joined

    later = schedule(county_secretary, unit_ids=[units["人民路社区"].id], start_in=datetime.timedelta(hours=1))
    do_participant_joined(village_cadre, later, "video")
    later.refresh_from_db()
    assert later.state == "scheduled" and later.started_at is None
    do_participant_joined(county_secretary, later, "video")
    later.refresh_from_db()
    assert later.state == "live" and later.started_at is not None


def test_it_gives_the_host_the_report_as_json(client_for, training, county_secretary, village_cadre, village_cadre2):
    _run_training(training, county_secretary, village_cadre, village_cadre2)
    data = client_for(county_secretary).get(f"/api/meetings/{training.id}/attendance").json()
    assert data["totals"]["attended"] == 3
    north = [g for g in data["units"] if g["name"] == "北街村民委员会"][0]
    assert north["people"][0]["checked_in"] is True and north["people"][0]["first_join"]


def test_it_rolls_the_chart_up_to_towns_and_counties_when_many_units_are_invited(city_secretary, units):
    from meetings.reports import attendance_report, chart_bars

    training = schedule(city_secretary, kind="training", levels=[{"level": 4}])
    groups = attendance_report(training)["units"]
    assert len([g for g in groups if g["unit_id"]]) == 7
    for g in groups:  # give every village someone invited so that each has a bar
        g["invited"] = g["missed"] = max(g["invited"], 1)
    by_town = chart_bars(groups, max_bars=4)
    assert sorted((b["name"], b["units"]) for b in by_town if b["units"]) == [
        ("人民路街道办事处（2个单位）", 2), ("城关街道办事处（2个单位）", 2), ("渭阳西路街道办事处（2个单位）", 2),
        ("薛录镇人民政府（1个单位）", 1)]
    by_county = chart_bars(groups, max_bars=2)
    assert sorted((b["name"], b["invited"]) for b in by_county if b["units"]) == [
        ("乾县人民政府（3个单位）", 3), ("秦都区人民政府（4个单位）", 4)]


def test_it_builds_the_pdf_of_a_training_with_a_hundred_villages(client_for, town_secretary, units):
    import pdfplumber

    from office.models import Person, Post, Unit, UnitKind

    town = units["人民路街道"]
    for i in range(100):  # test data: a town with a hundred more villages, one cadre each
        village = Unit.objects.create(parent=town, kind=UnitKind.VILLAGE, name=f"测试{i:03d}村民委员会")
        village.refresh_path()
        village.save(update_fields=["path", "depth"])
        cadre = Person.objects.create(username=f"cadre{i}", display_name=f"村干部{i:03d}")
        Post.objects.create(person=cadre, unit=village, is_secretary=True)
    training = schedule(town_secretary, kind="training", villages_of=[town.id])
    res = client_for(town_secretary).get(f"/meetings/{training.id}/attendance.pdf")
    assert res.status_code == 200
    with pdfplumber.open(io.BytesIO(res.content)) as doc:
        assert len(doc.pages) >= 3
        text = "".join(page.extract_text() for page in doc.pages)
    assert "测试099村民委员会" in text and "村干部099" in text and "应到 103 人" in text
    svg = client_for(town_secretary).get(f"/meetings/{training.id}/attendance.svg").content.decode()
    assert 'data-unit="人民路街道办事处（102个单位）"' in svg and svg.count('class="bar"') == 2
