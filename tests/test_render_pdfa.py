"""PDF/A-2b for archiving: OutputIntent, XMP, embedded fonts; signatures still verify on top."""
from __future__ import annotations

import io

import pikepdf
import pytest

from documents.render.model import Seal
from documents.render.pdf import render_pdf
from documents.render.pdfa import check_pdfa, to_pdfa
from documents.render.samples import sample_doc
from documents.signing.ca import seal_picture


@pytest.fixture(scope="module")
def plain_and_archival():
    doc = sample_doc(3, seals=[Seal("咸阳市人民政府", picture=seal_picture("咸阳市人民政府", px=300))])
    plain = render_pdf(doc)
    return doc, plain, to_pdfa(plain.pdf, title=doc.title, author="咸阳市人民政府", subject=doc.doc_number)


def test_it_finds_what_a_plain_reportlab_pdf_lacks(plain_and_archival):
    _doc, plain, _archival = plain_and_archival
    problems = check_pdfa(plain.pdf)
    assert "no OutputIntent" in problems
    assert any("pdfaid" in p for p in problems)


def test_it_adds_the_srgb_output_intent_and_pdfa_2b_metadata(plain_and_archival):
    doc, _plain, archival = plain_and_archival
    assert check_pdfa(archival) == []
    pdf = pikepdf.open(io.BytesIO(archival))
    oi = pdf.Root.OutputIntents[0]
    assert oi.S == "/GTS_PDFA1" and oi.DestOutputProfile.N == 3
    assert oi.DestOutputProfile.read_bytes()[36:40] == b"acsp"
    meta = pdf.open_metadata()
    assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
    assert meta["dc:title"] == doc.title
    assert str(pdf.Root.Lang) == "zh-CN"
    assert len(pdf.pages) == _plain.pages


def test_it_keeps_signatures_valid_when_signing_after_conversion(plain_and_archival, db, monkeypatch):
    from documents.render.pdf import RenderResult
    from documents.signing import ca
    from documents.signing.pades import seal_document, verify_pdf
    from documents.signing.remote import LocalSealSigner

    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "t")
    _doc, plain, archival = plain_and_archival
    material = ca.create_seal(5, "咸阳市人民政府")
    signed = seal_document(RenderResult(archival, plain.pages, plain.seal_boxes), [LocalSealSigner(material)])
    assert verify_pdf(signed).valid
    assert check_pdfa(signed) == []
