"""A village cadre on a real weak link: room.js steps down by itself, and offers to come back.

The cadre's Chromium runs in its own network namespace behind a veth pair (tests/netns.py);
the host's end of the pair is shaped with tc tbf, so what the cadre receives is limited and
dropped by the kernel, as on a congested rural line. The host presents on the normal link
(its camera and the small second track). The server (a real daphne with the embedded SFU) is
bound to the host's end of the veth, which is the only way into the namespace: the cadre's
signalling and its media (ICE finds the veth address among the SFU's host candidates) both
cross the shaped link.

The rates follow what is actually sent: the audio takes about 50 kbit/s on the wire, the small
track at most 30 kbit/s, and the host's camera whatever its bandwidth estimate towards the SFU
allows (on this machine about 100-250 kbit/s; a noise picture makes the encoder use all of it).
So 120 kbit/s carries the small track with the audio but not the camera, and 72 kbit/s only
the audio.
"""
import json
import os

import pytest

from tests.conftest import CHROMIUM_ARGS, login
from tests.meetings_support import schedule
from tests.netns import WeakLink

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def weak_link():
    link = WeakLink()
    try:
        yield link.create()
    finally:
        link.close()


@pytest.fixture(scope="module")
def weak_server(server_factory, weak_link):
    """daphne on the host's end of the veth (the cadre reaches nothing else)."""
    server = server_factory(env={"ALLOWED_HOSTS": f"{weak_link.host_address},127.0.0.1,localhost"},
                            bind=weak_link.host_address)
    yield server
    server.stop()  # before the namespace and its address go


@pytest.fixture(scope="module")
def busy_camera(tmp_path_factory):
    """A camera picture that costs bits: 640x480 noise (Y4M, looped by Chromium's fake camera).

    Chromium's default fake picture is nearly still and encodes to under 100 kbit/s; a real
    camera in a meeting room is sent at several hundred kbit/s and more, which a weak link
    cannot carry. Noise makes the encoder spend what its bandwidth estimate allows."""
    path = tmp_path_factory.mktemp("camera") / "noise.y4m"
    width, height, frames = 640, 480, 15
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        chroma = bytes([128]) * (width * height // 2)
        for _ in range(frames):
            f.write(b"FRAME\n" + os.urandom(width * height) + chroma)
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def browsers(weak_link, weak_server, busy_camera):
    """A Chromium on the normal link and one inside the weak namespace (over Playwright's pipe).

    The server is not on loopback, so its origin is not a secure context by itself: Chromium is
    told to treat it as one (getUserMedia and WebRTC need it; in production it is HTTPS)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={weak_server.url}"]
    with sync_playwright() as p:
        normal = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                   args=[*args, f"--use-file-for-fake-video-capture={busy_camera}"])
        weak = p.chromium.launch(executable_path=weak_link.chromium, args=args, headless=True)
        yield normal, weak
        weak.close()
        normal.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _schedule(host, invited):
    return schedule(host, title="弱网联调", person_ids=[invited.id])


def _page(browser):
    return browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN").new_page()


def _frames(page, person_id):
    return page.evaluate(f"window.ywStats.framesDecoded['{person_id}'] || 0")


def _wait(page, expression, link, timeout):
    """wait_for_function, and on failure say what the page measured and what tc dropped."""
    try:
        page.wait_for_function(expression, timeout=timeout)
    except Exception as exc:
        state = page.evaluate("JSON.stringify({mode: window.ywStats.mode, link: window.ywStats.link})")
        raise AssertionError(f"{expression} not reached: {state}\n{link.stats()}") from exc


def _modes(page):
    return {p["person"]: p["mode"] for p in page.evaluate("window.ywStats.participants || []")}


def _banner(page):
    return page.evaluate("""() => { const b = document.querySelector('#link-banner');
        return b && !b.hidden ? {text: b.textContent, buttons: [...b.querySelectorAll('button')].map(x => x.textContent)}
                              : null; }""")


def _stage_width(page, person_id):
    """The decoded width of the person's camera tile, as the viewer's page shows it."""
    return page.evaluate(f"""() => {{ const v = document.querySelector(
        '#video-grid .tile.remote:not(.screen)[data-person="{person_id}"] video'); return v ? v.videoWidth : 0; }}""")


def test_it_steps_a_cadre_on_a_weak_link_down_to_the_small_track_then_audio_and_offers_video_back(
        seed_small, weak_server, weak_link, browsers, county_secretary, village_cadre):
    normal, weak = browsers
    url = weak_server.url
    meeting = _schedule(county_secretary, village_cadre)
    host, cadre = _page(normal), _page(weak)
    login(host, url, "county_secretary")
    login(cadre, url, "village_cadre")
    for page in (host, cadre):
        page.goto(f"{url}/meetings/{meeting.id}/room/")
    for page in (host, cadre):
        page.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)
    presenter = str(county_secretary.id)
    # an open link first: the cadre decodes the host's camera; the host also sends the small track
    _wait(cadre, f"(window.ywStats.framesDecoded['{presenter}'] || 0) > 5", weak_link, 30000)
    host.wait_for_function(f"(window.ywStats.framesDecoded['{village_cadre.id}'] || 0) > 10", timeout=30000)
    host.wait_for_function("window.ywStats.sending.small === true", timeout=10000)
    assert cadre.evaluate("window.ywStats.mode") == "video"

    # 120 kbit/s towards the cadre: too little for the camera with the audio, enough for the
    # small track with it. The page steps down by itself, and proposes audio only.
    weak_link.shape("120kbit")
    _wait(cadre, "window.ywStats.mode === 'small'", weak_link, 30000)
    banner = _banner(cadre)
    assert banner and "低清" in banner["text"] and banner["buttons"] == ["仅音频"], banner
    host.wait_for_function(f"(window.ywStats.participants || []).some(p => p.person === {village_cadre.id} "
                           f"&& p.mode === 'small')", timeout=10000)
    roster = host.evaluate(f"fetch('/api/meetings/{meeting.id}/roster').then(r => r.json())")
    assert {r["person_id"]: r["media_mode"] for r in roster["participants"]}[village_cadre.id] == "small"
    # and the host's participant list tags the cadre as on low-resolution video
    host.wait_for_selector(f'#participant-list li[data-person="{village_cadre.id}"] .tag:has-text("低清视频")',
                           timeout=15000)
    # the small track gets through and keeps decoding (about 15 frames a second, 160 px wide)
    before = _frames(cadre, presenter)
    _wait(cadre, f"window.ywStats.framesDecoded['{presenter}'] > {before + 30}", weak_link, 15000)
    assert 0 < _stage_width(cadre, presenter) <= 160
    assert cadre.evaluate("window.ywStats.mode") == "small"  # the link carries it: no further step

    # worse still: not even the small track gets through, only the audio; so audio only,
    # with a one-click 恢复视频
    weak_link.shape("72kbit")
    _wait(cadre, "window.ywStats.mode === 'audio'", weak_link, 30000)
    banner = _banner(cadre)
    assert banner and "仅音频" in banner["text"] and banner["buttons"] == ["恢复视频"], banner
    host.wait_for_function(f"(window.ywStats.participants || []).some(p => p.person === {village_cadre.id} "
                           f"&& p.mode === 'audio')", timeout=10000)
    # the audio now flows cleanly, but the line is as weak as before: after the clean spell the
    # page measures the download, finds it too slow for video, and offers nothing
    _wait(cadre, "window.ywStats.link.probeKbps !== null", weak_link, 30000)
    link = cadre.evaluate("window.ywStats.link")
    assert link["probeKbps"] < 300 and link["offer"] is None, link
    assert cadre.evaluate("window.ywStats.mode") == "audio"
    assert _banner(cadre)["buttons"] == ["恢复视频"]

    # the link recovers: after a sustained clean spell (and a measured download) video is
    # offered back, not forced on
    weak_link.unshape()
    _wait(cadre, "window.ywStats.link.offer === 'video'", weak_link, 40000)
    assert cadre.evaluate("window.ywStats.mode") == "audio"
    banner = _banner(cadre)
    assert banner and "好转" in banner["text"] and banner["buttons"] == ["恢复视频", "暂不"], banner
    cadre.click("#link-banner button:text('恢复视频')")
    _wait(cadre, "window.ywStats.mode === 'video'", weak_link, 5000)
    assert _banner(cadre) is None
    # the camera again, not the small track
    _wait(cadre, f"""(() => {{ const v = document.querySelector(
        '#video-grid .tile.remote:not(.screen)[data-person="{presenter}"] video');
        return v && v.videoWidth > 160; }})()""", weak_link, 15000)

    # the host, on a good link throughout, never stepped down
    assert host.evaluate("window.ywStats.mode") == "video", json.dumps(host.evaluate("window.ywStats.link"))
    assert host.evaluate("window.ywStats.link.steps") == [], json.dumps(host.evaluate("window.ywStats.link"))
    assert _modes(host)[village_cadre.id] == "video"
