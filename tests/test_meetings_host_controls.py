"""Host controls (mute one/all, stop video, remove, lock, admit, presenter, end) and raised hands."""
import pytest

from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(county_secretary, county_leader, village_cadre, village_cadre2, units):
    from meetings.actions import do_participant_joined

    meeting = schedule(county_secretary, villages_of=[units["人民路街道"].id], co_host_ids=[county_leader.id])
    for person in (county_secretary, village_cadre, village_cadre2):
        do_participant_joined(person, meeting, "video", session_key=f"s-{person.id}")
    return meeting


def test_it_mutes_one_participant_records_it_and_tells_the_room(client_for, live, county_secretary, village_cadre,
                                                                 village_cadre2, sent_events):
    from meetings.models import HostAction, Participant
    from office.models import AuditEntry

    res = client_for(county_secretary).post(f"/api/meetings/{live.id}/host",
                                            {"command": "mute", "target": village_cadre.id},
                                            content_type="application/json")
    assert res.status_code == 200, res.content
    assert Participant.objects.get(meeting=live, person=village_cadre).muted_by_host
    assert not Participant.objects.get(meeting=live, person=village_cadre2).muted_by_host
    action = HostAction.objects.get(meeting=live)
    assert (action.command, action.actor_id, action.target_id) == ("mute", county_secretary.id, village_cadre.id)
    assert AuditEntry.objects.filter(action="meeting.host.mute", object_id=str(live.id)).exists()
    (event, people, _u), = sent_events.of("host")
    assert event == {"type": "meeting", "op": "host", "command": "mute", "meeting": live.id,
                     "target": village_cadre.id}
    assert {village_cadre.id, village_cadre2.id, county_secretary.id} <= set(people)


def test_it_lets_a_co_host_mute_everyone_but_the_hosts(client_for, live, county_leader, county_secretary,
                                                       village_cadre, village_cadre2):
    from meetings.models import Participant

    res = client_for(county_leader).post(f"/api/meetings/{live.id}/host", {"command": "mute_all"},
                                         content_type="application/json")
    assert res.status_code == 200
    muted = set(Participant.objects.filter(meeting=live, muted_by_host=True).values_list("person_id", flat=True))
    assert muted == {village_cadre.id, village_cadre2.id}


def test_it_refuses_host_commands_from_a_participant(client_for, live, village_cadre, village_cadre2):
    from meetings.models import HostAction

    res = client_for(village_cadre).post(f"/api/meetings/{live.id}/host",
                                         {"command": "remove", "target": village_cadre2.id},
                                         content_type="application/json")
    assert res.status_code == 403 and "只有主持人" in res.json()["detail"]
    assert not HostAction.objects.exists()


@pytest.mark.parametrize("body, status, message", [
    ({"command": "explode"}, 400, "未知的主持人操作"),
    ({"command": "mute"}, 400, "请指定"),
    ({"command": "remove", "target": "__outsider__"}, 404, "不是本次会议的参会人"),
    ({"command": "remove", "target": "__host__"}, 400, "不能移出主持人"),
    ({"command": "record_start"}, 409, "未开启录制"),
])
def test_it_refuses_bad_host_commands_clearly(client_for, live, county_secretary, outsider, body, status, message):
    body = dict(body)
    if body.get("target") == "__outsider__":
        body["target"] = outsider.id
    if body.get("target") == "__host__":
        body["target"] = county_secretary.id
    res = client_for(county_secretary).post(f"/api/meetings/{live.id}/host", body, content_type="application/json")
    assert res.status_code == status and message in res.json()["detail"]


def test_it_removes_a_participant_and_closes_their_attendance(live, county_secretary, village_cadre):
    from meetings.actions import do_host_command
    from meetings.models import Attendance, Participant

    do_host_command(county_secretary, live, "remove", village_cadre.id)
    assert Participant.objects.get(meeting=live, person=village_cadre).admission == "removed"
    assert not Attendance.objects.filter(meeting=live, person=village_cadre, left_at__isnull=True).exists()


def test_it_hands_over_presenting_and_ends_the_meeting_for_everyone(client_for, live, county_secretary, village_cadre,
                                                                    units, sent_events):
    from meetings.models import Attendance

    client = client_for(county_secretary)
    client.post(f"/api/meetings/{live.id}/host", {"command": "present", "target": village_cadre.id},
                content_type="application/json")
    live.refresh_from_db()
    assert live.presenter_id == village_cadre.id
    res = client.post(f"/api/meetings/{live.id}/host", {"command": "end"}, content_type="application/json")
    assert res.status_code == 200 and res.json()["state"] == "ended"
    assert not Attendance.objects.filter(meeting=live, left_at__isnull=True).exists()
    end_event = [e for e in sent_events.of("host") if e[0]["command"] == "end"][0]
    assert units["人民路社区"].id in end_event[2]  # the invited units hear it too (their pages refresh)
    again = client.post(f"/api/meetings/{live.id}/host", {"command": "lock"}, content_type="application/json")
    assert again.status_code == 409 and "会议已结束" in again.json()["detail"]


def test_it_raises_and_lowers_a_hand_and_shows_it_to_the_room(client_for, live, village_cadre, county_secretary,
                                                              sent_events):
    client = client_for(village_cadre)
    assert client.post(f"/api/meetings/{live.id}/hand", {"up": True}, content_type="application/json").status_code == 200
    rows = client.get(f"/api/meetings/{live.id}/participants").json()["participants"]
    assert [r for r in rows if r["person_id"] == village_cadre.id][0]["hand"] is True
    roster = client_for(county_secretary).get(f"/api/meetings/{live.id}/roster").json()
    assert [r for r in roster["participants"] if r["person_id"] == village_cadre.id][0]["hand"] is True
    (event, people, _u), = sent_events.of("hand")
    assert event["person"] == village_cadre.id and county_secretary.id in people
    client_for(county_secretary).post(f"/api/meetings/{live.id}/host", {"command": "lower_hand",
                                                                         "target": village_cadre.id},
                                      content_type="application/json")
    rows = client.get(f"/api/meetings/{live.id}/participants").json()["participants"]
    assert not [r for r in rows if r["person_id"] == village_cadre.id][0]["hand"]


def test_it_shows_the_live_roster_only_to_hosts(client_for, live, county_secretary, village_cadre, village_cadre2):
    from meetings.actions import do_participant_left

    do_participant_left(village_cadre2, live, session_key=f"s-{village_cadre2.id}")
    data = client_for(county_secretary).get(f"/api/meetings/{live.id}/roster").json()
    online = {r["person_id"] for r in data["participants"] if r["online"]}
    assert online == {county_secretary.id, village_cadre.id} and data["online"] == 2
    assert client_for(village_cadre).get(f"/api/meetings/{live.id}/roster").status_code == 403
    page = client_for(county_secretary).get(f"/meetings/{live.id}/roster/")
    assert page.status_code == 200 and "褚书记" in page.content.decode()
    assert client_for(village_cadre).get(f"/meetings/{live.id}/roster/").status_code == 403
