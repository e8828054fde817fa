"""Meetings speak English to a person whose browser asks for English: the SFU's signalling
errors and notices (translated by the consumer, the room knows no language) and the
downloaded attendance report."""
import asyncio
import csv
import datetime
import io
import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.fixture
def embedded_rooms():
    from meetings.sfu import worker

    worker._embedded = None
    yield
    worker._embedded = None


async def _close_rooms():
    from meetings.sfu import worker

    if worker._embedded is not None:
        for room in list(worker._embedded.rooms.values()):
            await room.close()


@sync_to_async
def schedule(host, invited):
    from meetings.actions import do_schedule
    from office.models import Post

    post = Post.objects.filter(person=host, active=True).first()
    now = timezone.now()
    return do_schedule(host, post, title="乡村振兴培训", starts_at=now,
                       ends_at=now + datetime.timedelta(hours=1), person_ids=[p.id for p in invited])


async def connect(client, meeting_id, language=None):
    cookie = client.cookies["sessionid"].value
    headers = [ORIGIN, (b"cookie", f"sessionid={cookie}".encode())]
    if language:
        headers.append((b"accept-language", language.encode()))
    comm = WebsocketCommunicator(application, f"/ws/meetings/{meeting_id}/", headers=headers)
    connected, _ = await comm.connect(timeout=10)
    assert connected
    return comm


async def next_frame(comm, wanted, timeout=10):
    """The next frame for which wanted(frame) is true (rosters and the like are skipped)."""
    async def read():
        while True:
            out = await comm.receive_output(timeout=timeout)
            if out["type"] == "websocket.close":
                return {"type": "websocket.close", "code": out.get("code")}
            frame = json.loads(out["text"])
            if wanted(frame):
                return frame

    return await asyncio.wait_for(read(), timeout)


@pytest.mark.django_db(transaction=True)
async def test_it_tells_an_english_speaking_participant_about_refused_signalling_in_english(
        seed_small, client_for, embedded_rooms):
    people = seed_small[1]
    host, town = people["county_secretary"], people["town_secretary"]
    meeting = await schedule(host, [town])
    english = await connect(await sync_to_async(client_for)(town), meeting.id, "en-GB,en;q=0.9")
    chinese = await connect(await sync_to_async(client_for)(host), meeting.id)
    second_tab = None
    try:
        assert (await next_frame(english, lambda f: f["type"] == "hello"))["host"] is False
        await next_frame(chinese, lambda f: f["type"] == "hello")

        # refused by the consumer itself, before joining
        await english.send_to(text_data=json.dumps({"type": "renegotiate"}))
        early = await next_frame(english, lambda f: f["type"] == "error")
        assert early["code"] == "out_of_order"
        assert early["message"] == "Send join to enter the meeting first."

        for comm in (english, chinese):
            await comm.send_to(text_data=json.dumps({"type": "join", "mode": "audio"}))
            await next_frame(comm, lambda f: f["type"] == "joined")

        # refused inside the SFU room (its text is a Chinese msgid until the consumer)
        bad_offer = {"type": "offer", "pc": "pub", "sdp": "v=0\r\nnonsense"}
        await english.send_to(text_data=json.dumps(bad_offer))
        refused = await next_frame(english, lambda f: f["type"] == "error")
        assert refused["code"] == "bad_sdp" and refused["request"] == "offer"
        assert refused["message"] == "The session description (SDP) contains no audio or video."
        assert "msgid" not in refused and "params" not in refused

        # refused by meetings.actions (only hosts may give host commands)
        await english.send_to(text_data=json.dumps({"type": "host", "action": "mute_all"}))
        forbidden = await next_frame(english, lambda f: f["type"] == "error")
        assert forbidden["request"] == "host" and "host" in forbidden["message"].lower()
        assert not CJK.search(forbidden["message"]), forbidden

        # the same refusal stays Chinese for the person whose browser asks for nothing else
        await chinese.send_to(text_data=json.dumps(bad_offer))
        chinese_refusal = await next_frame(chinese, lambda f: f["type"] == "error")
        assert chinese_refusal["message"] == "会话描述(SDP)中没有音视频"

        # a notice: joining again from a second tab replaces the first one, in English
        second_tab = await connect(await sync_to_async(client_for)(town), meeting.id, "en")
        await next_frame(second_tab, lambda f: f["type"] == "hello")
        await second_tab.send_to(text_data=json.dumps({"type": "join", "mode": "audio"}))
        replaced = await next_frame(english, lambda f: f["type"] == "replaced")
        assert replaced["message"] == "You have joined this meeting in another window or on another device."
        closed = await next_frame(english, lambda f: False)
        assert closed == {"type": "websocket.close", "code": 4409}
    finally:
        for comm in (chinese, second_tab):
            if comm is not None:
                await comm.disconnect()
        await _close_rooms()


def test_it_fills_in_a_room_error_with_placeholders_in_the_persons_language():
    from meetings.consumers import MeetingConsumer
    from meetings.sfu.messages import SignallingError

    error = SignallingError("bad_sdp", "无法接受该应答：%(reason)s", reason="DTLS fingerprint missing")
    frame = error.frame(request="answer")
    assert frame["message"] == "无法接受该应答：DTLS fingerprint missing"  # readable without a consumer

    consumer = MeetingConsumer()
    consumer.language = "en"
    english = consumer._localised(frame)
    assert english == {"type": "error", "code": "bad_sdp", "request": "answer",
                       "message": "Cannot accept this answer: DTLS fingerprint missing"}
    consumer.language = "zh-hans"
    assert consumer._localised(frame)["message"] == "无法接受该应答：DTLS fingerprint missing"


@pytest.mark.django_db
def test_it_gives_an_english_speaking_host_the_attendance_report_in_english(client_for, county_secretary,
                                                                          village_cadre, units):
    import pdfplumber

    from meetings.actions import do_check_in, do_host_command, do_participant_joined, do_start_checkin
    from tests.meetings_support import schedule as schedule_now

    training = schedule_now(county_secretary, kind="training", title="农村人居环境整治培训",
                            unit_ids=[units["人民路社区"].id])
    do_participant_joined(county_secretary, training, "video", session_key="h")
    do_participant_joined(village_cadre, training, "audio", session_key="c")
    do_start_checkin(county_secretary, training, 5)
    do_check_in(village_cadre, training)
    do_host_command(county_secretary, training, "end")
    host = client_for(county_secretary)

    res = host.get(f"/meetings/{training.id}/attendance.csv", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 200
    rows = list(csv.reader(io.StringIO(res.content.decode("utf-8").lstrip("\ufeff"))))
    assert rows[0] == ["Unit", "Name", "Attended", "Minutes online", "First joined", "Last left", "Mode",
                       "Check-in"]
    cadre = [r for r in rows if r[1] == "褚书记"][0]  # names stay as they are
    assert cadre[2] == "Present" and cadre[6] == "Audio only" and cadre[7] == "Checked in"
    assert [r[1] for r in rows if r[0] == "Personal invitations and hosts"] == ["吴秘书"]
    assert "Attendance" in res["Content-Disposition"]  # the download's name, too

    chinese = host.get(f"/meetings/{training.id}/attendance.csv")
    assert chinese.content.decode("utf-8").lstrip("\ufeff").startswith("单位,姓名,是否出席")

    pdf = host.get(f"/meetings/{training.id}/attendance.pdf", HTTP_ACCEPT_LANGUAGE="en")
    with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
        text = doc.pages[0].extract_text()
    assert "attendance report" in text.lower() and "Generated" in text
    assert "出勤报告" not in text and "应到" not in text and "生成时间" not in text
