"""Word export (canonical Chinese font names) and import (structure kept, hostile files refused)."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from docx import Document
from docx.shared import Pt

from documents.render.docx import DocxRefused, check_upload_size, export_docx, import_docx
from documents.render.model import Heading, Image, Paragraph, Table
from documents.render.samples import sample_doc
from documents.signing.ca import seal_picture

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rezip(data: bytes, *, replace: dict | None = None, add: dict | None = None) -> bytes:
    members = _members(data)
    members.update(replace or {})
    members.update(add or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


@pytest.fixture(scope="module")
def exported():
    doc = sample_doc(3)
    doc.body.insert(2, Image(seal_picture("咸阳市人民政府", px=200), width_mm=40))
    return doc, export_docx(doc)


def test_it_writes_canonical_east_asian_font_names_without_theme_fonts(exported):
    _doc, data = exported
    m = _members(data)
    document_xml = m["word/document.xml"].decode()
    styles_xml = m["word/styles.xml"].decode()
    for name in ("仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体"):
        assert f'w:eastAsia="{name}"' in document_xml + m.get("word/footer1.xml", b"").decode() + \
            m.get("word/footer2.xml", b"").decode(), name
    for xml in (document_xml, styles_xml):
        assert "eastAsiaTheme" not in xml and "asciiTheme" not in xml and "hAnsiTheme" not in xml
    assert 'w:eastAsia="仿宋_GB2312"' in styles_xml


def test_it_exports_the_same_structure_and_page_setup(exported):
    doc, data = exported
    d = Document(io.BytesIO(data))
    sec = d.sections[0]
    assert round(sec.top_margin.mm) == 37 and round(sec.bottom_margin.mm) == 35
    assert round(sec.left_margin.mm) == 28 and round(sec.right_margin.mm) == 26
    texts = [p.text for p in d.paragraphs]
    assert "咸阳市人民政府文件" in texts
    assert "咸政发〔2026〕12号" in texts
    assert "".join(t for t in texts if t.startswith("咸阳市人民政府关于") or t.startswith("无纸化")) == doc.title
    red = [r for p in d.paragraphs for r in p.runs if r.text == "咸阳市人民政府文件"][0]
    assert str(red.font.color.rgb) == "E60012"
    h1 = [p for p in d.paragraphs if p.text == "一、总体要求"][0]
    h2 = [p for p in d.paragraphs if p.text == "（一）明确目标。"][0]
    ea = "{%s}eastAsia" % W_NS
    assert h1.runs[0]._r.rPr.rFonts.get(ea) == "黑体"
    assert h2.runs[0]._r.rPr.rFonts.get(ea) == "楷体_GB2312"
    assert len(d.tables) == 1 and d.tables[0].cell(1, 2).text == "市大数据局"
    assert d.settings.odd_and_even_pages_header_footer
    assert "PAGE" in sec.footer._element.xml and "PAGE" in sec.even_page_footer._element.xml
    assert d.core_properties.title == doc.title
    assert any("印发" in t for t in texts) and any(t.startswith("抄送：") for t in texts)


def test_it_imports_its_own_export_back_with_structure(exported):
    doc, data = exported
    result = import_docx(data)
    back = result.doc
    assert back.title == doc.title
    assert back.organs == ["咸阳市人民政府"]
    assert back.doc_number == doc.doc_number and back.urgency == "特急" and back.doc_type == "通知"
    assert back.recipients == doc.recipients
    assert back.attachments == doc.attachments
    assert [s.organ for s in back.signatures] == ["咸阳市人民政府"]
    assert back.date == doc.date and back.note == doc.note
    assert back.cc == doc.cc and back.printer == doc.printer and back.print_date == doc.print_date
    kinds = [(type(b).__name__, getattr(b, "level", None)) for b in back.body]
    assert kinds == [(type(b).__name__, getattr(b, "level", None)) for b in doc.body]
    table = [b for b in back.body if isinstance(b, Table)][0]
    assert table.rows[2] == ["2", "公文全流程电子化", "市政府办公室", "2026年9月"]
    image = [b for b in back.body if isinstance(b, Image)][0]
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.images == 1 and result.tables == 1


def _draft_with_footnote_and_leftovers() -> bytes:
    d = Document()
    t = d.add_paragraph()
    t.alignment = 1
    r = t.add_run("咸阳市教育局关于开展校园安全检查的通知")
    r.font.size = Pt(22)
    d.add_paragraph("各县（市、区）教育局：")
    d.add_paragraph("一、检查范围")
    d.add_paragraph("全市中小学校和幼儿园。")
    d.add_paragraph("（一）消防安全。重点检查消防通道和灭火器材。")
    tbl = d.add_table(rows=2, cols=3)
    tbl.cell(0, 0).merge(tbl.cell(0, 1))
    tbl.cell(0, 0).text = "项目"
    tbl.cell(1, 0).text = "消防"
    d.add_paragraph("2026年4月1日").alignment = 2
    buf = io.BytesIO()
    d.save(buf)
    data = buf.getvalue()
    # add a real footnote part and a reference in the paragraph "全市中小学校和幼儿园。"
    m = _members(data)
    footnotes = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{W_NS}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        '<w:footnote w:id="1"><w:p><w:r><w:t>含民办学校。</w:t></w:r></w:p></w:footnote></w:footnotes>'
    ).encode()
    doc_xml = m["word/document.xml"].decode().replace(
        "<w:t>全市中小学校和幼儿园。</w:t></w:r>",
        '<w:t>全市中小学校和幼儿园。</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r>'
        '<w:r><w:drawing><wp:anchor xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/'
        'wordprocessingDrawing"/></w:drawing></w:r>')
    rels = m["word/_rels/document.xml.rels"].decode().replace(
        "</Relationships>",
        '<Relationship Id="rIdFn" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'footnotes" Target="footnotes.xml"/></Relationships>')
    ctypes = m["[Content_Types].xml"].decode().replace(
        "</Types>",
        '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'wordprocessingml.footnotes+xml"/></Types>')
    return _rezip(data, replace={"word/document.xml": doc_xml.encode(), "word/_rels/document.xml.rels": rels.encode(),
                                 "[Content_Types].xml": ctypes.encode()},
                  add={"word/footnotes.xml": footnotes})


def test_it_imports_a_foreign_draft_with_headings_footnotes_and_a_report():
    result = import_docx(_draft_with_footnote_and_leftovers())
    doc = result.doc
    assert doc.title == "咸阳市教育局关于开展校园安全检查的通知"
    assert doc.doc_type == "通知"
    assert doc.recipients == ["各县（市、区）教育局"]
    assert doc.body[0] == Heading(1, "一、检查范围")
    assert isinstance(doc.body[1], Paragraph) and doc.body[1].text == "全市中小学校和幼儿园。［注1］"
    lead = doc.body[2]
    assert lead.lead == "（一）消防安全。" and lead.lead_level == 2 and lead.text == "重点检查消防通道和灭火器材。"
    assert isinstance(doc.body[3], Table) and doc.body[3].rows[0][0] == "项目"
    assert result.footnotes == ["含民办学校。"] and doc.footnotes == ["含民办学校。"]
    assert str(doc.date) == "2026-04-01"
    joined = "；".join(result.report)
    assert "合并单元格" in joined
    assert "浮动图片" in joined
    assert "发文机关" in joined  # no 标志 in the draft: the report says so


def test_it_refuses_a_file_that_is_not_a_zip():
    with pytest.raises(DocxRefused, match="不是ZIP"):
        import_docx("这是一个改了扩展名的文本文件".encode() * 100)
    with pytest.raises(DocxRefused, match="旧版Word"):
        import_docx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))


def test_it_refuses_zip_bombs(exported):
    _doc, data = exported
    ratio_bomb = _rezip(data, add={"word/media/huge.png": bytes(8 * 1024 * 1024)})
    assert len(ratio_bomb) < 200_000
    with pytest.raises(DocxRefused, match="压缩"):
        import_docx(ratio_bomb)
    # a member whose header lies about its size is caught while decompressing
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in _members(data).items():
            zf.writestr(name, content)
        zf.writestr("word/media/liar.bin", bytes(3 * 1024 * 1024))
    raw = bytearray(buf.getvalue())
    # patch the central directory's uncompressed size of liar.bin down to 10 bytes
    cd = raw.rfind(b"word/media/liar.bin")
    header = raw.rfind(b"PK\x01\x02", 0, cd)
    raw[header + 24:header + 28] = (10).to_bytes(4, "little")
    with pytest.raises(DocxRefused):
        import_docx(bytes(raw))


def test_it_refuses_an_oversized_file_before_reading_it():
    with pytest.raises(DocxRefused, match="文件过大"):
        check_upload_size(200 * 1024 * 1024)
    with pytest.raises(DocxRefused, match="文件过大"):
        import_docx(b"PK\x03\x04" + bytes(21 * 1024 * 1024))


def test_it_refuses_macros(exported):
    _doc, data = exported
    with pytest.raises(DocxRefused, match="宏"):
        import_docx(_rezip(data, add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(512)}))
    ctypes = _members(data)["[Content_Types].xml"].decode()
    docm = re.sub(r"application/vnd\.openxmlformats-officedocument\.wordprocessingml\.document\.main\+xml",
                  "application/vnd.ms-word.document.macroEnabled.main+xml", ctypes)
    assert docm != ctypes
    with pytest.raises(DocxRefused, match="宏"):
        import_docx(_rezip(data, replace={"[Content_Types].xml": docm.encode()}))


def test_it_refuses_external_links_but_keeps_plain_hyperlinks(exported):
    _doc, data = exported
    rels = _members(data)["word/_rels/document.xml.rels"].decode()
    template = rels.replace("</Relationships>", (
        '<Relationship Id="rIdT" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'attachedTemplate" Target="http://203.0.113.9/t.dotm" TargetMode="External"/></Relationships>'))
    with pytest.raises(DocxRefused, match="外部链接"):
        import_docx(_rezip(data, replace={"word/_rels/document.xml.rels": template.encode()}))
    image = rels.replace("</Relationships>", (
        '<Relationship Id="rIdI" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'image" Target="http://203.0.113.9/pixel.png" TargetMode="External"/></Relationships>'))
    with pytest.raises(DocxRefused, match="外部链接"):
        import_docx(_rezip(data, replace={"word/_rels/document.xml.rels": image.encode()}))
    link = rels.replace("</Relationships>", (
        '<Relationship Id="rIdH" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'hyperlink" Target="https://www.gov.cn/" TargetMode="External"/></Relationships>'))
    assert import_docx(_rezip(data, replace={"word/_rels/document.xml.rels": link.encode()})).doc.title


def test_it_refuses_xml_entity_tricks(exported):
    _doc, data = exported
    doc_xml = _members(data)["word/document.xml"].decode()
    laughs = ('<!DOCTYPE w:document [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>')
    evil = doc_xml.replace("?>", "?>" + laughs, 1)
    with pytest.raises(DocxRefused, match="实体"):
        import_docx(_rezip(data, replace={"word/document.xml": evil.encode()}))
    xxe = doc_xml.replace("?>", '?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1)
    with pytest.raises(DocxRefused, match="实体"):
        import_docx(_rezip(data, replace={"word/document.xml": xxe.encode()}))
