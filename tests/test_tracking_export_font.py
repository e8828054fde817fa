"""The distribution-tracking PDF export carries its CJK font inside the file (issue 11 §3)."""
from __future__ import annotations

import datetime as dt
import io

import pdfplumber
import pikepdf

from documents import queries


def _data():
    when = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)
    rows = [{"unit": "人民路社区居民委员会", "role": "main", "state_label": "已签收", "signed_name": "褚书记",
             "signed_at": when, "registered_no": "收〔2026〕3号", "deadline": None, "done_at": None,
             "return_reason": "", "replies": 0}]
    return {"document": {"id": 1, "title": "关于做好冬季防火工作的通知", "number": "咸政发〔2026〕12号",
                         "unit": "咸阳市人民政府", "dispatched_at": when},
            "summary": {"signed": 1}, "labels": {"signed": "已签收"}, "rows": rows, "tree": []}


def test_it_embeds_the_cjk_font_of_the_tracking_export_and_keeps_its_text_extractable():
    data = queries.tracking_pdf(_data())
    pdf = pikepdf.open(io.BytesIO(data))
    fonts = 0
    for page in pdf.pages:
        for _name, font in page.Resources.Font.items():
            target = font["/DescendantFonts"][0] if "/DescendantFonts" in font else font
            desc = target.get("/FontDescriptor")
            assert desc is not None and "/FontFile2" in desc, f"font {font.get('/BaseFont')} is not embedded"
            fonts += 1
    assert fonts >= 1
    with pdfplumber.open(io.BytesIO(data)) as p:
        text = p.pages[0].extract_text()
    assert "人民路社区居民委员会" in text and "咸政发〔2026〕12号" in text
