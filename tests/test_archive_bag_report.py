"""A received bag's check is kept as a report: one per bag, as a page, a PDF and JSON, each 件
with its results and reasons; the reports are listed on the archive's pages for the 全宗's people."""
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from documents.archive import actions
from documents.archive.checks import text_of
from documents.archive.models import CheckRun, CheckStage
from tests.archive_support import filed_sent, isolated_files, with_fonds  # noqa: F401


@pytest.fixture
def bag(units, city_secretary, city_leader, archivist, tmp_path):
    with_fonds()
    items = []
    for title in ("关于接收检测的第一个通知", "关于接收检测的第二个通知"):
        item = filed_sent(city_secretary, city_leader, title=title, main=[units["秦都区"].id])
        items.append(actions.do_accept(person=archivist, item_id=item.id))
    year = items[0].year
    call_command("archive_export", "--year", str(year), "--out", str(tmp_path), stdout=io.StringIO(),
                 stderr=io.StringIO())
    return tmp_path / f"Z001-{year}", items


def _check(path):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("archive_check", "--bag", str(path), "--quick", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_it_keeps_a_passing_bags_check_as_a_report_with_every_item(bag, archivist, client_for):
    path, items = bag
    code, _out, err = _check(path)
    assert code == 0
    run = CheckRun.objects.get(stage=CheckStage.RECEIPT)
    assert f"/documents/archive/reports/{run.id}/" in err
    assert run.ok and run.total == 2 and run.failed == 0 and run.fonds.code == "Z001"
    c = client_for(archivist)
    page = c.get(f"/documents/archive/reports/{run.id}/").content.decode()
    for item in items:
        assert item.archival_code in page and item.title in page
        assert f'href="/documents/archive/items/{item.id}/"' in page  # the holdings have it: linked
    assert "SM3 清单" in page and path.name in page
    body = c.get(f"/documents/archive/reports/{run.id}.json").json()
    assert body["stage"] == "receipt" and body["ok"]
    by_code = {e["code"]: e for e in body["items"]}
    entry = by_code[items[0].archival_code]
    assert entry["ok"] and {"fixity", "content", "metadata"} <= {r["check"] for r in entry["results"]}
    assert all(r["ok"] for r in entry["results"])
    pdf = c.get(f"/documents/archive/reports/{run.id}.pdf")
    assert pdf["Content-Type"] == "application/pdf" and items[1].archival_code in text_of(pdf.content)


def test_a_failing_bags_report_names_the_item_the_file_and_the_reason(bag, archivist, client_for):
    path, items = bag
    folder = path / "data" / items[1].archival_code
    target = next(folder.glob("01-*"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))
    code, out, _err = _check(path)
    assert code == 1
    run = CheckRun.objects.get(stage=CheckStage.RECEIPT)
    assert not run.ok and run.failed == 1
    body = client_for(archivist).get(f"/documents/archive/reports/{run.id}.json").json()
    by_code = {e["code"]: e for e in body["items"]}
    assert by_code[items[0].archival_code]["ok"]
    bad = by_code[items[1].archival_code]
    assert not bad["ok"]
    rel = f"data/{items[1].archival_code}/{target.name}"
    failed = {(r["check"], r["component"]): r["reason"] for r in bad["results"] if not r["ok"]}
    assert failed[("fixity", rel)] == "与元数据记录的摘要不符"
    assert failed[("manifest-sm3", rel)] == "SM3摘要不符"
    assert ("manifest-sha256", rel) in failed
    assert json.dumps(body, ensure_ascii=False).count(rel) >= 3


def test_the_reports_page_lists_the_fonds_reports_for_its_people_only(bag, archivist, county_secretary, client_for):
    path, _items = bag
    _check(path)
    _check(path)
    run = CheckRun.objects.filter(stage=CheckStage.RECEIPT).first()
    c = client_for(archivist)
    c.get("/documents/archive/reports/")  # warm the session and caches
    with CaptureQueriesContext(connection) as q:
        page = c.get("/documents/archive/reports/")
    assert page.status_code == 200 and len(q) <= 12, [x["sql"] for x in q]
    text = page.content.decode()
    assert f"/documents/archive/reports/{run.id}/" in text and "接收" in text
    assert 'id="nav-reports"' in c.get("/documents/archive/").content.decode()
    stranger = client_for(county_secretary)
    assert f"/documents/archive/reports/{run.id}/" not in stranger.get("/documents/archive/reports/").content.decode()
    refused = stranger.get(f"/documents/archive/reports/{run.id}/")
    assert refused.status_code == 404 and "没有找到该检测报告" in refused.content.decode()


def test_a_bag_of_no_fonds_here_is_reported_to_administrators_only(bag, archivist, admin, client_for, tmp_path):
    path, items = bag
    foreign = tmp_path / "Z999-2026"
    path.rename(foreign)
    for folder in (foreign / "data").iterdir():  # another archive's 全宗号 (the manifests no longer match: fine)
        if folder.name.startswith("Z001-"):
            folder.rename(folder.with_name(folder.name.replace("Z001-", "Z999-", 1)))
    code, out, _err = _check(foreign)
    assert code == 1 and "Z999-WS" in out
    run = CheckRun.objects.get(stage=CheckStage.RECEIPT)
    assert run.fonds is None and not run.ok
    assert client_for(archivist).get(f"/documents/archive/reports/{run.id}/").status_code == 404
    page = client_for(admin).get(f"/documents/archive/reports/{run.id}/")
    assert page.status_code == 200 and "Z999-2026" in page.content.decode()
    assert f"/documents/archive/reports/{run.id}/" in client_for(admin).get("/documents/archive/reports/").content.decode()
