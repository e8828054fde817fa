"""In a real Chromium at 360 px: every archive page (归档与检索, an item, the catalogue, the reports
and one report, management with an open fixity alert, settings) fits a phone without sideways
scroll, for the 全宗's 档案员 and for an administrator, and the 档案员's forms are there to use
(not folded away like list filters)."""
import io

import pytest
from django.core.management import call_command

from documents.archive import actions, jobs
from documents.archive.models import CheckRun, ComponentRole
from tests.archive_support import filed_sent, flip_stored_byte, with_fonds
from tests.conftest import login
from tests.e2e.test_pages_fit_and_accessible_e2e import _check

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _world(units, people, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ARCHIVE_FIXITY_INTERVAL_HOURS = 0
    with_fonds()
    item = filed_sent(people["city_secretary"], people["city_leader"], main=[units["秦都区"].id],
                      title="关于做好全市档案数字化和电子文件单套制归档试点工作的通知")
    item = actions.do_accept(person=people["archivist"], item_id=item.id)
    call_command("archive_export", "--year", str(item.year), "--out", str(tmp_path / "bags"), stdout=io.StringIO(),
                 stderr=io.StringIO())
    try:
        call_command("archive_check", "--bag", str(tmp_path / "bags" / f"Z001-{item.year}"), "--quick",
                     stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit:
        pass
    flip_stored_byte(item.components.get(role=ComponentRole.FINAL).storage_name)
    while not jobs.verify_fixity(limit=100)["done"]:
        pass
    run = CheckRun.objects.filter(stage="receipt").first()
    waiting = filed_sent(people["city_secretary"], people["city_leader"], main=[units["秦都区"].id],
                         title="关于做好机关档案室规范化建设工作的通知")
    return {
        "/documents/archive/?q=档案": ["#borrow-form", ".filter-toggle"],
        f"/documents/archive/items/{item.id}/": [],
        f"/documents/archive/items/{waiting.id}/": ["#accept-button", "#return-form input[name=reason]"],
        f"/documents/archive/catalogue/?fonds=Z001&year={item.year}": ["#catalogue-form a[href*='catalogue.pdf']"],
        "/documents/archive/reports/": [], f"/documents/archive/reports/{run.id}/": [],
        "/documents/archive/manage/": ["#rule-form", "#alerts input[name=note]"],
        "/documents/archive/settings/": ["#fonds-form input[name=name]", "#unit-settings select"],
    }


def test_every_archive_page_fits_a_phone(seed_small, live_server_url, new_page, tmp_path, settings):
    units, people = seed_small
    pages = _world(units, people, tmp_path, settings)
    problems = []
    for persona in ("archivist", "admin"):
        page = new_page(width=360, height=740)
        login(page, live_server_url, persona)
        for url, controls in pages.items():
            response = page.goto(live_server_url + url)
            if response.status != 200:
                problems.append(f"{persona} {url}: HTTP {response.status}")
                continue
            page.wait_for_load_state("load")
            problems += [f"{persona} {p}" for p in _check(page, url, 360, with_axe=False)]
            if persona == "archivist":
                problems += [f"{url}: {sel} is not visible on a phone" for sel in controls
                             if not page.locator(sel).first.is_visible()]
    assert not problems, "\n".join(problems)
