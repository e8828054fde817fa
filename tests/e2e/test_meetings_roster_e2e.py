"""In real Chromium on a 360 px phone: the host's roster of a large room shows one page, searches as
the host types, filters by state with the room's counts, and pages."""
import datetime

import pytest
from django.utils import timezone

from tests.conftest import login
from tests.meetings_support import schedule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

N = 120


def test_it_searches_filters_and_pages_the_roster_on_a_phone(seed_small, live_server_url, new_page):
    from meetings.models import Participant
    from office.models import Person

    units, people = seed_small
    meeting = schedule(people["county_secretary"], kind="training", villages_of=[units["人民路街道"].id])
    cadres = Person.objects.bulk_create([Person(username=f"roster{i:03d}", display_name=f"村干部{i:03d}")
                                         for i in range(N)])
    now = timezone.now()
    Participant.objects.bulk_create([
        Participant(meeting=meeting, person=p, online=i % 2 == 0,
                    hand_raised_at=now - datetime.timedelta(seconds=i) if i in (7, 70) else None)
        for i, p in enumerate(cadres)])
    page = new_page(width=360, height=740)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server_url, "county_secretary")
    page.goto(f"{live_server_url}/meetings/{meeting.id}/roster/")
    rows = page.locator("#roster-body tr[data-person]")
    assert rows.count() == 50
    assert page.locator("[data-count=online]").inner_text() == str(N // 2)
    assert page.locator("#roster-page").inner_text() == "第 1 / 3 页"
    page.click("#roster-next")
    page.locator("#roster-page", has_text="第 2 / 3 页").wait_for(timeout=10000)
    page.fill("#roster-search", "村干部07")
    page.locator("#roster-page", has_text="第 1 / 1 页").wait_for(timeout=10000)
    assert sorted(rows.locator("td:first-child").all_inner_texts()) == [f"村干部07{d}" for d in range(10)]
    page.fill("#roster-search", "")
    page.click("button[data-state=hands]")
    page.wait_for_function("document.querySelectorAll('#roster-body tr[data-person]').length === 2", timeout=10000)
    # in the order the hands went up (70 first), each with its labelled icon and 允许发言
    assert rows.locator("td:first-child").all_inner_texts() == ["村干部070", "村干部007"]
    assert rows.first.locator("svg[role=img][aria-label=举手]").count() == 1
    assert rows.first.locator("button[data-c=allow_speak]").count() == 1
    assert page.get_attribute("button[data-state=hands]", "aria-pressed") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert errors == []
