"""In a real Chromium on a phone-sized screen: a village cadre plays a training's recording (a real
WebM), the watched time reaches the server, and leaving and coming back resumes where they stopped."""
import pytest

from tests.conftest import login
from tests.meetings_support import schedule, write_webm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECONDS = 12


def _recorded_training(people, units):
    from meetings.actions import do_participant_joined, do_recording_saved, recording_path

    host = people["county_secretary"]
    meeting = schedule(host, kind="training", title="农村人居环境整治培训", villages_of=[units["人民路街道"].id],
                       record=True)
    do_participant_joined(host, meeting, "video")
    path = recording_path(meeting)
    write_webm(path, frames=SECONDS * 5, rate=5)
    return meeting, do_recording_saved(meeting.id, path, duration_seconds=SECONDS, person=host.id)


def test_it_counts_a_replay_on_a_phone_and_resumes_where_the_cadre_stopped(seed_small, live_server_url, new_page):
    from meetings.training.models import ReplayProgress

    units, people = seed_small
    cadre = people["village_cadre"]
    meeting, recording = _recorded_training(people, units)
    page_url = f"{live_server_url}/meetings/{meeting.id}/recordings/{recording.id}/"
    page = new_page(width=360, height=740)
    login(page, live_server_url, "village_cadre")
    page.goto(page_url)
    page.wait_for_function("document.getElementById('playback').readyState >= 1", timeout=15000)
    # the player fits the phone: no sideways scrolling, the video inside the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = page.locator("#playback").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    page.evaluate("() => { const v = document.getElementById('playback'); v.muted = true; return v.play(); }")
    page.wait_for_function("document.getElementById('playback').currentTime >= 3", timeout=15000)
    with page.expect_response(lambda r: r.url.endswith("/progress") and r.request.method == "POST") as sent:
        page.evaluate("document.getElementById('playback').pause()")
    assert sent.value.status == 200
    stopped = page.evaluate("document.getElementById('playback').currentTime")
    row = ReplayProgress.objects.get(recording=recording, person=cadre)
    assert row.watched_seconds >= 2.5 and abs(row.position - stopped) < 0.5
    share = round(row.watched_seconds / SECONDS * 100)
    page.wait_for_function(f"document.querySelector('#replay-status [data-share]').textContent === '{share}%'",
                           timeout=5000)
    # leave for the meeting page, come back on the same phone: the player starts where it stopped
    page.goto(f"{live_server_url}/meetings/{meeting.id}/")
    page.goto(page_url)
    page.wait_for_function(f"Math.abs(document.getElementById('playback').currentTime - {row.position}) < 0.5",
                           timeout=15000)
    assert page.locator("#replay-status [data-share]").inner_text() == f"{share}%"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
