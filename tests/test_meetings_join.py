"""Who may enter a meeting room: invited people, members of invited units, hosts; nobody else."""
import pytest

from office.errors import ActionError
from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def meeting(county_secretary, county_leader, units):
    return schedule(county_secretary, unit_ids=[units["人民路社区"].id], person_ids=[county_leader.id])


def test_it_lets_invited_people_unit_members_and_hosts_join(meeting, county_secretary, county_leader, village_cadre):
    from meetings.actions import check_join

    for person in (county_secretary, county_leader, village_cadre):
        assert check_join(person, meeting.id).id == meeting.id


def test_it_refuses_someone_not_invited_with_a_chinese_403(meeting, outsider, village_cadre2, client_for):
    from meetings.actions import check_join

    for person in (outsider, village_cadre2):
        with pytest.raises(ActionError) as exc:
            check_join(person, meeting.id)
        assert exc.value.status == 403 and "未被邀请" in exc.value.message
    res = client_for(outsider).post(f"/api/meetings/{meeting.id}/join")
    assert res.status_code == 403 and "未被邀请" in res.json()["detail"]
    page = client_for(outsider).get(f"/meetings/{meeting.id}/room/")
    assert page.status_code == 403 and "未被邀请" in page.content.decode()
    assert client_for(outsider).get(f"/meetings/{meeting.id}/").status_code == 403


def test_it_answers_404_for_a_meeting_that_does_not_exist(client_for, village_cadre, seed_small):
    res = client_for(village_cadre).post("/api/meetings/424242/join")
    assert res.status_code == 404 and res.json()["detail"] == "会议不存在。"


def test_it_gives_the_invited_person_one_click_from_the_detail_page_into_the_room(meeting, client_for, village_cadre):
    detail = client_for(village_cadre).get(f"/meetings/{meeting.id}/").content.decode()
    assert f'href="/meetings/{meeting.id}/room/"' in detail and 'id="join-button"' in detail
    room = client_for(village_cadre).get(f"/meetings/{meeting.id}/room/")
    assert room.status_code == 200
    html = room.content.decode()
    assert 'id="video-grid"' in html and "meetings/room.js" in html


def test_it_refuses_a_cancelled_or_ended_meeting(meeting, county_secretary, village_cadre):
    from meetings.actions import check_join, do_cancel

    do_cancel(county_secretary, meeting)
    with pytest.raises(ActionError, match="会议已取消") as exc:
        check_join(village_cadre, meeting.id)
    assert exc.value.status == 409


def test_it_holds_people_in_the_waiting_room_until_the_host_admits_them(county_secretary, village_cadre, units,
                                                                        client_for, sent_events):
    from meetings.actions import check_join, do_host_command
    from meetings.models import Participant

    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id], waiting_room=True)
    res = client_for(village_cadre).post(f"/api/meetings/{meeting.id}/join")
    assert res.status_code == 403 and res.json()["code"] == "waiting" and "等候室" in res.json()["detail"]
    assert Participant.objects.get(meeting=meeting, person=village_cadre).admission == "waiting"
    assert county_secretary.id in sent_events.people_for("roster")
    # the room page shows the waiting room instead of starting media
    page = client_for(village_cadre).get(f"/meetings/{meeting.id}/room/").content.decode()
    assert 'id="waiting-room"' in page
    assert check_join(county_secretary, meeting.id)  # the host never waits
    do_host_command(county_secretary, meeting, "admit", village_cadre.id)
    assert check_join(village_cadre, meeting.id).id == meeting.id
    (event, people, _units), = [e for e in sent_events.of("host") if e[0]["command"] == "admit"]
    assert village_cadre.id in people


def test_it_keeps_out_newcomers_of_a_locked_meeting_and_removed_people(county_secretary, village_cadre, village_cadre2,
                                                                      units):
    from meetings.actions import check_join, do_host_command, do_participant_joined

    meeting = schedule(county_secretary, villages_of=[units["人民路街道"].id])
    do_participant_joined(village_cadre, meeting, "video", session_key="s1")
    do_host_command(county_secretary, meeting, "lock")
    with pytest.raises(ActionError, match="会议已锁定"):
        check_join(village_cadre2, meeting.id)
    assert check_join(village_cadre, meeting.id)  # already in: may reconnect
    do_host_command(county_secretary, meeting, "remove", village_cadre.id)
    with pytest.raises(ActionError, match="移出"):
        check_join(village_cadre, meeting.id)
    do_host_command(county_secretary, meeting, "unlock")
    assert check_join(village_cadre2, meeting.id)


def test_it_lists_meetings_by_state_with_a_fixed_number_of_queries(client_for, county_secretary, county_leader,
                                                                  village_cadre, units, django_assert_max_num_queries):
    from meetings.actions import do_cancel, do_participant_joined

    client = client_for(village_cadre)

    def one_of_each(tag):
        schedule(county_secretary, unit_ids=[units["人民路社区"].id], title=f"未开始{tag}")
        live = schedule(county_secretary, unit_ids=[units["人民路社区"].id], co_host_ids=[county_leader.id],
                        title=f"进行中{tag}")
        do_participant_joined(village_cadre, live, "video")
        do_cancel(county_secretary, schedule(county_secretary, unit_ids=[units["人民路社区"].id], title=f"已取消{tag}"))

    one_of_each(0)
    client.get("/meetings/")  # warm up (session, caches)
    with django_assert_max_num_queries(12) as few:
        client.get("/meetings/")
    for i in range(1, 5):
        one_of_each(i)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/meetings/")
    html = page.content.decode()
    assert html.count('class="meeting-row') == 15
    live_section = html.split('id="section-live"')[1].split("</section>")[0]
    assert "进行中4" in live_section and "未开始4" not in live_section
    assert "周区长" in live_section  # co-hosts come from the prefetch, not a query per row


def test_it_lists_meetings_through_the_api(client_for, county_secretary, village_cadre, outsider, units):
    m = schedule(county_secretary, unit_ids=[units["人民路社区"].id], title="API列表会议")
    rows = client_for(village_cadre).get("/api/meetings/", {"scope": "upcoming"}).json()
    assert [r["id"] for r in rows] == [m.id] and rows[0]["room_url"] == f"/meetings/{m.id}/room/"
    assert client_for(outsider).get("/api/meetings/", {"scope": "upcoming"}).json() == []
    bad = client_for(outsider).get("/api/meetings/", {"scope": "someday"})
    assert bad.status_code == 400 and "scope" in bad.json()["detail"]


def test_it_lists_meetings_through_the_api_with_a_fixed_number_of_queries(client_for, county_secretary, county_leader,
                                                                         village_cadre, units,
                                                                         django_assert_max_num_queries):
    client = client_for(village_cadre)
    schedule(county_secretary, unit_ids=[units["人民路社区"].id], co_host_ids=[county_leader.id])
    client.get("/api/meetings/")
    with django_assert_max_num_queries(10) as few:
        assert len(client.get("/api/meetings/").json()) == 1
    for i in range(8):
        schedule(county_secretary, unit_ids=[units["人民路社区"].id], co_host_ids=[county_leader.id], title=f"会{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        rows = client.get("/api/meetings/").json()
    assert len(rows) == 9 and all(r["co_hosts"] == [{"id": county_leader.id, "name": "周区长"}] for r in rows)


def test_it_answers_ids_too_big_for_the_database_with_4xx_not_500(client_for, county_secretary, village_cadre, units):
    huge = 2**70
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id])
    client = client_for(county_secretary)
    assert client.post(f"/api/meetings/{huge}/join").status_code == 404
    assert client.get(f"/meetings/{huge}/").status_code == 404
    assert client.get(f"/meetings/{meeting.id}/recordings/{huge}/file").status_code == 404
    assert client.get(f"/meetings/{meeting.id}/materials/{huge}/").status_code == 404
    res = client.post(f"/api/meetings/{meeting.id}/host", {"command": "mute", "target": huge},
                      content_type="application/json")
    assert res.status_code == 400 and "参会人编号不正确" in res.json()["detail"]
    res = client.post("/api/meetings/", {"title": "会", "starts_at": meeting.starts_at.isoformat(),
                                         "ends_at": meeting.ends_at.isoformat(), "unit_ids": [huge]},
                      content_type="application/json")
    assert res.status_code in (400, 422)
    assert client.get(f"/api/meetings/{meeting.id}/chat", {"after": huge}).json() == []
    assert client.delete(f"/api/meetings/{meeting.id}/invitations/{huge}").status_code == 404


def test_it_keeps_the_break_glass_superuser_out_of_a_meeting_they_were_not_invited_to(meeting, admin, client_for):
    from meetings.actions import check_join, visible_meetings
    from office.models import Person

    Person.objects.filter(id=admin.id).update(is_superuser=True)  # as `createsuperuser` makes one
    admin.refresh_from_db()
    with pytest.raises(ActionError) as exc:
        check_join(admin, meeting.id)
    assert exc.value.status == 403
    assert meeting.id not in set(visible_meetings(admin).values_list("id", flat=True))
    assert client_for(admin).get(f"/meetings/{meeting.id}/").status_code == 403
    assert client_for(admin).get(f"/meetings/{meeting.id}/room/").status_code == 403
    assert client_for(admin).post(f"/api/meetings/{meeting.id}/join").status_code == 403
    listed = client_for(admin).get("/meetings/").content.decode()
    assert f"/meetings/{meeting.id}/" not in listed
