"""Word import of drafts as offices write them (issue 11 §3): headings numbered only by Word's
numbering, a WPS text-box title, a 纪要 with its date line, merged header cells, footnotes."""
from __future__ import annotations

import io
import zipfile

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from documents.render.docx import import_docx
from documents.render.model import Heading, Table

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _save(d) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _replace(data: bytes, name: str, content: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in src.infolist():
            zf.writestr(item.filename, content if item.filename == name else src.read(item.filename))
    return out.getvalue()


def _title(d, text):
    p = d.add_paragraph()
    p.alignment = 1
    p.add_run(text).font.size = Pt(22)


NUMBERING = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:numbering xmlns:w="{W_NS}">'
    '<w:abstractNum w:abstractNumId="7"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/>'
    '<w:lvlText w:val="%1、"/></w:lvl><w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/>'
    '<w:lvlText w:val="（%2）"/></w:lvl></w:abstractNum><w:num w:numId="3"><w:abstractNumId w:val="7"/></w:num>'
    '</w:numbering>').encode()


def _numbered(p, ilvl):
    num_pr = p._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = ilvl
    num_pr.get_or_add_numId().val = 3


def test_it_recognises_headings_numbered_only_by_words_numbering():
    d = Document()
    _title(d, "咸阳市教育局关于开展校园安全检查的通知")
    d.add_paragraph("各县（市、区）教育局：")
    for text, lvl in (("检查范围", 0), ("中小学校", 1), ("幼儿园", 1), ("工作要求", 0)):
        _numbered(d.add_paragraph(text), lvl)
        d.add_paragraph("请认真组织实施。")
    doc = import_docx(_replace(_save(d), "word/numbering.xml", NUMBERING)).doc
    headings = [b for b in doc.body if isinstance(b, Heading)]
    assert headings == [Heading(1, "一、检查范围"), Heading(2, "（一）中小学校"), Heading(2, "（二）幼儿园"),
                        Heading(1, "二、工作要求")]


def test_it_reads_a_wps_text_box_title_once():
    d = Document()
    p = d.add_paragraph()
    p.alignment = 1
    p.add_run("")
    box = ('<w:p><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:rPr><w:sz w:val="44"/></w:rPr><w:t>'
           '咸阳市教育局关于开展校园安全检查的通知</w:t></w:r></w:p>')
    d.add_paragraph("各县（市、区）教育局：")
    d.add_paragraph("全市中小学校和幼儿园。")
    data = _save(d)
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    alt = ('<w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
           '<mc:Choice Requires="wps"><w:drawing><wps:txbx xmlns:wps="http://schemas.microsoft.com/office/word/2010/'
           f'wordprocessingShape"><w:txbxContent>{box}</w:txbxContent></wps:txbx></w:drawing></mc:Choice>'
           '<mc:Fallback><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox><w:txbxContent>'
           f'{box}</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>')
    xml = xml.replace("<w:r><w:t/></w:r>", alt, 1) if "<w:r><w:t/></w:r>" in xml else \
        xml.replace('<w:jc w:val="center"/></w:pPr>', '<w:jc w:val="center"/></w:pPr>' + alt, 1)
    result = import_docx(_replace(data, "word/document.xml", xml.encode()))
    assert result.doc.title == "咸阳市教育局关于开展校园安全检查的通知"
    assert result.doc.recipients == ["各县（市、区）教育局"]


def test_it_types_minutes_as_minutes_and_keeps_their_date_line():
    d = Document()
    head = d.add_paragraph()
    head.alignment = 1
    r = head.add_run("咸阳市人民政府常务会议纪要")
    r.font.size = Pt(36)
    from docx.shared import RGBColor

    r.font.color.rgb = RGBColor(0xE6, 0x00, 0x12)
    date = d.add_paragraph("2026年3月5日")
    date.alignment = 1
    d.add_paragraph("3月5日，市长主持召开市政府第12次常务会议，研究了以下事项。")
    d.add_paragraph("一、关于冬季防火工作")
    d.add_paragraph("会议同意市应急局的安排。")
    doc = import_docx(_save(d)).doc
    assert doc.doc_type == "纪要"
    assert str(doc.date) == "2026-03-05"
    assert doc.title != "2026年3月5日"
    texts = [getattr(b, "text", "") for b in doc.body]
    assert "2026年3月5日" not in texts and texts[0].startswith("3月5日，市长主持")


def test_it_keeps_merged_header_cells_in_one_row_on_the_column_grid():
    d = Document()
    _title(d, "咸阳市教育局关于报送检查情况的通知")
    d.add_paragraph("各县（市、区）教育局：")
    tbl = d.add_table(rows=3, cols=3)
    a = tbl.cell(0, 0).merge(tbl.cell(1, 0))
    a.text = "序号"
    b = tbl.cell(0, 1).merge(tbl.cell(0, 2))
    b.text = "检查情况"
    tbl.cell(1, 1).text = "学校数"
    tbl.cell(1, 2).text = "问题数"
    for j, v in enumerate(("1", "12", "3")):
        tbl.cell(2, j).text = v
    d.add_paragraph("请于3月底前报送。")
    doc = import_docx(_save(d)).doc
    table = next(b for b in doc.body if isinstance(b, Table))
    assert table.rows[0] == ["序号", "检查情况", ""]
    assert table.rows[1] == ["", "学校数", "问题数"]
    assert table.rows[2] == ["1", "12", "3"]
    assert table.header_rows == 2
    assert sum(row.count("序号") for row in table.rows) == 1


def test_it_reports_footnotes():
    from tests.test_render_docx import _draft_with_footnote_and_leftovers

    result = import_docx(_draft_with_footnote_and_leftovers())
    assert any("脚注1条" in line for line in result.report)
