"""Scheduling meetings and trainings: invitations by person, unit, level, and all villages of a town."""
import datetime

import pytest
from django.utils import timezone

from office.errors import ActionError
from tests.meetings_support import post_of, schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


def _payload(**kw):
    starts = timezone.now() + datetime.timedelta(hours=2)
    data = {"kind": "training", "title": "乡村振兴远程培训", "agenda": "一、政策解读\n二、交流",
            "starts_at": starts.isoformat(), "ends_at": (starts + datetime.timedelta(hours=1)).isoformat()}
    data.update(kw)
    return data


def test_it_schedules_a_training_for_all_villages_of_a_town_through_the_api(client_for, town_secretary, units,
                                                                            village_cadre, village_cadre2,
                                                                            sent_events):
    res = client_for(town_secretary).post("/api/meetings/", _payload(villages_of=[units["人民路街道"].id]),
                                          content_type="application/json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["kind"] == "training" and body["state"] == "scheduled" and body["is_host"]
    from meetings.models import Invitation

    invited = set(Invitation.objects.filter(meeting_id=body["id"]).values_list("unit__short_name", "via"))
    assert invited == {("人民路社区", "town_villages"), ("北街村", "town_villages")}
    # the invitation goes out as a live event to the invited units (and the host)
    (event, people, event_units), = sent_events.of("invited")
    assert event == {"type": "meeting", "op": "invited", "meeting": body["id"]}
    assert set(event_units) == {units["人民路社区"].id, units["北街村"].id}
    assert town_secretary.id in people


def test_it_expands_a_level_within_a_county_and_dedupes_overlapping_choices(county_secretary, units):
    from meetings.models import Invitation

    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id],
                       levels=[{"level": 4, "within": units["秦都区"].id}], villages_of=[units["人民路街道"].id])
    rows = list(Invitation.objects.filter(meeting=meeting).values_list("unit__short_name", "via"))
    assert sorted(rows) == sorted([("人民路社区", "unit"), ("北街村", "level"), ("西兰路社区", "level"),
                                   ("陈杨寨村", "level")])


def test_it_previews_the_expansion_of_a_level(client_for, county_secretary, units):
    rows = client_for(county_secretary).get("/api/meetings/units/expand", {"level": 3}).json()
    assert [r["name"] for r in rows] == ["人民路街道办事处", "渭阳西路街道办事处"]


def test_it_previews_the_villages_of_several_towns_and_single_units(client_for, county_secretary, units):
    rows = client_for(county_secretary).get("/api/meetings/units/expand", {
        "villages_of": [units["人民路街道"].id, units["渭阳西路街道"].id], "unit": [units["区财政局"].id]}).json()
    assert {(r["name"], r["via"]) for r in rows} == {
        ("秦都区财政局", "unit"), ("人民路社区居民委员会", "town_villages"), ("北街村民委员会", "town_villages"),
        ("西兰路社区居民委员会", "town_villages"), ("陈杨寨村民委员会", "town_villages")}
    assert len(rows) == 5
    bad = client_for(county_secretary).get("/api/meetings/units/expand", {"villages_of": [units["北街村"].id]})
    assert bad.status_code == 400 and "不是镇(街道)" in bad.json()["detail"]


def test_it_keeps_a_county_inside_its_own_subtree(client_for, county_secretary, units):
    res = client_for(county_secretary).post("/api/meetings/", _payload(unit_ids=[units["乾县"].id]),
                                            content_type="application/json")
    assert res.status_code == 403
    assert "只能邀请本单位及下级单位" in res.json()["detail"]
    from meetings.models import Meeting

    assert not Meeting.objects.exists()


@pytest.mark.parametrize("change, message", [
    ({"title": "   "}, "会议名称不能为空"),
    ({"title": "长" * 201}, "会议名称不能超过200个字"),
    ({"kind": "party"}, "会议类型"),
    ({"starts_at": (timezone.now() - datetime.timedelta(hours=3)).isoformat()}, "开始时间不能早于现在"),
    ({"ends_at": (timezone.now() + datetime.timedelta(minutes=30)).isoformat()}, "结束时间必须晚于开始时间"),
    ({"unit_ids": [999999]}, "未知的单位"),
    ({"person_ids": [999999]}, "未知的人员"),
    ({"levels": [{"level": 7}]}, "层级应为1"),
    ({"villages_of": ["__county__"]}, "不是镇(街道)"),
])
def test_it_refuses_bad_schedules_with_a_chinese_message_and_writes_nothing(client_for, county_secretary, units,
                                                                            change, message):
    from meetings.models import Invitation, Meeting

    if change.get("villages_of") == ["__county__"]:
        change = {"villages_of": [units["秦都区"].id]}
    data = _payload(unit_ids=[units["人民路街道"].id])
    data.update(change)
    res = client_for(county_secretary).post("/api/meetings/", data, content_type="application/json")
    assert res.status_code == 400, res.content
    assert message in res.json()["detail"]
    assert not Meeting.objects.exists() and not Invitation.objects.exists()


def test_it_refuses_a_meeting_that_invites_nobody(county_secretary):
    with pytest.raises(ActionError, match="请至少邀请"):
        schedule(county_secretary)


def test_it_schedules_through_the_form_and_shows_the_form_errors(client_for, county_secretary, units):
    client = client_for(county_secretary)
    page = client.get("/meetings/new/")
    assert page.status_code == 200 and "pick-town" in page.content.decode()
    starts = timezone.localtime() + datetime.timedelta(days=1)
    form = {"kind": "meeting", "title": "防汛工作部署会", "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (starts - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "unit": [units["人民路街道"].id], "level": ["4"], "level_within": [str(units["渭阳西路街道"].id)]}
    bad = client.post("/meetings/new/", form)
    assert bad.status_code == 400 and "结束时间必须晚于开始时间" in bad.content.decode()
    form["ends_at"] = (starts + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    ok = client.post("/meetings/new/", form)
    assert ok.status_code == 302
    from meetings.models import Meeting

    meeting = Meeting.objects.get()
    assert ok["Location"] == f"/meetings/{meeting.id}/"
    assert timezone.localtime(meeting.starts_at).strftime("%Y-%m-%dT%H:%M") == form["starts_at"]
    names = set(meeting.invitations.values_list("unit__short_name", flat=True))
    assert names == {"人民路街道", "西兰路社区", "陈杨寨村"}


def test_it_shows_invitations_and_upcoming_meetings_in_the_todo_list(client_for, county_secretary, village_cadre,
                                                                     outsider, units):
    meeting = schedule(county_secretary, title="秋季防火培训", kind="training", unit_ids=[units["人民路社区"].id])
    items = client_for(village_cadre).get("/api/office/todo").json()["items"]
    mine = [i for i in items if i["kind"] == "meeting"]
    assert len(mine) == 1 and "秋季防火培训" in mine[0]["title"] and mine[0]["url"] == f"/meetings/{meeting.id}/"
    assert client_for(village_cadre).get("/api/office/todo/count").json()["count"] >= 1
    assert not [i for i in client_for(outsider).get("/api/office/todo").json()["items"] if i["kind"] == "meeting"]
    # once it is live, the item is one click from the room
    from meetings.actions import do_participant_joined

    do_participant_joined(county_secretary, meeting, "video")
    live = [i for i in client_for(village_cadre).get("/api/office/todo").json()["items"] if i["kind"] == "meeting"]
    assert live[0]["url"] == f"/meetings/{meeting.id}/room/" and live[0]["title"].startswith("【进行中】")


def test_it_updates_and_cancels_and_tells_the_invited(client_for, county_secretary, county_leader, village_cadre,
                                                      units, sent_events):
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id], person_ids=[county_leader.id])
    client = client_for(county_secretary)
    new_start = meeting.starts_at + datetime.timedelta(days=1)
    res = client.patch(f"/api/meetings/{meeting.id}", {"title": "改期后的会议", "starts_at": new_start.isoformat(),
                                                       "ends_at": (new_start + datetime.timedelta(hours=2)).isoformat()},
                       content_type="application/json")
    assert res.status_code == 200 and res.json()["title"] == "改期后的会议"
    (event, people, event_units), = sent_events.of("updated")
    assert county_leader.id in people and units["人民路社区"].id in event_units
    # a participant may not change or cancel it
    assert client_for(village_cadre).post(f"/api/meetings/{meeting.id}/cancel").status_code == 403
    res = client.post(f"/api/meetings/{meeting.id}/cancel")
    assert res.status_code == 200 and res.json()["state"] == "cancelled"
    assert sent_events.of("cancelled")
    again = client.post(f"/api/meetings/{meeting.id}/cancel")
    assert again.status_code == 409 and "已取消" in again.json()["detail"]


def test_it_adds_invitations_later_and_only_the_new_ones_are_told(client_for, county_secretary, units, village_cadre2,
                                                                  sent_events):
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id])
    sent_events.clear()
    res = client_for(county_secretary).post(f"/api/meetings/{meeting.id}/invitations",
                                            {"unit_ids": [units["人民路社区"].id, units["北街村"].id]},
                                            content_type="application/json")
    assert res.json() == {"people_added": 0, "units_added": 1}
    (event, people, event_units), = sent_events.of("invited")
    assert event_units == [units["北街村"].id]


def test_it_withdraws_an_invitation_and_changes_co_hosts(client_for, county_secretary, county_leader, village_cadre,
                                                         units):
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id, units["北街村"].id])
    host = client_for(county_secretary)
    rows = host.get(f"/api/meetings/{meeting.id}/invitations").json()
    community = [r for r in rows if r["unit_name"] == "人民路社区居民委员会"][0]
    assert client_for(village_cadre).delete(f"/api/meetings/{meeting.id}/invitations/{community['id']}").status_code == 403
    assert host.delete(f"/api/meetings/{meeting.id}/invitations/{community['id']}").status_code == 204
    assert client_for(village_cadre).get(f"/api/meetings/{meeting.id}").status_code == 403
    res = host.patch(f"/api/meetings/{meeting.id}", {"co_host_ids": [county_leader.id]}, content_type="application/json")
    assert res.json()["co_hosts"] == [{"id": county_leader.id, "name": "周区长"}]
    assert client_for(county_leader).post(f"/api/meetings/{meeting.id}/host", {"command": "lock"},
                                          content_type="application/json").status_code == 200
    bad = host.patch(f"/api/meetings/{meeting.id}", {"title": ""}, content_type="application/json")
    assert bad.status_code == 400 and "会议名称不能为空" in bad.json()["detail"]
