"""In a real Chromium (fake camera and microphone): the check before joining previews the camera,
shows the microphone's level, lists the devices, and a "join muted" choice holds in the room."""
import pytest

from tests.conftest import login
from tests.meetings_support import schedule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_checks_camera_and_microphone_and_joins_muted(seed_small, live_server_url, new_page):
    units, people = seed_small
    meeting = schedule(people["county_secretary"], person_ids=[people["town_secretary"].id])
    page = new_page(width=360, height=740)
    login(page, live_server_url, "town_secretary")
    page.goto(f"{live_server_url}/meetings/{meeting.id}/")
    page.click("#device-check summary")
    page.wait_for_function("document.getElementById('device-check').dataset.ready === '1'", timeout=15000)
    assert page.evaluate("document.getElementById('check-video').srcObject.getVideoTracks().length") == 1
    assert page.locator("#check-camera option").count() >= 1 and page.locator("#check-mic option").count() >= 1
    page.wait_for_function("(window.ywMicLevel || 0) > 0", timeout=10000)  # the fake microphone beeps
    page.check("#check-muted")
    page.click("#join-button")
    page.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)
    page.wait_for_function("window.ywStats.muted.audio === true", timeout=10000)
    assert page.get_attribute("#btn-mic", "aria-pressed") == "true"
    assert page.locator(".topbar").count() == 0  # the call fills the screen: no site top bar (no 退出 above 离开)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_it_says_clearly_when_the_browser_refuses_the_devices(seed_small, live_server_url, browser):
    units, people = seed_small
    meeting = schedule(people["county_secretary"], person_ids=[people["town_secretary"].id])
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    try:
        page = ctx.new_page()
        login(page, live_server_url, "town_secretary")
        page.goto(f"{live_server_url}/meetings/{meeting.id}/")
        # A fake refusal: the shared test browser accepts every device prompt by itself.
        page.evaluate("""() => { navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException('denied', 'NotAllowedError')); }""")
        page.click("#device-check summary")
        page.locator("#check-note", has_text="浏览器拒绝了摄像头或麦克风").wait_for(timeout=10000)
    finally:
        ctx.close()
