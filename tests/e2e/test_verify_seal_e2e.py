"""A visitor (not signed in) checks a sealed 公文 PDF on the verification page in a real Chromium."""
from __future__ import annotations

import pytest

from documents.render.model import Seal
from documents.render.pdf import render_pdf
from documents.render.samples import sample_doc
from documents.signing import ca
from documents.signing.pades import seal_document
from documents.signing.remote import LocalSealSigner

pytestmark = pytest.mark.e2e


@pytest.fixture
def sealed_pdf(transactional_db, monkeypatch):
    """A seal made in the database the server reads (committed: the server is another process)."""
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "e2e")
    material = ca.create_seal(900, "咸阳市人民政府")
    result = render_pdf(sample_doc(1, seals=[Seal("咸阳市人民政府")]))
    return seal_document(result, [LocalSealSigner(material)])


def test_it_tells_a_visitor_whether_a_sealed_pdf_is_intact(server_factory, new_page, sealed_pdf):
    signed = sealed_pdf
    server = server_factory(env={"YW_SEAL_PASSPHRASE": "e2e"})  # trusts the CA made above
    page = new_page()
    page.goto(server.url + "/documents/files/verify/")
    page.set_input_files("#verify-file", files=[{"name": "正式文件.pdf", "mimeType": "application/pdf",
                                                 "buffer": signed}])
    page.click("#verify-form button[type=submit]")
    result = page.locator("#verify-result")
    result.wait_for()
    assert "签章有效" in result.inner_text()
    assert "咸阳市人民政府" in result.inner_text()
    assert page.locator("#verify-modified").inner_text() == "否"

    tampered = bytearray(signed)
    tampered[len(tampered) // 2] ^= 0x01
    page.set_input_files("#verify-file", files=[{"name": "改过的.pdf", "mimeType": "application/pdf",
                                                 "buffer": bytes(tampered)}])
    page.click("#verify-form button[type=submit]")
    page.locator("#verify-result").wait_for()
    assert "签章无效" in page.locator("#verify-result").inner_text()
    assert page.locator("#verify-modified").inner_text() == "是"
