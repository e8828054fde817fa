"""GB/T 9704 §7.3.5.1: when the space left cannot hold the seal and the date, the line spacing is
adjusted so that they fit; the text is not pushed on to the next page (issue 11 §3)."""
from __future__ import annotations

import datetime as dt
import io

import pdfplumber

from documents.render.adapter import body_blocks
from documents.render.model import RenderDoc, Seal
from documents.render.pdf import render_pdf

MM = 72 / 25.4
PITCH = 225 * MM / 22
# the demo's short 通知 (documents/management/commands/seed_documents.py)
BODY = [{"kind": "p", "text": "为切实做好今冬明春森林草原防灭火工作，现将有关事项通知如下："},
        {"kind": "h1", "text": "一、提高思想认识"}, {"kind": "p", "text": "各单位要把防灭火工作摆上重要位置。"},
        {"kind": "h1", "text": "二、压实工作责任"}, {"kind": "p", "text": "严格落实属地管理责任，确保不发生重大火情。"}]


def _short_notice() -> RenderDoc:
    return RenderDoc(doc_type="通知", organs=["咸阳市人民政府"], doc_number="咸政发〔2026〕1号", urgency="加急",
                     title="咸阳市人民政府关于做好冬季森林草原防灭火工作的通知", recipients=["秦都区人民政府"],
                     body=body_blocks(BODY), signatures=[Seal("咸阳市人民政府")], date=dt.date(2026, 3, 1),
                     note="联系人：王秘书，电话：029-33210000", cc=["咸阳市人民政府"],
                     printer="咸阳市人民政府办公室", print_date=dt.date(2026, 3, 2))


def test_it_tightens_the_lines_so_the_last_section_signature_and_date_stay_on_page_one():
    result = render_pdf(_short_notice())
    with pdfplumber.open(io.BytesIO(result.pdf)) as pdf:
        first = pdf.pages[0].extract_text().replace(" ", "")
        assert "二、压实工作责任" in first and "严格落实属地管理责任" in first
        assert "2026年3月1日" in first and "（联系人：王秘书" in first
        later = "".join(p.extract_text() for p in pdf.pages[1:])
        assert "严格落实" not in later and "2026年3月1日" not in later
        # the body lines below the 版头 are evenly tightened, never closer than 0.65 of the grid
        rows = sorted({round(pdf.pages[0].height - ch["matrix"][5], 1) for ch in pdf.pages[0].chars
                       if abs(ch["size"] - 16) < 0.1 and ch["top"] > 110 * MM})
        steps = [b - a for a, b in zip(rows, rows[1:])]
        assert min(steps) >= 0.65 * PITCH - 0.5
        assert min(steps) < PITCH - 1  # tightened
    assert result.seal_boxes[0].page == 0


def test_it_keeps_the_standard_grid_when_everything_fits():
    doc = _short_notice()
    doc.note = ""
    doc.body = doc.body[:1]
    with pdfplumber.open(io.BytesIO(render_pdf(doc).pdf)) as pdf:
        page = pdf.pages[0]
        rows = sorted({round(page.height - ch["matrix"][5], 1) for ch in page.chars
                       if abs(ch["size"] - 16) < 0.1 and ch["top"] > 110 * MM})
        steps = [b - a for a, b in zip(rows, rows[1:])]
        assert all(abs(s / PITCH - round(s / PITCH)) < 0.02 for s in steps)
