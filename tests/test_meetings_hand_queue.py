"""Raised hands form a queue the host works through: first up, first heard (下一位, 允许发言, 放下);
each participant sees their place; only a host works the queue."""
import pytest

from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(county_secretary, county_leader, town_secretary, village_cadre, village_cadre2, units):
    from meetings.actions import do_participant_joined

    meeting = schedule(county_secretary, villages_of=[units["人民路街道"].id], unit_ids=[units["人民路街道"].id],
                       co_host_ids=[county_leader.id])
    for person in (county_secretary, town_secretary, village_cadre, village_cadre2):
        do_participant_joined(person, meeting, "video", session_key=f"s-{person.id}")
    return meeting


def _raise(client_for, meeting, person, up=True):
    return client_for(person).post(f"/api/meetings/{meeting.id}/hand", {"up": up}, content_type="application/json")


def _queue(client_for, meeting, person):
    return client_for(person).get(f"/api/meetings/{meeting.id}/hands").json()


def test_it_queues_hands_in_the_order_they_went_up_and_tells_each_their_place(
        client_for, live, county_secretary, town_secretary, village_cadre, village_cadre2):
    for person in (village_cadre2, town_secretary, village_cadre):
        assert _raise(client_for, live, person).status_code == 200
    host_view = _queue(client_for, live, county_secretary)
    assert [r["name"] for r in host_view["queue"]] == ["卫文书", "陈文书", "褚书记"]
    assert [r["place"] for r in host_view["queue"]] == [1, 2, 3] and host_view["total"] == 3
    mine = _queue(client_for, live, village_cadre)
    assert mine["mine"] == 3 and mine["total"] == 3 and mine["queue"] == []  # no one else's names
    # raising again (a second tab, a double tap) keeps the place instead of going to the back
    again = _raise(client_for, live, village_cadre2)
    assert again.json()["place"] == 1
    assert _queue(client_for, live, village_cadre2)["mine"] == 1


def test_it_lets_the_host_give_the_floor_to_the_next_in_the_queue(client_for, live, county_secretary, town_secretary,
                                                                   village_cadre, sent_events):
    from meetings.models import HostAction, Participant
    from office.models import AuditEntry

    host = client_for(county_secretary)
    host.post(f"/api/meetings/{live.id}/host", {"command": "mute_all"}, content_type="application/json")
    _raise(client_for, live, village_cadre)
    _raise(client_for, live, town_secretary)
    response = host.post(f"/api/meetings/{live.id}/hands/next")
    assert response.status_code == 200 and response.json()["name"] == "褚书记"
    speaker = Participant.objects.get(meeting=live, person=village_cadre)
    assert speaker.hand_raised_at is None and not speaker.muted_by_host  # 允许发言: unmuted, hand down
    assert Participant.objects.get(meeting=live, person=town_secretary).muted_by_host  # the others stay muted
    action = HostAction.objects.filter(meeting=live).last()
    assert (action.command, action.target_id) == ("allow_speak", village_cadre.id)
    assert AuditEntry.objects.filter(action="meeting.host.allow_speak", object_id=str(live.id)).exists()
    event, people, _u = [e for e in sent_events.of("host") if e[0]["command"] == "allow_speak"][0]
    assert event["target"] == village_cadre.id and village_cadre.id in people
    assert _queue(client_for, live, town_secretary)["mine"] == 1  # moved up
    # 放下: the host lowers the last hand; an empty queue has no next
    host.post(f"/api/meetings/{live.id}/host", {"command": "lower_hand", "target": town_secretary.id},
              content_type="application/json")
    assert _queue(client_for, live, county_secretary)["total"] == 0
    empty = host.post(f"/api/meetings/{live.id}/hands/next")
    assert empty.status_code == 409 and empty.json()["detail"] == "举手队列是空的。"


def test_it_lets_only_a_host_work_the_queue(client_for, live, village_cadre, village_cadre2, county_leader, outsider):
    from meetings.models import HostAction, Participant

    _raise(client_for, live, village_cadre)
    refused = client_for(village_cadre2).post(f"/api/meetings/{live.id}/hands/next")
    assert refused.status_code == 403 and "只有主持人" in refused.json()["detail"]
    for command in ("allow_speak", "lower_hand"):
        res = client_for(village_cadre2).post(f"/api/meetings/{live.id}/host",
                                              {"command": command, "target": village_cadre.id},
                                              content_type="application/json")
        assert res.status_code == 403
    assert not HostAction.objects.exists()
    assert Participant.objects.get(meeting=live, person=village_cadre).hand_raised_at is not None
    # an outsider (another county, not invited) neither sees nor works it
    assert client_for(outsider).get(f"/api/meetings/{live.id}/hands").status_code == 403
    assert client_for(outsider).post(f"/api/meetings/{live.id}/hands/next").status_code == 403
    # a co-host may
    assert client_for(county_leader).post(f"/api/meetings/{live.id}/hands/next").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_it_gives_hands_raised_at_once_distinct_places_and_two_hosts_distinct_speakers(
        live, county_secretary, county_leader, town_secretary, village_cadre, village_cadre2):
    import threading

    from django.db import close_old_connections

    from meetings.actions import do_next_speaker, do_raise_hand, hand_queue, queue_place

    people = [town_secretary, village_cadre, village_cadre2]
    barrier = threading.Barrier(len(people))
    errors = []

    def run(fn, *args):
        def go():
            try:
                barrier.wait(5)
                fn(*args)
            except Exception as exc:  # reported below
                errors.append(repr(exc))
            finally:
                close_old_connections()
        return threading.Thread(target=go)

    threads = [run(do_raise_hand, p, live, True) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    order = list(hand_queue(live).values_list("person_id", flat=True))
    assert sorted(order) == sorted(p.id for p in people)
    assert sorted(queue_place(live, p) for p in people) == [1, 2, 3]
    barrier = threading.Barrier(2)
    spoke = []
    threads = [run(lambda h: spoke.append(do_next_speaker(h, live).person_id), h)
               for h in (county_secretary, county_leader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(spoke) == sorted(order[:2])  # the first two, once each
    assert list(hand_queue(live).values_list("person_id", flat=True)) == order[2:]
