"""In a real Chromium, every main page for three personas at a desk (1366 px) and on a phone (360 px):
nothing scrolls sideways, axe-core (served from the project's
node_modules, never a CDN) finds no critical or serious violation, and on the document page the
primary action stands inside the first screen. (Every page for six personas in both languages:
tests/e2e/test_pages_every_persona_e2e.py.)"""
import json
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR, login
from tests.meetings_support import schedule
from tests.test_documents_support import dispatched, draft, post_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = [(1366, 768), (360, 740)]


def _world(units, people):
    """A notice received by the county and one by the village, a draft of the city's, a meeting for everyone."""
    sent = dispatched(people["city_secretary"], people["city_leader"], urgency="加急",
                      main=[units["秦都区"].id], title="关于做好冬季防火工作的通知")
    village = post_of(people["village_cadre"]).unit
    to_village = dispatched(people["town_secretary"], people["town_leader"], main=[village.id],
                            title="关于做好村级财务公开的通知")
    own = draft(people["city_secretary"], main=[units["秦都区"].id], title="关于开展安全生产大检查的通知")
    meeting = schedule(people["city_secretary"], unit_ids=[village.id, units["秦都区"].id],
                       person_ids=[people["city_leader"].id])
    return {"sent": sent, "to_village": to_village, "own": own, "meeting": meeting}


def _pages(persona, units, world):
    sent = world["to_village"] if persona == "village_cadre" else world["sent"]
    own, meeting = world["own"], world["meeting"]
    pages = ["/", "/documents/", "/documents/?box=outbox", "/documents/new/", f"/documents/{sent.id}/",
             "/documents/archive/", "/documents/files/verify/", "/meetings/", "/meetings/new/",
             f"/meetings/{meeting.id}/", "/directory/", f"/directory/unit/{units['秦都区'].id}/", "/directory/?q=秦都",
             "/me/", "/api/docs"]
    if persona == "city_secretary":
        pages += [f"/documents/{own.id}/", f"/documents/{sent.id}/tracking/", f"/meetings/{meeting.id}/attendance/",
                  f"/meetings/{meeting.id}/roster/"]
    return pages


def _check(page, url, width, with_axe):
    problems = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        wide = page.evaluate("""(w) => [...document.querySelectorAll('body *')].filter(e => {
            const r = e.getBoundingClientRect(); return r.right > w + 1 && r.width > 0;
        }).slice(0, 3).map(e => e.tagName + '.' + e.className + '#' + e.id)""", width)
        problems.append(f"{url} @{width}: scrolls sideways ({scroll} px): {wide}")
    if with_axe:
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
              .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 2).map(n => n.target.join(' '))}));
        }""")
        for v in result:
            problems.append(f"{url} @{width}: axe {v['impact']} {v['id']} at {json.dumps(v['nodes'], ensure_ascii=False)}")
    return problems


@pytest.mark.parametrize("persona", ["city_secretary", "city_leader", "village_cadre"])
def test_it_fits_every_page_on_a_phone_and_a_desk_without_accessibility_violations(
        persona, seed_small, live_server_url, new_page):
    assert AXE.exists(), "axe-core is missing: run `npm install` (make test does)"
    units, people = seed_small
    world = _world(units, people)
    problems = []
    for width, height in WIDTHS:
        page = new_page(width=width, height=height)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_server_url, persona)
        for url in _pages(persona, units, world):
            response = page.goto(live_server_url + url)
            if response.status != 200:
                problems.append(f"{url} @{width}: HTTP {response.status}")
                continue
            page.wait_for_load_state("load")
            if url == "/api/docs":
                page.wait_for_selector("#swagger-ui .opblock", timeout=15000)  # Swagger UI drawn from the schema
            problems += _check(page, url, width, with_axe=True)
            if url.rstrip("/").count("/") == 2 and url.startswith("/documents/") and url[11:-1].isdigit():
                problems += _primary_action_in_first_screen(page, url, width, height)
        problems += [f"script error @{width}: {e}" for e in errors]
    assert not problems, "\n".join(problems)


def _primary_action_in_first_screen(page, url, width, height):
    primary = page.locator(".actionbar .primary").first
    if not primary.count():
        return []  # nothing for this persona to do here
    box = primary.bounding_box()
    if box is None or box["y"] + box["height"] > height:
        return [f"{url} @{width}: the primary action is below the first screen ({box})"]
    return []
