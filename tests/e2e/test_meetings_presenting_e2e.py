"""Presenting (主讲) and screen sharing between two real Chromium participants (room.js + the SFU).

The screen comes from getDisplayMedia through room.js's own screen-share button. Headless
Chromium with the suite's flags (--use-fake-device-for-media-stream, --use-fake-ui-for-media-stream)
answers getDisplayMedia with its fake screen capturer (a 1280x720 animated test picture,
label "screen:…", displaySurface "monitor"), not a real framebuffer; everything after the
capture — encoding, the SFU forwarding it, the other browser decoding it — is real.
"""

import pytest

from tests.conftest import login
from tests.meetings_support import schedule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _schedule(host, invited):
    return schedule(host, title="主讲移交联调", person_ids=[invited.id])


def _stage_person(page):
    return page.evaluate("""() => { const t = document.querySelector('#video-grid .tile.stage');
        return t ? {key: t.dataset.key || 'local', person: Number(t.dataset.person),
                    first: t === document.querySelector('#video-grid').firstElementChild,
                    wide: t.getBoundingClientRect().width} : null; }""")


def test_it_hands_presenting_over_and_a_second_browser_decodes_the_shared_screen(
        seed_small, live_server_url, new_page, county_secretary, town_secretary):
    meeting = _schedule(county_secretary, town_secretary)
    host, guest = new_page(), new_page()
    login(host, live_server_url, "county_secretary")
    login(guest, live_server_url, "town_secretary")
    for page in (host, guest):
        page.goto(f"{live_server_url}/meetings/{meeting.id}/room/")
    for page in (host, guest):
        page.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)
    guest.wait_for_function(f"(window.ywStats.framesDecoded['{county_secretary.id}'] || 0) > 10", timeout=30000)
    host.wait_for_function(f"(window.ywStats.framesDecoded['{town_secretary.id}'] || 0) > 10", timeout=30000)

    # nobody handed presenting yet: the host is on stage for both, and the guest may not share
    guest.wait_for_function("window.ywStats.stage && window.ywStats.stage.endsWith(':cam')", timeout=10000)
    stage = _stage_person(guest)
    assert stage["person"] == county_secretary.id and stage["first"]
    host.wait_for_function("window.ywStats.stage && window.ywStats.stage.endsWith(':cam')", timeout=10000)
    assert _stage_person(host)["person"] == town_secretary.id, "one's own camera is never the stage"
    guest.click("#btn-screen")
    guest.wait_for_function("document.querySelector('#room-banner').textContent.includes('主讲')", timeout=5000)
    assert guest.evaluate("window.ywStats.sending.screen") is False
    assert guest.evaluate("window.ywStats.sending.small") is False and host.evaluate("window.ywStats.sending.small")

    # the host hands presenting to the guest from the participant list
    button = f"#participant-list button[data-command=present][data-target='{town_secretary.id}']"
    host.wait_for_selector(button, timeout=20000)
    host.click(button)
    for page in (host, guest):
        page.wait_for_function(f"window.ywStats.presenter === {town_secretary.id}", timeout=10000)
    guest.wait_for_function("window.ywStats.sending.small && window.ywStats.stage && window.ywStats.stage.endsWith(':cam')", timeout=10000)
    assert _stage_person(guest)["person"] == county_secretary.id, "the presenter sees the others, not themself"
    host.wait_for_function(f"document.querySelector('#video-grid .tile.stage[data-person=\"{town_secretary.id}\"]')",
                           timeout=10000)

    # the new presenter shares the screen: the host's browser receives and decodes it, on stage
    guest.click("#btn-screen")
    guest.wait_for_function("window.ywStats.sending.screen === true", timeout=10000)
    key = f"{town_secretary.id}:screen"
    host.wait_for_function(f"(window.ywStats.framesDecoded['{key}'] || 0) > 20", timeout=30000)
    host.wait_for_function(f"(window.ywStats.frames['{key}'] || 0) > 5", timeout=15000)
    host.wait_for_function("window.ywStats.stage && window.ywStats.stage.endsWith(':screen')", timeout=10000)
    stage = _stage_person(host)
    assert stage["person"] == town_secretary.id and stage["first"]
    size = host.evaluate("""() => { const v = document.querySelector('#video-grid .tile.stage video');
        return [v.videoWidth, v.videoHeight]; }""")
    assert size[0] >= 640 and size[1] >= 360, size  # the 1280x720 capture, not a thumbnail
    cam_tile = host.evaluate(f"""() => document.querySelector(
        '#video-grid .tile.remote:not(.screen)[data-person="{town_secretary.id}"]').getBoundingClientRect().width""")
    assert stage["wide"] > cam_tile  # the stage is larger than the presenter's camera tile

    # presenting handed back to the host: the guest's share stops and the stage follows
    out = host.evaluate("""async ([meeting, target]) => {
        const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const r = await fetch(`/api/meetings/${meeting}/host`, {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
            body: JSON.stringify({command: 'present', target})});
        return r.json(); }""", [meeting.id, county_secretary.id])
    assert out["room"]["ok"] is True, out
    guest.wait_for_function("window.ywStats.sending.screen === false && window.ywStats.sending.small === false",
                            timeout=10000)
    host.wait_for_function(f"!document.querySelector('#video-grid .tile.screen[data-person=\"{town_secretary.id}\"]')",
                           timeout=10000)
    host.wait_for_function(f"document.querySelector('#video-grid .tile.stage:not(.screen)[data-person=\"{town_secretary.id}\"]')",
                           timeout=10000)
    guest.wait_for_function(f"window.ywStats.presenter === {county_secretary.id} "
                            f"&& window.ywStats.stage.endsWith(':cam')", timeout=10000)
    assert _stage_person(guest)["person"] == county_secretary.id
