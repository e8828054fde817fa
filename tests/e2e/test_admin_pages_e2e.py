"""In a real Chromium on a phone (360 px): an administrator opens the unit tree a level at a time, finds a
village by search, adds a person with a post there and makes them the village's seal keeper; every
administration page fits the screen, has thumb-sized buttons and no serious accessibility violation."""
import re

import pytest

from documents.models import SealKeeper
from office.models import Person, Post
from tests.conftest import login
from tests.e2e.test_pages_fit_and_accessible_e2e import AXE, _check

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _small_targets(page):
    """Buttons and selects of the page's content shorter than 44 px (phones: thumb-sized targets)."""
    return page.evaluate("""() => [...document.querySelectorAll('main button, main select, main .button')]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 43.5)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().height))""")


def test_it_finds_a_village_adds_a_person_with_a_post_and_makes_them_its_seal_keeper(
        seed_small, live_server_url, new_page):
    assert AXE.exists(), "axe-core is missing: run `npm install` (make test does)"
    units, _people = seed_small
    village = units["北街村"]
    page = new_page(width=360, height=740)
    script_errors, problems = [], []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))

    def check(label):
        page.wait_for_load_state("load")
        problems.extend(_check(page, label, 360, with_axe=True))
        problems.extend(f"{label}: small target {t}" for t in _small_targets(page))

    login(page, live_server_url, "admin")
    page.goto(live_server_url + "/office/admin/")
    check("admin index")
    page.get_by_role("link", name=re.compile("^组织机构")).first.click()
    page.wait_for_url(re.compile(r"/office/admin/units/$"))
    assert page.locator(".tree-name", has_text="秦都区人民政府").count() == 0  # not drawn until asked
    page.locator(f'.tree-node[data-unit="{units["咸阳市"].id}"] > .tree-line .tree-toggle').click()
    page.locator(".tree-name", has_text="秦都区人民政府").wait_for()
    page.locator(f'.tree-node[data-unit="{units["秦都区"].id}"] > .tree-line .tree-toggle').click()
    page.locator(".tree-name", has_text="人民路街道办事处").wait_for()
    check("unit tree, opened two levels")

    page.fill("#unit-search", "北街")
    page.press("#unit-search", "Enter")
    page.locator("#unit-results").wait_for()
    assert "人民路街道办事处" in page.locator("#unit-results").inner_text()  # where in the tree it is
    check("unit search")
    page.locator("#unit-results a", has_text="北街村民委员会").click()
    page.wait_for_url(re.compile(rf"/office/admin/units/{village.id}/$"))
    check("village page")

    page.click("#add-person")
    page.wait_for_url(re.compile(r"/office/admin/people/new/"))
    assert page.input_value("#id_unit") == village.code
    page.fill("#id_display_name", "孔文书")
    page.fill("#id_username", "kong_wenshu")
    page.fill("#id_phone", "029-33210088")
    page.fill("#id_password", "Chushi-2026!")
    page.fill("#id_title", "村文书")
    page.get_by_label("秘书/文书").check()
    check("new person form")
    page.click("#save-person")
    page.wait_for_url(re.compile(r"/office/admin/people/\d+/$"))
    assert "北街村民委员会" in page.locator("#person-posts").inner_text()
    check("person page")

    page.goto(live_server_url + f"/office/admin/units/{village.id}/")
    assert "孔文书" in page.locator("#unit-people").inner_text()
    page.click("#seal-keepers")
    page.wait_for_url(re.compile(rf"/documents/files/seals/{village.id}/keepers/$"))
    option = page.locator("#add-keeper option", has_text="孔文书").get_attribute("value")
    page.select_option("#add-keeper select[name=post]", value=option)
    page.click("#add-keeper button[type=submit]")
    page.locator("#keepers", has_text="孔文书").wait_for()
    check("seal keepers")

    post = Post.objects.get(person=Person.objects.get(username="kong_wenshu"))
    assert post.unit_id == village.id and post.is_secretary
    assert SealKeeper.objects.filter(unit=village, post=post).exists()
    for path in ("/office/admin/people/?q=孔", "/office/admin/delegations/"):
        page.goto(live_server_url + path)
        check(path)
    assert not script_errors, script_errors
    assert not problems, "\n".join(problems)
