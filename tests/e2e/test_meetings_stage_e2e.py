"""The meeting room's stage in two real Chromium participants (fake camera, the real SFU): the
presenter large on the stage, one's own camera a small tile, no picture under the room's toolbar at
1366 px or 360 px, and the host's buttons tap-sized with 移出 apart from 主讲 and asking first."""
import pytest

from tests.conftest import login
from tests.e2e.layout_checks import covered, sideways
from tests.meetings_support import schedule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZES = [(1366, 768), (360, 740)]

# Each tile's box, and the part of it that shows (the stage area scrolls on a desk: what it hides
# is not under the toolbar).
LAYOUT_JS = """() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const area = document.querySelector('#meeting-room > .stage').getBoundingClientRect();
  const shown = (r) => { const top = Math.max(r.top, area.top), bottom = Math.min(r.bottom, area.bottom);
    return {x: r.left, y: top, w: r.width, h: Math.max(0, bottom - top)}; };
  const tiles = [...document.querySelectorAll('#video-grid .tile')].map((t) => ({
    person: Number(t.dataset.person), local: t.classList.contains('local'), stage: t.classList.contains('stage'),
    ...box(t), shown: shown(t.getBoundingClientRect())}));
  return {tiles, toolbar: box(document.getElementById('room-controls'))};
}"""


def _overlap(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def _check_stage(page, who, width, expect_person):
    page.wait_for_function(f"document.querySelector('#video-grid .tile.stage[data-person=\"{expect_person}\"]')",
                           timeout=15000)
    page.wait_for_timeout(300)  # the layout after the class change
    seen = page.evaluate(LAYOUT_JS)
    problems = []
    stage = [t for t in seen["tiles"] if t["stage"]]
    local = [t for t in seen["tiles"] if t["local"]][0]
    if len(stage) != 1 or stage[0]["person"] != expect_person:
        problems.append(f"{who} @{width}: the stage is {stage}, not person {expect_person}")
    else:
        biggest = max(seen["tiles"], key=lambda t: t["w"] * t["h"])
        if biggest is not stage[0] and biggest["w"] * biggest["h"] > stage[0]["w"] * stage[0]["h"]:
            problems.append(f"{who} @{width}: a tile is larger than the stage: {biggest}")
        small = 240 if width > 600 else 0.4 * width
        if local["w"] > small or local["w"] * 3 > stage[0]["w"]:
            problems.append(f"{who} @{width}: one's own camera is not small ({local['w']} px beside a "
                            f"{stage[0]['w']} px stage)")
    for t in seen["tiles"]:
        if t["shown"]["h"] > 0 and _overlap(t["shown"], seen["toolbar"]):
            problems.append(f"{who} @{width}: a tile lies under the toolbar: {t} / {seen['toolbar']}")
    problems += [f"{who} @{width}: {c}" for c in covered(page)]
    problems += [f"{who} @{width}: scrolls sideways {s}" for s in sideways(page, width)]
    return problems


def test_it_puts_the_presenter_on_stage_and_ones_own_camera_small_at_a_desk_and_on_a_phone(
        seed_small, live_server_url, new_page, county_secretary, town_secretary):
    from meetings.models import Participant

    meeting = schedule(county_secretary, title="主讲画面布局联调", person_ids=[town_secretary.id])
    host, guest = new_page(*SIZES[0]), new_page(*SIZES[1])
    login(host, live_server_url, "county_secretary")
    login(guest, live_server_url, "town_secretary")
    for page in (host, guest):
        page.goto(f"{live_server_url}/meetings/{meeting.id}/room/")
    for page in (host, guest):
        page.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)
    guest.wait_for_function(f"(window.ywStats.framesDecoded['{county_secretary.id}'] || 0) > 5", timeout=30000)
    host.wait_for_function(f"(window.ywStats.framesDecoded['{town_secretary.id}'] || 0) > 5", timeout=30000)

    problems = []
    # the host presents: the guest sees the host large; the host sees the guest (never themself) on stage
    for (w, h), (w2, h2) in (SIZES, SIZES[::-1]):
        host.set_viewport_size({"width": w, "height": h})
        guest.set_viewport_size({"width": w2, "height": h2})
        problems += _check_stage(guest, "guest", w2, county_secretary.id)
        problems += _check_stage(host, "host", w, town_secretary.id)

    # the host's buttons for the guest: at least 44 px, 移出 apart from 主讲
    present = host.locator(f"#participant-list button[data-command=present][data-target='{town_secretary.id}']")
    remove = host.locator(f"#participant-list button[data-command=remove][data-target='{town_secretary.id}']")
    present.wait_for(timeout=15000)
    for (w, h) in SIZES:
        host.set_viewport_size({"width": w, "height": h})
        for name in ("mute", "stop_video", "present", "remove"):
            box = host.locator(f"#participant-list button[data-command={name}][data-target='{town_secretary.id}']"
                               ).bounding_box()
            if box["height"] < 44 or box["width"] < 44:
                problems.append(f"host @{w}: the {name} button is {box['width']}×{box['height']} px")
        a, b = present.bounding_box(), remove.bounding_box()
        same_row = abs(a["y"] - b["y"]) < a["height"] / 2
        gap = (b["x"] - (a["x"] + a["width"])) if same_row else (b["y"] - (a["y"] + a["height"]))
        if gap < 16:
            problems.append(f"host @{w}: 移出 stands {gap:.0f} px from 主讲")

    # 移出 asks first; saying no keeps the guest in the meeting
    asked = []
    host.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    remove.click()
    host.wait_for_timeout(500)
    assert asked and "移出" in asked[0], asked
    assert guest.evaluate("window.ywStats.state") == "joined"

    # presenting handed to the guest: on the host's desk the guest is large, the guest sees the host
    present.click()
    for page in (host, guest):
        page.wait_for_function(f"window.ywStats.presenter === {town_secretary.id}", timeout=10000)
    host.set_viewport_size({"width": 1366, "height": 768})
    guest.set_viewport_size({"width": 360, "height": 740})
    problems += _check_stage(host, "host", 1366, town_secretary.id)
    problems += _check_stage(guest, "guest (presenting)", 360, county_secretary.id)
    assert not problems, "\n".join(problems)

    for page in (host, guest):
        page.goto("about:blank")
    import time

    deadline = time.monotonic() + 15
    while Participant.objects.filter(meeting=meeting, online=True).exists():
        assert time.monotonic() < deadline, "the server did not record that everyone left"
        time.sleep(0.2)
