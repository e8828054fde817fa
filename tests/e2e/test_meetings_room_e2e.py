"""A training from scheduling to the attendance report, in real Chromium with fake camera/microphone.

The host schedules it with the unit picker ("all villages of a town"); the village cadre sees the
invitation arrive in 待办 live and joins with one click; both see each other's video (room.js
reports decoded frames in window.ywStats); chat arrives by live event and a too-long line is
refused; the host mutes the cadre, opens a check-in, records, and ends the meeting for all; the
attendance report lists both; the recording plays back and seeks through HTTP range requests.
"""
import datetime
import re

import pytest
from django.utils import timezone

from tests.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _leave_all(meeting, *pages):
    """Closes the rooms and waits until the server has recorded every leave: the database must be
    quiet before the test's teardown empties it (else TRUNCATE and the last writes deadlock)."""
    import time

    from meetings.models import Participant

    for page in pages:
        page.goto("about:blank")
    deadline = time.monotonic() + 15
    while Participant.objects.filter(meeting=meeting, online=True).exists():
        assert time.monotonic() < deadline, "the server did not record that everyone left"
        time.sleep(0.2)


def test_it_runs_a_training_from_invitation_to_attendance_report_and_playback(seed_small, live_server_url, new_page,
                                                                              county_secretary, village_cadre):
    from meetings.models import Attendance, CheckIn, Meeting, Recording

    base = live_server_url
    # the village cadre has the 待办 page open before anything is scheduled
    cadre = new_page(width=1280, height=800)
    login(cadre, base, "village_cadre")
    cadre.wait_for_function("document.getElementById('live-dot').classList.contains('on')")

    # 1. the county secretary schedules a training for every village of 人民路街道
    host = new_page()
    login(host, base, "county_secretary")
    host.goto(base + "/meetings/new/")
    host.select_option("#id_kind", "training")
    host.fill("#id_title", "村级财务规范化远程培训")
    host.check("input[name=record]")
    host.fill("#pick-town", "人民路")
    host.locator("#pick-town-suggest button", has_text="人民路街道办事处").click()
    host.locator("#expand-preview").get_by_text("将邀请 0 人、2 个单位。").wait_for(timeout=10000)
    # start now (in the server's time zone; the form holds minutes, a start a few minutes past is accepted)
    now = timezone.localtime()
    host.fill("#id_starts_at", now.strftime("%Y-%m-%dT%H:%M"))
    host.fill("#id_ends_at", (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    host.click("#schedule-submit")
    host.wait_for_url(re.compile(r"/meetings/\d+/$"))
    meeting = Meeting.objects.get(title="村级财务规范化远程培训")
    assert meeting.kind == "training" and meeting.record
    assert sorted(meeting.invitations.values_list("unit__short_name", flat=True)) == ["人民路社区", "北街村"]

    # 2. the invitation arrives in the cadre's 待办 without a reload; one click to the meeting, one to the room
    item = cadre.locator("#workbench a.row-title", has_text="村级财务规范化远程培训")
    item.wait_for(timeout=10000)
    item.click()
    cadre.wait_for_url(re.compile(rf"/meetings/{meeting.id}/$"))
    cadre.click("#join-button")
    cadre.wait_for_url(re.compile(rf"/meetings/{meeting.id}/room/$"))
    host.goto(f"{base}/meetings/{meeting.id}/room/")
    for page in (host, cadre):
        page.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)

    # 3. both see each other's video
    host.wait_for_function(f"(window.ywStats.framesDecoded['{village_cadre.id}'] || 0) > 20", timeout=30000)
    cadre.wait_for_function(f"(window.ywStats.framesDecoded['{county_secretary.id}'] || 0) > 20", timeout=30000)
    assert host.locator(f"#video-grid .tile.remote[data-person='{village_cadre.id}'] video").count() == 1

    # 4. chat: delivered to the host by a live event; a line over 500 characters is refused in Chinese
    cadre.fill("#chat-input", "收到，人民路社区已进入培训。")
    cadre.click("#chat-send")
    host.locator("#chat-log li", has_text="人民路社区已进入培训").wait_for(timeout=10000)
    cadre.evaluate("document.getElementById('chat-input').value = '长'.repeat(501)")
    cadre.click("#chat-send")
    cadre.locator("#chat-error", has_text="消息过长：最多500个字").wait_for(timeout=5000)

    # 5. the host mutes the cadre from the participant list
    mute = f"#participant-list button[data-command=mute][data-target='{village_cadre.id}']"
    host.wait_for_selector(mute, timeout=20000)
    host.click(mute)
    cadre.wait_for_function("window.ywStats.muted.audio === true", timeout=10000)

    # 6. a check-in (签到) from the host menu; the cadre signs in from the banner
    host.click("#btn-host-menu")
    host.click("#btn-checkin-start")
    cadre.locator("#checkin-banner").wait_for(state="visible", timeout=10000)
    cadre.click("#btn-checkin")
    cadre.locator("#checkin-banner").wait_for(state="hidden", timeout=10000)
    assert CheckIn.objects.filter(person=village_cadre, window__meeting=meeting).count() == 1

    # 7. record a few seconds from the host menu
    host.click("#btn-record-start")
    host.locator("#recording-indicator").wait_for(state="visible", timeout=10000)
    host.wait_for_timeout(3500)
    if host.locator("#host-menu-list").is_hidden():
        host.click("#btn-host-menu")
    host.click("#btn-record-stop")
    host.locator("#recording-indicator").wait_for(state="hidden", timeout=15000)
    assert Recording.objects.filter(meeting=meeting).count() == 1

    # 8. the host ends it for everyone
    host.once("dialog", lambda dialog: dialog.accept())
    host.click("#btn-end")
    cadre.locator("#room-banner", has_text="会议已结束").wait_for(timeout=10000)
    meeting.refresh_from_db()
    assert meeting.state == "ended"
    assert not Attendance.objects.filter(meeting=meeting, left_at__isnull=True).exists()

    # 9. the attendance report: both attended, the other village missed, with a chart
    host.goto(f"{base}/meetings/{meeting.id}/attendance/")
    community = host.locator("svg.attendance-chart g.bar[data-unit='人民路社区居民委员会']")
    assert community.get_attribute("data-attended") == "1"
    assert host.locator("svg.attendance-chart g.bar[data-unit='北街村民委员会']").get_attribute("data-missed") == "1"
    assert "褚书记" in host.locator("section.unit-report").first.inner_text()

    # 10. the cadre plays the recording back and seeks in it (range requests answered with 206)
    recording = Recording.objects.get(meeting=meeting)
    statuses = []
    cadre.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/file") else None)
    cadre.goto(f"{base}/meetings/{meeting.id}/recordings/{recording.id}/")
    played = cadre.evaluate("""async () => {
        const v = document.getElementById('playback');
        v.muted = true;
        if (v.readyState < 2) await new Promise((ok, fail) => { v.onloadeddata = ok; v.onerror = () => fail(new Error('cannot play')); });
        await v.play();
        await new Promise(r => setTimeout(r, 400));
        v.pause();
        const seekTo = 1.5;
        const seeked = new Promise(ok => v.addEventListener('seeked', ok, {once: true}));
        v.currentTime = seekTo;
        await seeked;
        return {width: v.videoWidth, time: v.currentTime, seekable: v.seekable.length};
    }""")
    assert played["width"] > 0 and played["time"] >= 1.4 and played["seekable"] >= 1
    assert 206 in statuses
    _leave_all(meeting, host, cadre)


def test_it_admits_a_person_from_the_waiting_room_into_the_running_room(seed_small, live_server_url, new_page,
                                                                        county_secretary, town_secretary):
    from meetings.actions import do_schedule
    from meetings.models import Participant
    from tests.meetings_support import post_of

    now = timezone.now()
    meeting = do_schedule(county_secretary, post_of(county_secretary), title="街道工作例会", starts_at=now,
                          ends_at=now + datetime.timedelta(hours=1), person_ids=[town_secretary.id],
                          waiting_room=True)
    host = new_page()
    login(host, live_server_url, "county_secretary")
    host.goto(f"{live_server_url}/meetings/{meeting.id}/room/")
    host.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)
    host.wait_for_function("document.getElementById('live-dot').classList.contains('on')")

    guest = new_page()
    login(guest, live_server_url, "town_secretary")
    guest.goto(f"{live_server_url}/meetings/{meeting.id}/room/")
    assert guest.locator("#waiting-room").is_visible()
    assert guest.evaluate("window.ywStats === undefined")  # no media before admission
    assert Participant.objects.get(meeting=meeting, person=town_secretary).admission == "waiting"
    guest.wait_for_function("document.getElementById('live-dot').classList.contains('on')")

    admit = f"#participant-list button[data-command=admit][data-target='{town_secretary.id}']"
    host.wait_for_selector(admit, timeout=15000)  # the waiting person appears for the host by live event
    host.click(admit)
    guest.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)  # reloaded into the room
    assert not guest.locator("#waiting-room").count()
    host.locator(f"#participant-list li[data-person='{town_secretary.id}']:not(.waiting)").wait_for(timeout=15000)
    _leave_all(meeting, host, guest)
