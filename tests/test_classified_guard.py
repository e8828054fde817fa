"""The 密级 guard on real files: PDF, .docx and plain text; no false alarms on body text."""
from __future__ import annotations

import io

import pikepdf
import pytest
from docx import Document
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from documents.classified import ClassifiedRefused, check_not_classified, find_marking
from documents.render import fonts
from documents.render.docx import export_docx
from documents.render.model import Paragraph
from documents.render.pdf import render_pdf
from documents.render.samples import sample_doc
from office.errors import ActionError


def _pdf(lines_top_left: list[str], body: list[str], *, info: dict | None = None) -> bytes:
    """A real PDF laid out like a 公文: marks top-left of the 版心, then header and body."""
    name = fonts.font_name("fangsong")
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    y = A4[1] - 37 * mm - 16
    for text in lines_top_left:
        c.setFont(fonts.font_name("heiti"), 16)
        c.drawString(28 * mm, y, text)
        y -= 29
    c.setFont(fonts.font_name("xiaobiaosong"), 40)
    c.setFillColorRGB(0.9, 0, 0.07)
    c.drawCentredString(A4[0] / 2, A4[1] - 90 * mm, "咸阳市人民政府文件")
    c.setFillColorRGB(0, 0, 0)
    c.setFont(name, 16)
    y = A4[1] - 140 * mm
    for text in body:
        c.drawString(28 * mm, y, text)
        y -= 29
    if info:
        for k, v in info.items():
            getattr(c, f"set{k}")(v)
    c.save()
    return buf.getvalue()


def _docx(paragraphs: list[str], *, header: str = "", keywords: str = "", custom: tuple | None = None) -> bytes:
    d = Document()
    for text in paragraphs:
        d.add_paragraph(text)
    if header:
        d.sections[0].header.paragraphs[0].text = header
    if keywords:
        d.core_properties.keywords = keywords
    buf = io.BytesIO()
    d.save(buf)
    data = buf.getvalue()
    if custom:
        import zipfile

        name, value = custom
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for info in src.infolist():
                content = src.read(info)
                if info.filename == "[Content_Types].xml":
                    content = content.replace(b"</Types>", (
                        b'<Override PartName="/docProps/custom.xml" ContentType="application/'
                        b'vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>'))
                if info.filename == "_rels/.rels":
                    content = content.replace(b"</Relationships>", (
                        b'<Relationship Id="rIdC" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                        b'relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>'))
                zf.writestr(info.filename, content)
            zf.writestr("docProps/custom.xml", (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
                'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
                f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" name="{name}">'
                f'<vt:lpwstr>{value}</vt:lpwstr></property></Properties>').encode())
        data = out.getvalue()
    return data


BODY = ["各县区人民政府：", "为做好保密工作，保守国家秘密，防止商业秘密泄露，", "现将秘密投票办法通知如下。"]


@pytest.mark.parametrize("marks,expected", [
    (["000012", "机密★1年", "特急"], "机密"),
    (["秘密★6个月"], "秘密"),
    (["绝密★启用前"], "绝密"),
    (["000012  机密★10年"], "机密"),
    (["密级：秘密"], "秘密"),
])
def test_it_refuses_a_pdf_marked_in_the_classification_place(marks, expected):
    data = _pdf(marks, BODY)
    with pytest.raises(ClassifiedRefused) as caught:
        check_not_classified(data, "来文.pdf")
    assert caught.value.mark == expected
    assert "机要" in caught.value.message and caught.value.status == 400
    assert isinstance(caught.value, ActionError)


def test_it_refuses_a_pdf_whose_properties_carry_the_marking():
    data = _pdf([], BODY)
    pdf = pikepdf.open(io.BytesIO(data))
    pdf.docinfo["/Classification"] = "机密"
    out = io.BytesIO()
    pdf.save(out)
    assert find_marking(out.getvalue(), "x.pdf") == "机密"
    assert find_marking(_pdf([], BODY, info={"Keywords": "绝密★启用前"}), "x.pdf") == "绝密"


def test_it_accepts_a_normal_pdf_talking_about_secrecy_in_its_body():
    assert find_marking(_pdf(["特急"], BODY), "x.pdf") is None
    doc = sample_doc(1)
    doc.title = "咸阳市人民政府关于加强保密工作的通知"
    doc.body.insert(0, Paragraph("秘密载体管理要严格，机密文件一律通过机要渠道传递。"))
    assert find_marking(render_pdf(doc).pdf, "x.pdf") is None


def test_it_refuses_a_docx_marked_in_its_first_lines_header_or_properties():
    cases = [
        (_docx(["秘密★1年", "咸阳市人民政府关于某事项的通知"] + BODY), "秘密"),
        (_docx(["咸阳市人民政府关于某事项的通知"] + BODY, header="绝密★启用前"), "绝密"),
        (_docx(["咸阳市人民政府关于某事项的通知"] + BODY, keywords="机密"), "机密"),
        (_docx(["咸阳市人民政府关于某事项的通知"] + BODY, custom=("密级", "机密")), "机密"),
    ]
    for data, mark in cases:
        with pytest.raises(ClassifiedRefused) as caught:
            check_not_classified(data, "draft.docx")
        assert caught.value.mark == mark


def test_it_accepts_docx_drafts_about_secrecy_and_declared_non_secret():
    assert find_marking(_docx(["咸阳市人民政府关于加强保密工作的通知"] + BODY), "a.docx") is None
    assert find_marking(_docx(["关于某事项的通知"] + BODY, custom=("密级", "非密")), "a.docx") is None
    assert find_marking(export_docx(sample_doc(1)), "a.docx") is None


def test_it_refuses_plain_text_marked_and_accepts_plain_text_that_is_not():
    marked = "机密★1年\n咸阳市人民政府关于某事项的通知\n各县区：\n".encode()
    with pytest.raises(ClassifiedRefused):
        check_not_classified(marked, "note.txt")
    gbk = "密级：绝密\n关于某事项的请示\n".encode("gb18030")
    with pytest.raises(ClassifiedRefused):
        check_not_classified(gbk, "note.txt")
    # a word standing alone far down in the body is not in the 密级 place
    check_not_classified("\n".join(["关于会议的通知"] + BODY * 3 + ["机密"]).encode(), "ok.txt")
    assert find_marking("\n".join(BODY).encode(), "ok.txt") is None
