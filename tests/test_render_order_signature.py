"""命令 (令): signed with the signer's 职务 and name, and its 用印 works (issue 11 §3)."""
from __future__ import annotations

import io

import pdfplumber
import pytest

from documents.render.adapter import to_render_doc
from documents.render.pdf import render_pdf
from tests.test_documents_support import dispatched


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("YW_SEAL_DIR", str(tmp_path / "seals"))
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _order(city_secretary, city_leader, units):
    return dispatched(city_secretary, city_leader, doc_type="命令", title="咸阳市人民政府令",
                      body=[{"kind": "p", "text": "《咸阳市城市供水管理办法》已经市政府常务会议通过，现予公布，自2026年5月1日起施行。"}],
                      main=[units["秦都区"].id])


@pytest.mark.django_db
def test_it_signs_an_order_with_the_signers_post_and_name(city_secretary, city_leader, units):
    doc = _order(city_secretary, city_leader, units)
    rdoc = to_render_doc(doc)
    assert (rdoc.signed_by_title, rdoc.signed_by_name) == ("市长", city_leader.display_name)
    with pdfplumber.open(io.BytesIO(render_pdf(rdoc).pdf)) as pdf:
        lines = pdf.pages[-1].extract_text().splitlines()
    signature = next(ln for ln in lines if city_leader.display_name in ln)
    assert signature.replace(" ", "").startswith("市长") and signature.replace(" ", "").endswith(city_leader.display_name)


@pytest.mark.django_db
def test_it_seals_an_order(city_secretary, city_leader, units, client_for):
    doc = _order(city_secretary, city_leader, units)
    keeper = client_for(city_secretary)
    assert keeper.post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    resp = keeper.post(f"/api/documents/files/{doc.id}/seal")
    assert resp.status_code == 200, resp.content
    assert resp.json()["sealed"] is True
    pdf = keeper.get(f"/api/documents/files/{doc.id}/pdf")
    assert pdf["X-Document-Sealed"] == "1"
