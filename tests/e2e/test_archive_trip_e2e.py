"""In a real Chromium: a town's 文书 files a received 通知, the town's 档案员 accepts it, the
catalogue lists its 档号; the exported bag passes archive_check, and a changed byte fails it."""
import io
import re

import pytest
from django.core.management import call_command

from documents.archive.models import Item
from office.models import Person, Post
from tests.archive_support import finished_receipt, with_fonds
from tests.conftest import PASSWORD, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _check(bag):
    out = io.StringIO()
    try:
        call_command("archive_check", "--bag", str(bag), "--quick", stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_it_files_accepts_catalogues_and_exports_a_received_notice(seed_small, live_server_url, new_page, tmp_path):
    units, people = seed_small
    base = live_server_url
    with_fonds()
    town = units["人民路街道"]
    keeper = Person.objects.create_user("town_archivist", PASSWORD, display_name="孔档案")
    Post.objects.create(person=keeper, unit=town, title="档案员", is_archivist=True)
    finished_receipt(people["city_secretary"], people["city_leader"], people["town_secretary"], town,
                     title="关于开展档案工作检查的通知", add_skipped_cc=True)

    # 1. the town's 文书 sees it due and files it
    clerk = new_page()
    login(clerk, base, "town_secretary")
    clerk.goto(base + "/documents/archive/")
    row = clerk.locator("#pending tr", has_text="关于开展档案工作检查的通知")
    assert "收文已办结" in row.inner_text()
    row.locator("button.file-button").click()
    clerk.wait_for_url(re.compile(r"/documents/archive/items/\d+/$"))
    assert "待接收" in clerk.locator("#item-state").inner_text()
    assert "收文处理单" in clerk.locator("#components").inner_text()
    item = Item.objects.get(title="关于开展档案工作检查的通知")
    assert item.fonds.code == "Z1011"

    # 2. the town's 档案员 accepts it
    archivist = new_page()
    login(archivist, base, "town_archivist")
    archivist.goto(base + "/documents/archive/")
    archivist.locator("#incoming").get_by_text("关于开展档案工作检查的通知").click()
    archivist.click("#accept-button")
    archivist.wait_for_load_state("domcontentloaded")
    code = archivist.locator("#archival-code").inner_text()
    assert re.fullmatch(r"Z1011-WS\u00b7\d{4}-D\d+-[A-Z0-9]+-0001", code), code
    assert "通过" in archivist.locator("#check").inner_text()

    # 3. the catalogue lists its 档号
    archivist.goto(base + f"/documents/archive/catalogue/?fonds=Z1011&year={item.year}")
    assert code in archivist.locator("#catalogue-table").inner_text()

    # 4. the exported bag passes archive_check; a changed byte fails it
    call_command("archive_export", "--year", str(item.year), "--out", str(tmp_path), "--fonds", "Z1011",
                 stdout=io.StringIO(), stderr=io.StringIO())
    bag = tmp_path / f"Z1011-{item.year}"
    status, out = _check(bag)
    assert status == 0, out
    target = next((bag / "data" / code).glob("02-*"))
    data = bytearray(target.read_bytes())
    data[100] ^= 0x20
    target.write_bytes(bytes(data))
    status, out = _check(bag)
    assert status == 1 and f"data/{code}/{target.name}: manifest-sha256" in out
