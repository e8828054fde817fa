"""移交: one BagIt bag per 全宗 with SHA-256 and SM3 manifests, checked on receipt; the catalogue."""
import io

import pytest
from django.core.management import call_command

from documents.archive import actions, exports
from documents.archive.checks import text_of
from tests.archive_support import filed_received, filed_sent, isolated_files, with_fonds  # noqa: F401


@pytest.fixture
def holdings(units, city_secretary, city_leader, county_secretary, archivist):
    with_fonds()
    a = filed_sent(city_secretary, city_leader, title="关于移交测试的通知", main=[units["秦都区"].id])
    b = filed_sent(city_secretary, city_leader, title="关于移交测试的第二个通知", main=[units["秦都区"].id])
    return [actions.do_accept(person=archivist, item_id=a.id), actions.do_accept(person=archivist, item_id=b.id)]


def _check(path):
    out = io.StringIO()
    try:
        call_command("archive_check", "--bag", str(path), "--quick", stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_it_exports_a_bag_that_passes_and_fails_on_a_changed_byte(holdings, tmp_path):
    year = holdings[0].year
    call_command("archive_export", "--year", str(year), "--out", str(tmp_path / "out"), stdout=io.StringIO(),
                 stderr=io.StringIO())
    bag = tmp_path / "out" / f"Z001-{year}"
    names = {p.name for p in bag.iterdir()}
    assert {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt", "tagmanifest-sha256.txt",
            "tagmanifest-sm3.txt"} <= names
    folder = bag / "data" / holdings[0].archival_code
    assert (folder / "metadata.xml").exists() and (bag / "data" / "catalogue" / "归档文件目录.xlsx").exists()
    assert "Payload-Oxum" in (bag / "bag-info.txt").read_text()
    code, out = _check(bag)
    assert code == 0, out
    target = next(p for p in folder.iterdir() if p.name.startswith("01-"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))
    code, out = _check(bag)
    assert code == 1
    lines = out.strip().splitlines()
    rel = f"data/{holdings[0].archival_code}/{target.name}"
    assert any(rel in line and "manifest-sha256" in line for line in lines)
    assert any(rel in line and "manifest-sm3" in line for line in lines)
    assert any(rel in line and ": fixity:" in line for line in lines)


def test_it_writes_the_catalogue_with_the_archival_codes(holdings, archivist, client_for):
    c = client_for(archivist)
    year = holdings[0].year
    pdf = c.get(f"/documents/archive/catalogue.pdf?fonds=Z001&year={year}")
    assert pdf.status_code == 200
    text = text_of(pdf.content).replace("\n", "")
    assert "归档文件目录" in text and "备考表" in text
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf.content)) as p:
        box = p.pages[0].mediabox
        assert float(box[2]) > float(box[3])  # A4 landscape
    from openpyxl import load_workbook

    xlsx = c.get(f"/documents/archive/catalogue.xlsx?fonds=Z001&year={year}")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][:2] == ("序号", "档号")
    assert rows[2][1] == holdings[0].archival_code and len(rows[2][5]) == 8
    page = c.get(f"/documents/archive/catalogue/?fonds=Z001&year={year}").content.decode()
    assert holdings[1].archival_code in page and "按保管期限" in page
    stats = c.get(f"/documents/archive/statistics.pdf?fonds=Z001&year={year}")
    assert stats.status_code == 200 and "按月份" in text_of(stats.content)


def test_it_exports_from_the_api_as_a_zip(holdings, archivist, county_secretary, client_for):
    import zipfile

    year = holdings[0].year
    resp = client_for(archivist).post("/api/documents/archive/export", {"fonds": "Z001", "year": year},
                                      content_type="application/json")
    assert resp.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(b"".join(resp.streaming_content)))
    assert f"Z001-{year}/manifest-sm3.txt" in z.namelist()
    refused = client_for(county_secretary).post("/api/documents/archive/export", {"fonds": "Z001", "year": year},
                                                content_type="application/json")
    assert refused.status_code == 403


def test_it_describes_an_item_in_da_t_46_xml(holdings, archivist, client_for):
    xml = client_for(archivist).get(f"/documents/archive/items/{holdings[0].id}/metadata.xml").content
    meta = exports.parse_metadata_xml(xml)
    assert meta["code"] == holdings[0].archival_code and meta["title"] == "关于移交测试的通知"
    text = xml.decode()
    for tag in ("文件实体", "机构人员实体", "业务实体", "实体关系", "签发", "SM3", "非涉密"):
        assert tag in text


def test_it_exports_the_same_bytes_twice_so_a_resumed_download_joins_its_parts(holdings, archivist, client_for):
    import time
    import zipfile

    c = client_for(archivist)
    year = holdings[0].year
    url, body = "/api/documents/archive/export", {"fonds": "Z001", "year": year}
    first = c.post(url, body, content_type="application/json")
    whole = b"".join(first.streaming_content)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"bag-')
    time.sleep(1.2)  # a second later: the catalogue, the spreadsheet and the zip are made again
    again = c.post(url, body, content_type="application/json")
    assert again["ETag"] == etag and b"".join(again.streaming_content) == whole
    # a download cut after 1,000 bytes resumes from there, and the parts join into a valid zip
    rest = c.post(url, body, content_type="application/json", HTTP_RANGE="bytes=1000-", HTTP_IF_RANGE=etag)
    assert rest.status_code == 206 and rest["Content-Range"] == f"bytes 1000-{len(whole) - 1}/{len(whole)}"
    joined = whole[:1000] + b"".join(rest.streaming_content)
    assert joined == whole and zipfile.ZipFile(io.BytesIO(joined)).testzip() is None
    # a client holding the start of other bytes (an earlier export) gets the whole file, not a part
    stale = c.post(url, body, content_type="application/json", HTTP_RANGE="bytes=1000-", HTTP_IF_RANGE='"bag-0"')
    assert stale.status_code == 200 and b"".join(stale.streaming_content) == whole


def test_it_gives_a_stored_file_its_hash_as_etag_and_honours_if_range(holdings, archivist, client_for):
    from office import storage
    from documents.archive.models import Component

    comp = Component.objects.filter(item=holdings[0]).order_by("order").first()
    rec = storage.record(comp.storage_name)
    data = storage.read(comp.storage_name)
    from django.test import RequestFactory

    from office.downloads import ranged_file_response

    rf = RequestFactory()
    ok = ranged_file_response(rf.get("/", HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=f'"{rec.sha256}"'),
                              comp.storage_name, "application/pdf")
    assert ok.status_code == 206 and ok["ETag"] == f'"{rec.sha256}"' and b"".join(ok.streaming_content) == data[10:20]
    other = ranged_file_response(rf.get("/", HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE='"0000"'),
                                 comp.storage_name, "application/pdf")
    assert other.status_code == 200 and b"".join(other.streaming_content) == data
