"""A training of every village: 3,000 people in one room. The host's roster and the room's people
panel come a page at a time, searched and filtered in the database, with counts by state, and a
page costs the same few queries however large the room."""
import datetime

import pytest
from django.utils import timezone

from tests.meetings_support import schedule

pytestmark = pytest.mark.django_db

N = 3000


@pytest.fixture
def big_room(county_secretary, village_cadre, units):
    """3,000 participants: every third online, every tenth waiting, every 100th with a hand up
    (raised in reverse order of their numbers), their attendance for 北街村 or 人民路社区."""
    from meetings.actions import do_participant_joined
    from meetings.models import Attendance, Participant
    from office.models import Person

    meeting = schedule(county_secretary, kind="training", villages_of=[units["人民路街道"].id])
    do_participant_joined(county_secretary, meeting, "video", session_key="host")
    people = Person.objects.bulk_create([Person(username=f"cadre{i:04d}", display_name=f"村干部{i:04d}")
                                         for i in range(N)])
    now = timezone.now()
    rows = []
    for i, p in enumerate(people):
        waiting = i % 10 == 9
        rows.append(Participant(meeting=meeting, person=p, online=i % 3 == 0 and not waiting,
                                admission=Participant.Admission.WAITING if waiting else Participant.Admission.ADMITTED,
                                hand_raised_at=now - datetime.timedelta(seconds=i) if i % 100 == 0 else None))
    Participant.objects.bulk_create(rows)
    village = {0: units["北街村"], 1: units["人民路社区"]}
    Attendance.objects.bulk_create([Attendance(meeting=meeting, person=p, unit=village[i % 2], joined_at=now)
                                    for i, p in enumerate(people) if i % 3 == 0 and i % 10 != 9])
    return meeting


def _get(client, meeting, path="roster", **params):
    return client.get(f"/api/meetings/{meeting.id}/{path}", params)


def test_it_pages_the_roster_of_3000_and_counts_each_state(big_room, client_for, county_secretary,
                                                           django_assert_max_num_queries):
    host = client_for(county_secretary)
    online = 1 + sum(1 for i in range(N) if i % 3 == 0 and i % 10 != 9)
    with django_assert_max_num_queries(14):
        first = _get(host, big_room).json()
    assert first["counts"] == {"total": N + 1, "online": online, "waiting": N // 10, "hands": 30}
    assert len(first["participants"]) == 50 and first["pages"] == -(-(N + 1) // 50) and first["matched"] == N + 1
    # those waiting for the host come first, then those online
    assert all(r["admission"] == "waiting" for r in first["participants"])
    with django_assert_max_num_queries(14):  # four times the page, the same queries
        big = _get(host, big_room, state="online", page=2, page_size=200).json()
    assert len(big["participants"]) == 200 and all(r["online"] for r in big["participants"])
    assert big["page"] == 2 and big["matched"] == online
    assert {r["unit"] for r in big["participants"] if r["name"].startswith("村干部")} == {"北街村", "人民路社区"}
    last = _get(host, big_room, page=999).json()  # past the end: the last page, not an empty one
    assert last["page"] == first["pages"] and last["participants"]


def test_it_finds_people_by_name_or_village_and_lists_hands_in_queue_order(big_room, client_for, county_secretary):
    host = client_for(county_secretary)
    found = _get(host, big_room, q="村干部004").json()
    assert sorted(r["name"] for r in found["participants"]) == [f"村干部004{d}" for d in range(10)]
    assert [r["name"] for r in found["participants"]][:3] == ["村干部0049", "村干部0042", "村干部0045"]  # waiting, online
    assert found["matched"] == 10 and found["counts"]["total"] == N + 1  # counts stay the whole room's
    by_village = _get(host, big_room, q="北街", state="online", page_size=1).json()
    assert by_village["matched"] == sum(1 for i in range(N) if i % 3 == 0 and i % 10 != 9 and i % 2 == 0)
    hands = _get(host, big_room, state="hands").json()
    # raised in reverse order of their numbers: 村干部2900 first
    assert [r["name"] for r in hands["participants"]][:3] == ["村干部2900", "村干部2800", "村干部2700"]
    assert hands["matched"] == 30


def test_it_shows_a_participant_one_page_of_the_people_online_and_nothing_of_the_hosts_view(
        big_room, client_for, village_cadre, django_assert_max_num_queries):
    from meetings.actions import do_participant_joined

    do_participant_joined(village_cadre, big_room, "video", session_key="v")
    client = client_for(village_cadre)
    with django_assert_max_num_queries(20):
        data = _get(client, big_room, "participants", q="褚").json()
    assert [r["name"] for r in data["participants"]] == ["褚书记"]
    page = _get(client, big_room, "participants").json()
    assert len(page["participants"]) == 50 and all(r["online"] for r in page["participants"])
    assert set(page["counts"]) == {"online", "hands"}
    assert not {"admission", "minutes", "unit", "checked_in"} & set(page["participants"][0])
    assert _get(client, big_room).status_code == 403  # the full roster is the hosts'


@pytest.mark.parametrize("params, message", [
    ({"state": "asleep"}, "状态应为"), ({"page": 0}, "页码应从1开始"), ({"page_size": 1000}, "每页人数应为1至200"),
    ({"q": "村" * 51}, "搜索词不能超过50个字"), ({"page": "二"}, ""),
])
def test_it_answers_a_bad_roster_query_with_a_chinese_400(big_room, client_for, county_secretary, params, message):
    response = _get(client_for(county_secretary), big_room, **params)
    assert response.status_code in (400, 422) and message in response.json()["detail"]


def test_it_renders_only_the_first_page_into_the_roster_page(big_room, client_for, county_secretary):
    html = client_for(county_secretary).get(f"/meetings/{big_room.id}/roster/").content.decode()
    assert html.count("<tr data-person=") == 50 and 'id="roster-search"' in html
