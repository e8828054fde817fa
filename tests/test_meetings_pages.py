"""The meeting pages a host and a participant use: detail with its host tools, forms, check-in."""
import datetime

import pytest
from django.utils import timezone

from tests.meetings_support import schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def meeting(county_secretary, county_leader, units):
    return schedule(county_secretary, unit_ids=[units["人民路社区"].id], co_host_ids=[county_leader.id],
                    agenda="一、传达文件精神\n二、部署工作")


def test_it_shows_the_host_tools_only_to_hosts(client_for, meeting, county_secretary, county_leader, village_cadre):
    for host in (county_secretary, county_leader):
        html = client_for(host).get(f"/meetings/{meeting.id}/").content.decode()
        assert f'href="/meetings/{meeting.id}/roster/"' in html and 'id="cancel-button"' in html
    html = client_for(village_cadre).get(f"/meetings/{meeting.id}/").content.decode()
    assert "roster" not in html and 'id="cancel-button"' not in html
    assert "传达文件精神" in html and "人民路社区居民委员会" in html


def test_it_edits_a_live_meeting_title_through_the_form_without_touching_its_start(client_for, meeting,
                                                                                    county_secretary):
    from meetings.actions import do_participant_joined

    do_participant_joined(county_secretary, meeting, "video")
    client = client_for(county_secretary)
    form = {"title": "改名后的会议", "agenda": "新议程",
            "starts_at": timezone.localtime(meeting.starts_at).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": timezone.localtime(meeting.ends_at + datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
            "record": "1"}
    page = client.post(f"/meetings/{meeting.id}/edit/", form, follow=True).content.decode()
    assert "会议信息已更新" in page
    meeting.refresh_from_db()
    assert meeting.title == "改名后的会议" and meeting.record and meeting.state == "live"
    form["starts_at"] = timezone.localtime(meeting.starts_at + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page = client.post(f"/meetings/{meeting.id}/edit/", form, follow=True).content.decode()
    assert "会议已开始，不能修改开始时间" in page


def test_it_opens_a_check_in_from_the_detail_page_and_the_participant_checks_in(client_for, meeting, county_secretary,
                                                                               village_cadre):
    from meetings.actions import do_participant_joined
    from meetings.models import CheckIn

    do_participant_joined(county_secretary, meeting, "video")
    do_participant_joined(village_cadre, meeting, "video")
    client_for(county_secretary).post(f"/meetings/{meeting.id}/checkin/start/", {"minutes": "5"})
    cadre = client_for(village_cadre)
    assert 'id="checkin-button"' in cadre.get(f"/meetings/{meeting.id}/").content.decode()
    cadre.post(f"/meetings/{meeting.id}/checkin/")
    assert CheckIn.objects.filter(person=village_cadre).count() == 1
    assert 'id="checked-in"' in cadre.get(f"/meetings/{meeting.id}/").content.decode()


def test_it_ends_the_meeting_from_the_detail_page(client_for, meeting, county_secretary, village_cadre):
    from meetings.actions import do_participant_joined

    do_participant_joined(village_cadre, meeting, "video")
    page = client_for(county_secretary).post(f"/meetings/{meeting.id}/end/", follow=True).content.decode()
    assert "会议已结束" in page
    meeting.refresh_from_db()
    assert meeting.state == "ended"
    # an ended meeting offers no join button, and the room refuses
    html = client_for(village_cadre).get(f"/meetings/{meeting.id}/").content.decode()
    assert 'id="join-button"' not in html
    assert client_for(village_cadre).get(f"/meetings/{meeting.id}/room/").status_code == 409


def test_it_refuses_form_actions_from_outsiders_with_a_page_not_a_traceback(client_for, meeting, outsider):
    for path in ("cancel/", "end/", "checkin/", "invite/", "edit/"):
        res = client_for(outsider).post(f"/meetings/{meeting.id}/{path}")
        assert res.status_code == 403 and "未被邀请" in res.content.decode()
    assert client_for(outsider).post("/meetings/99999/cancel/").status_code == 404


def test_it_invites_more_units_from_the_detail_page(client_for, meeting, county_secretary, units):
    page = client_for(county_secretary).post(f"/meetings/{meeting.id}/invite/",
                                             {"villages_of": [units["渭阳西路街道"].id]}, follow=True).content.decode()
    assert "已追加邀请：0人，2个单位" in page
    assert set(meeting.invitations.values_list("unit__short_name", flat=True)) == {"人民路社区", "西兰路社区", "陈杨寨村"}


def test_it_gives_the_room_page_its_config_and_the_host_its_menu(client_for, meeting, county_secretary, village_cadre):
    import json
    import re

    html = client_for(county_secretary).get(f"/meetings/{meeting.id}/room/").content.decode()
    config = json.loads(re.search(r'<script id="room-config" type="application/json">(.*?)</script>', html, re.S)[1])
    assert config["ws"] == f"/ws/meetings/{meeting.id}/" and config["is_host"] is True
    assert config["person"] == county_secretary.id and config["waiting"] is False
    assert 'id="host-menu-list"' in html and 'id="btn-mute-all"' in html
    html = client_for(village_cadre).get(f"/meetings/{meeting.id}/room/").content.decode()
    assert 'id="host-menu-list"' not in html and 'id="chat-form"' in html and 'id="btn-hand"' in html
