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
