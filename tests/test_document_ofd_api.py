"""OFD download beside the PDF: GET /api/documents/files/{id}/ofd and the link on the document page."""
from __future__ import annotations

import io
import zipfile
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from tests.test_documents_support import draft, post_of

NS = {"ofd": "http://www.ofdspec.org/2016"}


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("YW_SEAL_DIR", str(tmp_path / "seals"))
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.mark.django_db
def test_it_downloads_the_ofd_for_those_who_may_see_it_only(county_secretary, outsider, client_for):
    doc = draft(county_secretary, title="关于做好冬季防火工作的通知")
    resp = client_for(county_secretary).get(f"/api/documents/files/{doc.id}/ofd")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/ofd"
    assert resp["X-Document-Sealed"] == "0"
    assert ".ofd" in resp["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        names = zf.namelist()
        text = "".join(t.text or "" for n in names if n.endswith("Content.xml")
                       for t in ET.fromstring(zf.read(n)).iter("{%s}TextCode" % NS["ofd"]))
    assert names[0] == "OFD.xml"
    assert "关于做好冬季防火工作的通知" in text and post_of(county_secretary).unit.name in text
    denied = client_for(outsider).get(f"/api/documents/files/{doc.id}/ofd")
    assert denied.status_code == 404 and "无权" in denied.json()["detail"]
    assert Client().get(f"/api/documents/files/{doc.id}/ofd").status_code == 401


@pytest.mark.django_db
def test_it_offers_the_ofd_on_the_document_page(county_secretary, client_for):
    doc = draft(county_secretary, title="关于做好冬季防火工作的通知")
    page = client_for(county_secretary).get(f"/documents/{doc.id}/").content.decode()
    assert f'href="/api/documents/files/{doc.id}/ofd"' in page and "下载OFD" in page


@pytest.mark.django_db
def test_seal_use_writes_an_sm2_sealed_ofd_that_the_verify_page_and_api_check(city_secretary, city_leader, units,
                                                                                 client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from documents.signing import ca
    from tests.test_documents_support import dispatched

    doc = dispatched(city_secretary, city_leader, title="关于做好冬季防火工作的通知", main=[units["秦都区"].id])
    keeper = client_for(city_secretary)
    assert keeper.post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    assert keeper.post(f"/api/documents/files/{doc.id}/seal").status_code == 200
    ofd = keeper.get(f"/api/documents/files/{doc.id}/ofd")
    assert ofd.status_code == 200 and ofd["X-Document-Sealed"] == "1"
    with zipfile.ZipFile(io.BytesIO(ofd.content)) as zf:
        assert "Doc_0/Signs/Sign_0/SignedValue.dat" in zf.namelist()
    uses = [u["purpose"] for u in ca.usage_log(doc.unit_id)]
    assert "用印（OFD，SM2）" in uses  # the 用印 log records the OFD seal too

    def upload(url, data, name):
        return Client().post(url, {"file": SimpleUploadedFile(name, data, content_type="application/ofd")})

    report = upload("/api/documents/files/verify", ofd.content, "正式文件.ofd").json()
    assert report["valid"] is True and report["modified_after_signing"] is False
    assert report["signatures"][0]["organisation"] == doc.unit.name and report["signatures"][0]["trusted"]
    with zipfile.ZipFile(io.BytesIO(ofd.content)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    page = files["Doc_0/Pages/Page_0/Content.xml"]
    files["Doc_0/Pages/Page_0/Content.xml"] = page.replace("冬季".encode(), "夏季".encode(), 1)
    from documents.render.ofd import pack

    tampered = pack(files)
    bad = upload("/api/documents/files/verify", tampered, "x.ofd").json()
    assert bad["valid"] is False and bad["modified_after_signing"] is True
    assert any("Content.xml" in p for p in bad["signatures"][0]["problems"])
    html = upload("/documents/files/verify/", ofd.content, "正式文件.ofd").content.decode()
    assert "签章有效" in html and doc.unit.name in html
    assert "签章无效" in upload("/documents/files/verify/", tampered, "x.ofd").content.decode()


@pytest.mark.django_db
def test_the_seals_page_shows_the_sm2_seal_made_with_the_seal(city_secretary, client_for):
    from documents.signing import gm_seals

    keeper = client_for(city_secretary)
    unit_id = post_of(city_secretary).unit_id
    assert keeper.post(f"/api/documents/files/seals/{unit_id}").status_code == 201
    serial = gm_seals.serial(unit_id)
    assert serial
    page = keeper.get("/documents/files/seals/").content.decode()
    assert f'id="sm2-serial-{unit_id}">{serial}<' in page
