"""Chat in a meeting: kept with the meeting, delivered by live events, bounded in length and rate."""
import datetime

import pytest
from django.utils import timezone

from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def meeting(county_secretary, village_cadre, units):
    from meetings.actions import do_participant_joined

    m = schedule(county_secretary, unit_ids=[units["人民路社区"].id])
    do_participant_joined(village_cadre, m, "video")
    return m


@pytest.fixture
def clock(monkeypatch):
    """The time the code sees (timezone.now and time.time alike), moved by hand; it stays within
    seconds of the real time, so sessions and caches behave as usual."""
    import time

    import django.utils.timezone

    class Clock:
        now = timezone.now()

        def at(self, when):
            self.now = when

    clock = Clock()
    monkeypatch.setattr(django.utils.timezone, "now", lambda: clock.now)
    monkeypatch.setattr(time, "time", lambda: clock.now.timestamp())
    return clock


def test_it_keeps_a_chat_message_and_tells_the_people_in_the_room(client_for, meeting, village_cadre,
                                                                   county_secretary, sent_events):
    res = client_for(village_cadre).post(f"/api/meetings/{meeting.id}/chat", {"text": "  大家好，我是社区的褚书记。 "},
                                         content_type="application/json")
    assert res.status_code == 201
    message = res.json()
    assert message["text"] == "大家好，我是社区的褚书记。" and message["name"] == "褚书记"
    (event, people, _u), = sent_events.of("chat")
    assert event == {"type": "meeting", "op": "chat", "meeting": meeting.id, "message": message["id"]}
    assert {village_cadre.id, county_secretary.id} <= set(people)
    rows = client_for(county_secretary).get(f"/api/meetings/{meeting.id}/chat").json()
    assert [r["text"] for r in rows] == ["大家好，我是社区的褚书记。"]
    assert client_for(county_secretary).get(f"/api/meetings/{meeting.id}/chat", {"after": message["id"]}).json() == []


def test_it_refuses_very_long_and_empty_lines_with_a_clear_message(client_for, meeting, village_cadre):
    from meetings.models import ChatMessage

    client = client_for(village_cadre)
    long = client.post(f"/api/meetings/{meeting.id}/chat", {"text": "长" * 501}, content_type="application/json")
    assert long.status_code == 400 and long.json()["detail"] == "消息过长：最多500个字，当前501个字。"
    empty = client.post(f"/api/meetings/{meeting.id}/chat", {"text": " \n "}, content_type="application/json")
    assert empty.status_code == 400 and "不能为空" in empty.json()["detail"]
    ok = client.post(f"/api/meetings/{meeting.id}/chat", {"text": "长" * 500}, content_type="application/json")
    assert ok.status_code == 201
    assert ChatMessage.objects.count() == 1


def test_it_rate_limits_a_chat_flood_with_429(client_for, meeting, village_cadre, county_secretary):
    from meetings.actions import CHAT_RATE
    from meetings.models import ChatMessage

    client = client_for(village_cadre)
    codes = [client.post(f"/api/meetings/{meeting.id}/chat", {"text": f"刷屏{i}"},
                         content_type="application/json").status_code for i in range(CHAT_RATE + 5)]
    assert codes[:CHAT_RATE] == [201] * CHAT_RATE
    assert set(codes[CHAT_RATE:]) == {429}
    flood = client.post(f"/api/meetings/{meeting.id}/chat", {"text": "再来"}, content_type="application/json")
    assert "发言太频繁" in flood.json()["detail"]
    assert ChatMessage.objects.count() == CHAT_RATE
    # someone else in the same room is not limited by it
    other = client_for(county_secretary).post(f"/api/meetings/{meeting.id}/chat", {"text": "请大家有序发言"},
                                              content_type="application/json")
    assert other.status_code == 201


def test_it_refuses_a_burst_that_straddles_a_window_boundary(client_for, meeting, village_cadre, clock):
    from meetings.actions import CHAT_RATE, CHAT_WINDOW
    from meetings.models import ChatMessage

    client = client_for(village_cadre)

    def say(text):
        return client.post(f"/api/meetings/{meeting.id}/chat", {"text": text}, content_type="application/json")

    # half a second before a multiple of the window (where a fixed window would start afresh) ...
    epoch = clock.now.timestamp()
    boundary = (epoch // CHAT_WINDOW + 2) * CHAT_WINDOW
    start = datetime.datetime.fromtimestamp(boundary - 0.5, tz=datetime.timezone.utc)
    clock.at(start)
    assert [say(f"第{i}条").status_code for i in range(CHAT_RATE)] == [201] * CHAT_RATE
    # ... and one second later, past the boundary: still inside the last CHAT_WINDOW seconds
    clock.at(start + datetime.timedelta(seconds=1))
    refused = [say(f"再来{i}") for i in range(CHAT_RATE)]
    assert {r.status_code for r in refused} == {429}
    assert refused[0].json()["detail"] == f"发言太频繁：每{CHAT_WINDOW}秒最多{CHAT_RATE}条，请稍后再发。"
    assert ChatMessage.objects.filter(person=village_cadre).count() == CHAT_RATE
    # once the first burst is a whole window old, the person may speak again (refusals did not count)
    clock.at(start + datetime.timedelta(seconds=CHAT_WINDOW, milliseconds=1))
    assert say("现在可以了").status_code == 201


def test_it_refuses_chat_from_someone_not_invited_and_after_the_end(client_for, meeting, outsider, village_cadre,
                                                                     county_secretary):
    from meetings.actions import do_host_command

    res = client_for(outsider).post(f"/api/meetings/{meeting.id}/chat", {"text": "你好"},
                                    content_type="application/json")
    assert res.status_code == 403 and "未被邀请" in res.json()["detail"]
    assert client_for(outsider).get(f"/api/meetings/{meeting.id}/chat").status_code == 403
    do_host_command(county_secretary, meeting, "end")
    res = client_for(village_cadre).post(f"/api/meetings/{meeting.id}/chat", {"text": "还在吗"},
                                         content_type="application/json")
    assert res.status_code == 409 and "会议已结束" in res.json()["detail"]


def test_it_answers_malformed_chat_json_with_a_chinese_422(client_for, meeting, village_cadre):
    res = client_for(village_cadre).post(f"/api/meetings/{meeting.id}/chat", {"words": "x"},
                                         content_type="application/json")
    assert res.status_code == 422 and "请求数据格式不正确" in res.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_of_two_simultaneous_messages_take_the_last_place(meeting, village_cadre):
    import threading

    from django.db import close_old_connections

    from meetings.actions import CHAT_RATE, do_chat
    from meetings.models import ChatMessage
    from office.errors import ActionError

    for i in range(CHAT_RATE - 1):
        do_chat(village_cadre, meeting, f"第{i}条")
    barrier = threading.Barrier(4)
    outcomes = []

    def send(i):
        try:
            barrier.wait(5)
            do_chat(village_cadre, meeting, f"同时{i}")
            outcomes.append(201)
        except ActionError as exc:
            outcomes.append(exc.status)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == [201, 429, 429, 429]
    assert ChatMessage.objects.filter(person=village_cadre).count() == CHAT_RATE
