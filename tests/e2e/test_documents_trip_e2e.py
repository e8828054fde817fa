"""In a real Chromium: a city notice goes to every village of one town, is signed for and answered,
and the sender's tracking table and tree change without a reload."""
import re

import pytest

from documents.models import Document, Receipt
from tests.conftest import login
from tests.test_documents_support import post_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_drafts_signs_registers_dispatches_receives_and_tracks_a_notice_live(seed_small, live_server_url, new_page):
    units, people = seed_small
    base = live_server_url

    # the village cadre's inbox is open on a phone before anything is sent
    village = new_page(width=360, height=740)
    login(village, base, "village_cadre")
    village.goto(base + "/documents/")
    village.wait_for_function("document.getElementById('live-dot').classList.contains('on')")
    assert "关于做好冬季防火工作的通知" not in village.content()

    # 1. the city secretary drafts a 通知 to every village of 人民路街道
    sec = new_page()
    login(sec, base, "city_secretary")
    sec.goto(base + "/documents/new/")
    sec.select_option("#doc_type", "通知")
    sec.fill("#subject", "做好冬季防火工作")
    sec.click("#suggest-title")
    sec.wait_for_function("document.getElementById('title').value.includes('关于做好冬季防火工作的通知')")
    assert sec.input_value("#title") == "咸阳市人民政府关于做好冬季防火工作的通知"
    sec.select_option("#pick-unit", str(units["人民路街道"].id))
    sec.select_option("#pick-scope", "village")
    sec.click("#add-main")
    sec.locator("#recipient-preview").get_by_text("主送 2 个单位").wait_for()
    # skipping 秦都区 and 人民路街道 is allowed for a 通知 with them copied: offered, not ticked
    sec.locator("#skip-cc-option").wait_for(state="visible")
    assert not sec.is_checked("#add_skipped_cc")
    sec.check("#add_skipped_cc")
    sec.fill("#body", "为做好今冬明春防火工作，现将有关事项通知如下：\n一、提高认识\n各村（社区）要高度重视。")
    sec.click("#save-draft")
    sec.wait_for_url(re.compile(r"/documents/\d+/$"))
    doc = Document.objects.get(title="咸阳市人民政府关于做好冬季防火工作的通知")
    assert sorted(doc.cc_recipients.values_list("short_name", flat=True)) == ["人民路街道", "秦都区"]
    sec.select_option("#signers", str(post_of(people["city_leader"]).id))
    sec.click("#submit-doc")
    sec.wait_for_load_state("domcontentloaded")
    assert "待签发" in sec.locator("#doc-state").inner_text()

    # 2. the city leader signs it off
    leader = new_page()
    login(leader, base, "city_leader")
    leader.goto(f"{base}/documents/{doc.id}/")
    step = doc.steps.get()
    leader.click(f"#agree-{step.id}")
    leader.wait_for_load_state("domcontentloaded")
    assert "已签发" in leader.locator("#doc-state").inner_text()

    # 3. the secretary registers (字号) and dispatches it
    sec.goto(f"{base}/documents/{doc.id}/")
    sec.click("#register-doc")
    sec.wait_for_load_state("domcontentloaded")
    assert re.fullmatch(r"咸政发〔\d{4}〕1号", sec.locator("#doc-number").inner_text().strip())
    sec.click("#dispatch-doc")
    sec.wait_for_load_state("domcontentloaded")
    sec.click("#tracking-link")
    sec.wait_for_function("document.querySelectorAll('#track-table tbody tr').length === 4")
    receipt = Receipt.objects.get(document=doc, unit=units["人民路社区"])
    row = f"#track-table tr[data-receipt='{receipt.id}']"
    assert sec.get_attribute(row, "data-state") == "delivered"
    assert sec.locator(f"#tree rect[data-unit='{units['人民路社区'].id}']").get_attribute("data-state") == "delivered"
    sec.evaluate("window.__noReload = true")

    # 4. the village cadre sees it arrive without reloading, signs for it and replies
    village.locator("#doc-list").get_by_text("关于做好冬季防火工作的通知").wait_for(timeout=10000)
    village.locator("#doc-list").get_by_text("关于做好冬季防火工作的通知").click()
    village.wait_for_load_state("domcontentloaded")
    village.click(f"#sign-{receipt.id}")
    village.wait_for_load_state("domcontentloaded")
    assert "已签收" in village.locator(f"#receipt-state-{receipt.id}").inner_text()

    # the sender's table and tree changed, and the page was not reloaded
    sec.wait_for_function(f"document.querySelector(\"{row}\").dataset.state === 'signed'", timeout=10000)
    assert sec.locator(f"#tree rect[data-unit='{units['人民路社区'].id}']").get_attribute("data-state") == "signed"
    assert sec.evaluate("window.__noReload") is True

    village.fill(f"#reply-text-{receipt.id}", "已组织全村排查火灾隐患。")
    village.click(f"#reply-{receipt.id}")
    village.wait_for_load_state("domcontentloaded")
    assert "已组织全村排查火灾隐患" in village.content()
    sec.wait_for_function(f"document.querySelector(\"{row} td:nth-child(7)\").textContent === '1'", timeout=10000)
    assert sec.evaluate("window.__noReload") is True
    assert sec.locator("[data-count='signed']").inner_text() == "1"
    assert village.evaluate("document.documentElement.scrollWidth") <= 360


def test_it_fits_the_documents_pages_on_a_phone_and_a_laptop(seed_small, live_server_url, new_page):
    from tests.test_documents_support import dispatched

    units, people = seed_small
    doc = dispatched(people["city_secretary"], people["city_leader"], main=[f"under:{units['人民路街道'].id}:village"],
                     add_skipped_cc=True)
    for width, height in ((360, 740), (1366, 768)):
        page = new_page(width=width, height=height)
        login(page, live_server_url, "city_secretary")
        for path in ("/documents/", "/documents/?box=outbox", "/documents/new/", f"/documents/{doc.id}/",
                     f"/documents/{doc.id}/tracking/", "/documents/archive/"):
            page.goto(live_server_url + path)
            if path.endswith("/tracking/"):
                page.wait_for_function("document.querySelectorAll('#track-table tbody tr').length === 4")
                assert page.locator("#tree rect").count() == 5  # city, county, town and the two villages
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, path)
