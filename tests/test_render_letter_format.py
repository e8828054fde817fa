"""信函格式 (GB/T 9704 §10.1): two blank lines between 字号 and title; the 版记 has neither rules nor
the 印发 line — in the PDF and in the .docx."""
from __future__ import annotations

import io

import pdfplumber
from docx import Document

from documents.render.docx import export_docx
from documents.render.pdf import render_pdf
from documents.render.samples import sample_doc

MM = 72 / 25.4
PITCH = 225 * MM / 22


def _letter():
    doc = sample_doc(2, variant="letter")
    doc.doc_type = "函"
    doc.doc_number = "咸政函〔2026〕7号"
    return doc


def _baseline(page, text):
    rows = {}
    for ch in page.chars:
        rows.setdefault(round(page.height - ch["matrix"][5], 1), []).append(ch)
    for y, chars in sorted(rows.items()):
        if text in "".join(c["text"] for c in sorted(chars, key=lambda c: c["x0"])):
            return y
    raise AssertionError(f"{text} not found")


def test_it_leaves_two_blank_lines_between_the_number_and_the_title_of_a_letter_pdf():
    doc = _letter()
    with pdfplumber.open(io.BytesIO(render_pdf(doc).pdf)) as pdf:
        page = pdf.pages[0]
        number = _baseline(page, "咸政函〔2026〕7号")
        title = min(page.height - ch["matrix"][5] for ch in page.chars if abs(ch["size"] - 22) < 0.1)
        # the number on grid line n, the title on line n + 3: two blank lines between
        assert round((title - number) / PITCH) == 3


def test_it_gives_a_letter_pdf_an_imprint_without_rules_and_without_the_printing_line():
    doc = _letter()
    with pdfplumber.open(io.BytesIO(render_pdf(doc).pdf)) as pdf:
        last = pdf.pages[-1]
        text = "".join(p.extract_text() for p in pdf.pages)
        assert "抄送：市委各部门" in text.replace("\n", "")
        assert "印发" not in text
        black = [ln for ln in last.lines if ln["stroking_color"] in ((0,), (0, 0, 0), [0], [0, 0, 0], None)
                 and abs(ln["x1"] - ln["x0"] - 156 * MM) < 1]
        assert black == []


def test_it_exports_a_letter_docx_with_the_same_gaps_and_imprint():
    doc = _letter()
    d = Document(io.BytesIO(export_docx(doc)))
    texts = [p.text for p in d.paragraphs]
    n = texts.index("咸政函〔2026〕7号")
    title_first = next(i for i, t in enumerate(texts) if i > n and t and doc.title.startswith(t))
    assert texts[n + 1:title_first] == ["", ""]
    assert not any("印发" in t for t in texts)
    imprint = next(p for p in d.paragraphs if p.text.startswith("抄送："))
    assert imprint._p.find(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}pBdr") is None
