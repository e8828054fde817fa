"""Word (.docx) export and import with python-docx.

Export writes the GB/T 9704 structure with the canonical Chinese font names
(仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312, 宋体) as w:eastAsia, with the
theme font attributes removed so that Word shows the named fonts.

Import reads a .docx draft into a RenderDoc: the header lines (发文机关标志,
字号) when present, the title, 主送, the body with heading levels recognised
(一、 （一） 1. （1） or Word heading styles), tables, images, footnotes, 附件说明,
署名, 成文日期, 附注, 抄送 and 印发; everything that cannot be kept is listed in
a plain report. Hostile files are refused before python-docx sees them
(check_docx): not a zip, zip bombs, oversize, macros, ActiveX, external
links, DTD/ENTITY tricks.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from .fonts import CANONICAL_NAMES
from .model import Heading, Image, Paragraph, RenderDoc, Seal, Table, cn_date

MAX_DOCX_BYTES = 20 * 1024 * 1024  # an upload larger than this is refused
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100
MAX_MEMBERS = 2000
LINE_PT = 225 / 22 * 72 / 25.4  # the grid pitch, ≈ 28.95 pt
RED = RGBColor(0xE6, 0x00, 0x12)


class DocxRefused(Exception):
    """The file is refused; str(exc) is the Chinese message for the user."""


# ------------------------------------------------------------------ export

def _set_fonts(rpr_owner, role: str, *, ascii_name: str | None = None) -> None:
    """Set w:rFonts with the canonical East Asian name; drop theme attributes."""
    rpr = rpr_owner.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    name = CANONICAL_NAMES[role]
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if rfonts.get(qn(attr)) is not None:
            del rfonts.attrib[qn(attr)]
    rfonts.set(qn("w:eastAsia"), name)
    rfonts.set(qn("w:ascii"), ascii_name or name)
    rfonts.set(qn("w:hAnsi"), ascii_name or name)
    rfonts.set(qn("w:cs"), ascii_name or name)


def _run(par, text: str, role: str = "fangsong", size: float = 16, *, color: RGBColor | None = None,
         bold: bool = False):
    run = par.add_run(text)
    run.font.size = Pt(size)
    run.font.name = CANONICAL_NAMES[role]
    _set_fonts(run._r, role)
    if color is not None:
        run.font.color.rgb = color
    if bold:
        run.font.bold = True
    return run


def _para(document, *, align=None, first_chars: int = 0, left_chars: int = 0, right_chars: int = 0,
          before_pt: float = 0, exact: float | None = LINE_PT):
    par = document.add_paragraph()
    fmt = par.paragraph_format
    if align is not None:
        par.alignment = align
    if exact:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(exact)
    fmt.space_before = Pt(before_pt)
    fmt.space_after = Pt(0)
    if first_chars or left_chars or right_chars:
        ind = OxmlElement("w:ind")
        if first_chars:
            ind.set(qn("w:firstLineChars"), str(first_chars * 100))
        if left_chars:
            ind.set(qn("w:leftChars"), str(left_chars * 100))
        if right_chars:
            ind.set(qn("w:rightChars"), str(right_chars * 100))
        par._p.get_or_add_pPr().append(ind)
    return par


def _border(par, side: str, *, sz_eighths: int, color: str = "000000") -> None:
    ppr = par._p.get_or_add_pPr()
    bdr = ppr.find(qn("w:pBdr"))
    if bdr is None:
        bdr = OxmlElement("w:pBdr")
        ppr.append(bdr)
    el = OxmlElement(f"w:{side}")
    el.set(qn("w:val"), "single")
    el.set(qn("w:sz"), str(sz_eighths))
    el.set(qn("w:space"), "1")
    el.set(qn("w:color"), color)
    bdr.append(el)


def _page_number_footer(footer, align) -> None:
    par = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
    par.alignment = align
    ind = OxmlElement("w:ind")
    ind.set(qn("w:leftChars" if align == WD_ALIGN_PARAGRAPH.LEFT else "w:rightChars"), "100")
    par._p.get_or_add_pPr().append(ind)
    _run(par, "— ", "songti", 14)
    run = _run(par, "", "songti", 14)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            fc = OxmlElement("w:fldChar")
            fc.set(qn("w:fldCharType"), kind)
            run._r.append(fc)
        elif text.strip() == "PAGE":
            it = OxmlElement("w:instrText")
            it.set(qn("xml:space"), "preserve")
            it.text = text
            run._r.append(it)
        else:
            t = OxmlElement("w:t")
            t.text = text
            run._r.append(t)
    _run(par, " —", "songti", 14)


def _clean_theme_fonts(document) -> None:
    """docDefaults and styles: canonical 仿宋 East Asian font, no theme fonts."""
    styles = document.styles.element
    for rfonts in styles.iter(qn("w:rFonts")):
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            if rfonts.get(qn(attr)) is not None:
                del rfonts.attrib[qn(attr)]
        rfonts.set(qn("w:eastAsia"), CANONICAL_NAMES["fangsong"])
        rfonts.set(qn("w:ascii"), CANONICAL_NAMES["fangsong"])
        rfonts.set(qn("w:hAnsi"), CANONICAL_NAMES["fangsong"])
    normal = document.styles["Normal"]
    normal.font.size = Pt(16)
    _set_fonts(normal.element, "fangsong")


def export_docx(doc: RenderDoc) -> bytes:
    from .layout import CHAR, _header_sizes  # the same 标志 size as the PDF

    document = Document()
    _clean_theme_fonts(document)
    sec = document.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
    sec.left_margin, sec.right_margin = Mm(28), Mm(26)
    sec.footer_distance = Mm(35 - 7 - 5)
    grid = sec._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sec._sectPr.append(grid)
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(round(LINE_PT * 20)))
    grid.set(qn("w:charSpace"), str(round((CHAR - 16) * 4096 / 1)))
    document.settings.odd_and_even_pages_header_footer = True
    _page_number_footer(sec.footer, WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number_footer(sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)
    if doc.variant == "letter":
        sec.different_first_page_header_footer = True

    cp = document.core_properties
    cp.title = doc.title
    cp.author = "、".join(doc.organs)
    cp.subject = doc.doc_number
    cp.category = doc.doc_type
    cp.comments = "Yiwangtong 一网通"

    # 版头
    if doc.urgency:
        _run(_para(document), doc.urgency, "heiti")
    organs = doc.organs or [""]
    if doc.variant == "order":
        names = [organs[0] + ("" if organs[0].endswith("令") else "令")]
    elif doc.variant == "minutes":
        names = [organs[0] if organs[0].endswith("纪要") else organs[0] + "纪要"]
    elif doc.variant == "letter":
        names = list(organs)
    else:
        names = [o + doc.header_suffix for o in organs] if len(organs) == 1 else list(organs)
    h, hs = _header_sizes(names, "", 22 * 72 / 25.4 * 1.0 if doc.variant != "letter" else 15 * 72 / 25.4)
    first_gap = {"order": 20, "letter": 0}.get(doc.variant, 35) * 72 / 25.4
    for n, name in enumerate(names):
        par = _para(document, align=WD_ALIGN_PARAGRAPH.CENTER, exact=h * 1.15, before_pt=first_gap if n == 0 else 0)
        run = _run(par, name, "xiaobiaosong", round(h * 2) / 2, color=RED)
        w = OxmlElement("w:w")  # horizontal scale, like the PDF
        w.set(qn("w:val"), str(int(hs)))
        run._r.get_or_add_rPr().append(w)
    if len(organs) > 1 and doc.header_suffix and doc.variant == "standard":
        par = _para(document, align=WD_ALIGN_PARAGRAPH.RIGHT, exact=h * 1.15)
        _run(par, doc.header_suffix, "xiaobiaosong", round(h * 2) / 2, color=RED)
    _para(document)
    _para(document)
    if doc.variant == "order":
        if doc.order_no:
            _run(_para(document, align=WD_ALIGN_PARAGRAPH.CENTER), doc.order_no)
        _para(document)
        _para(document)
    else:
        if doc.signers:
            for k, signer in enumerate(doc.signers):
                par = _para(document, left_chars=1, right_chars=1)
                tab_stops = par.paragraph_format.tab_stops
                tab_stops.add_tab_stop(Mm(156 - 5.6), alignment=2)  # right
                if k == len(doc.signers) - 1 and doc.doc_number:
                    _run(par, doc.doc_number)
                _run(par, "\t签发人：")
                _run(par, signer, "kaiti")
            last = par
        elif doc.variant == "letter":  # 字号 flush right; the title two blank lines below (§10.1)
            last = _para(document, align=WD_ALIGN_PARAGRAPH.RIGHT)
            _run(last, doc.doc_number)
            _para(document)
        else:
            last = _para(document, align=WD_ALIGN_PARAGRAPH.CENTER)
            _run(last, doc.doc_number)
        if doc.variant != "letter":
            _border(last, "bottom", sz_eighths=8, color="E60012")
        _para(document)
    # 标题
    if doc.title:
        from .layout import title_lines

        for line in title_lines(doc.title, doc.doc_type):
            _run(_para(document, align=WD_ALIGN_PARAGRAPH.CENTER), line, "xiaobiaosong", 22)
        _para(document)
    if doc.recipients:
        _run(_para(document), "、".join(doc.recipients).rstrip("：:") + "：")
    # 正文
    role_of = {1: "heiti", 2: "kaiti", 3: "fangsong", 4: "fangsong"}
    for block in doc.body:
        if isinstance(block, Heading):
            par = _para(document, first_chars=2)
            par.style = document.styles["Normal"]
            _run(par, block.text, role_of.get(block.level, "fangsong"))
            _outline(par, block.level)
        elif isinstance(block, Paragraph):
            par = _para(document, first_chars=2)
            if block.lead:
                _run(par, block.lead, role_of.get(block.lead_level, "fangsong"))
            _run(par, block.text)
        elif isinstance(block, Table):
            rows = [r for r in block.rows if r]
            if not rows:
                continue
            ncol = max(len(r) for r in rows)
            table = document.add_table(rows=len(rows), cols=ncol)
            table.style = document.styles["Table Grid"]
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            for i, row in enumerate(rows):
                for j in range(ncol):
                    cell = table.cell(i, j)
                    cell.paragraphs[0].text = ""
                    _run(cell.paragraphs[0], row[j] if j < len(row) else "",
                         "heiti" if i < block.header_rows else "fangsong", 14)
        elif isinstance(block, Image):
            par = _para(document, align=WD_ALIGN_PARAGRAPH.CENTER, exact=None)
            try:
                par.add_run().add_picture(io.BytesIO(block.data), width=Mm(min(block.width_mm, 156)))
            except Exception:
                _run(par, "［图片无法导出］")
    for k, note in enumerate(getattr(doc, "footnotes", []) or [], 1):
        _run(_para(document, first_chars=2), f"注{k}：{note}", "fangsong", 14)
    # 附件说明
    if doc.attachments:
        _para(document)
        for k, name in enumerate(doc.attachments, 1):
            par = _para(document, first_chars=2 if k == 1 else 0, left_chars=0 if k == 1 else 5)
            prefix = "附件：" if k == 1 else ""
            number = f"{k}. " if len(doc.attachments) > 1 else ""
            _run(par, prefix + number + name)
    # 署名, 成文日期
    if doc.variant != "minutes":
        _para(document)
        _para(document)
        if doc.variant == "order":
            _run(_para(document, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4),
                 f"{doc.signed_by_title}  {doc.signed_by_name}".strip())
        elif doc.signatures:
            for s in doc.signatures:
                _run(_para(document, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4 if doc.seal_layout else 2), s.organ)
        if doc.date:
            _run(_para(document, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4), cn_date(doc.date))
    if doc.note:
        note = doc.note if doc.note.startswith("（") else "（" + doc.note.strip("()（）") + "）"
        _run(_para(document, first_chars=2), note)
    if doc.variant == "minutes" and doc.attendees:
        _para(document)
        for label, names_ in doc.attendees:
            par = _para(document, first_chars=2)
            _run(par, label.rstrip("：:") + "：", "heiti")
            _run(par, names_)
    # 版记 (a letter's: 抄送 only, without rules and without the 印发 line, §10.1)
    if doc.variant == "letter":
        if doc.cc:
            _para(document)
            _run(_para(document, left_chars=1, right_chars=1), "抄送：" + "，".join(doc.cc).rstrip("。") + "。",
                 "fangsong", 14)
    elif doc.cc or doc.printer or doc.print_date:
        _para(document)
        first = True
        if doc.cc:
            par = _para(document, left_chars=1, right_chars=1)
            _border(par, "top", sz_eighths=8)
            _run(par, "抄送：" + "，".join(doc.cc).rstrip("。") + "。", "fangsong", 14)
            first = False
        par = _para(document, left_chars=1, right_chars=1)
        _border(par, "top", sz_eighths=8 if first else 6)
        _border(par, "bottom", sz_eighths=8)
        par.paragraph_format.tab_stops.add_tab_stop(Mm(156 - 10), alignment=2)
        _run(par, doc.printer, "fangsong", 14)
        if doc.print_date:
            _run(par, "\t" + cn_date(doc.print_date) + "印发", "fangsong", 14)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _outline(par, level: int) -> None:
    """Heading level as an outline level (navigation pane), without a heading style."""
    ppr = par._p.get_or_add_pPr()
    ol = OxmlElement("w:outlineLvl")
    ol.set(qn("w:val"), str(max(0, level - 1)))
    ppr.append(ol)


# ------------------------------------------------------------------ hostile files

_DANGEROUS_TYPES = ("macroEnabled", "vbaProject", "ms-office.activeX", "vbaData", "ms-word.document.macroEnabled")
_EXTERNAL_OK = ("/hyperlink",)


def check_upload_size(size: int) -> None:
    if size > MAX_DOCX_BYTES:
        raise DocxRefused(f"文件过大（{size / 1048576:.0f} MB），Word文档不得超过{MAX_DOCX_BYTES // 1048576} MB")


def check_docx(data: bytes) -> dict[str, bytes]:
    """Refuse hostile .docx files; return the (small) XML members read safely."""
    check_upload_size(len(data))
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise DocxRefused("这是旧版Word（.doc）或加密的文档，请另存为.docx后再上传")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DocxRefused("不是有效的Word文档（.docx）：文件不是ZIP格式")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DocxRefused("不是有效的Word文档（.docx）：ZIP结构损坏") from None
    if len(infos) > MAX_MEMBERS:
        raise DocxRefused("文档内部文件过多，疑似恶意文件，已拒绝")
    declared = sum(i.file_size for i in infos)
    if declared > MAX_UNCOMPRESSED:
        raise DocxRefused("文档解压后过大（疑似压缩炸弹），已拒绝")
    names = {i.filename for i in infos}
    for info in infos:
        low = info.filename.lower()
        if info.filename.startswith("/") or ".." in info.filename.split("/"):
            raise DocxRefused("文档内部路径异常，已拒绝")
        if info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO and info.file_size > 1 << 20:
            raise DocxRefused("文档压缩比异常（疑似压缩炸弹），已拒绝")
        if low.endswith("vbaproject.bin") or low.endswith("vbadata.xml") or "/activex/" in low:
            raise DocxRefused("文档含有宏或ActiveX控件，已拒绝；请另存为不含宏的.docx")
        if info.flag_bits & 0x1:
            raise DocxRefused("文档已加密，无法导入")
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise DocxRefused("不是有效的Word文档（.docx）：缺少正文部件")
    xml: dict[str, bytes] = {}
    total = 0
    for info in infos:
        low = info.filename.lower()
        if not (low.endswith(".xml") or low.endswith(".rels")):
            # binary parts (images): still bound the real decompressed size
            total += _bounded_size(zf, info, MAX_UNCOMPRESSED - total)
            continue
        content = _bounded_read(zf, info, MAX_UNCOMPRESSED - total)
        total += len(content)
        head = content[:4096].upper()
        if b"<!DOCTYPE" in head or b"<!ENTITY" in content.upper():
            raise DocxRefused("文档含有XML实体声明（DTD/ENTITY），疑似恶意文件，已拒绝")
        xml[info.filename] = content
    ctypes = xml.get("[Content_Types].xml", b"").decode("utf-8", "replace")
    if any(t in ctypes for t in _DANGEROUS_TYPES):
        raise DocxRefused("文档含有宏（启用宏的文档类型），已拒绝；请另存为不含宏的.docx")
    for name, content in xml.items():
        if not name.endswith(".rels"):
            continue
        for m in re.finditer(rb"<Relationship\b[^>]*>", content):
            rel = m.group(0)
            if b'TargetMode="External"' in rel or b"TargetMode='External'" in rel:
                rtype = re.search(rb'Type="([^"]*)"', rel)
                rtype = rtype.group(1).decode() if rtype else ""
                if not rtype.endswith(_EXTERNAL_OK):
                    kind = rtype.rsplit("/", 1)[-1] or "未知"
                    raise DocxRefused(f"文档含有外部链接（{kind}），打开时会访问外部地址，已拒绝")
    return xml


def _bounded_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    out = bytearray()
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(1 << 16)
                if not chunk:
                    break
                out += chunk
                if len(out) > limit or len(out) > info.file_size + 1024:
                    raise DocxRefused("文档解压后过大（疑似压缩炸弹），已拒绝")
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
        raise DocxRefused("不是有效的Word文档（.docx）：ZIP内容损坏") from None
    return bytes(out)


def _bounded_size(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> int:
    n = 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(1 << 16)
                if not chunk:
                    break
                n += len(chunk)
                if n > limit or n > info.file_size + 1024:
                    raise DocxRefused("文档解压后过大（疑似压缩炸弹），已拒绝")
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
        raise DocxRefused("不是有效的Word文档（.docx）：ZIP内容损坏") from None
    return n


# ------------------------------------------------------------------ import

RE_H1 = re.compile(r"^[一二三四五六七八九十百]+、")
RE_H2 = re.compile(r"^[（(][一二三四五六七八九十百]+[）)]")
RE_H3 = re.compile(r"^\d+[\.．](?!\d)")
RE_H4 = re.compile(r"^[（(]\d+[）)]")
RE_NUMBER = re.compile(r"^\S{1,12}〔\d{4}〕\d+号$")
RE_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
RE_PRINT = re.compile(r"^(.*?)\s*(\d{4})年(\d{1,2})月(\d{1,2})日印发$")
RE_ATTACH = re.compile(r"^附件[：:]\s*(.*)$")
RE_ITEM = re.compile(r"^\s*(\d+)[\.．、]\s*(.+)$")
RE_SIGNER = re.compile(r"签发人[：:]\s*(\S+)")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
R_EMBED = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"


@dataclass
class ImportResult:
    doc: RenderDoc
    report: list[str] = field(default_factory=list)  # what could not be kept (Chinese)
    images: int = 0
    tables: int = 0
    footnotes: list[str] = field(default_factory=list)


def _heading_level(text: str, style_name: str) -> int:
    m = re.search(r"(?:heading|标题)\s*(\d)", style_name, re.I)
    if m and 1 <= int(m.group(1)) <= 4:
        return int(m.group(1))
    for level, rx in ((2, RE_H2), (4, RE_H4), (1, RE_H1), (3, RE_H3)):
        if rx.match(text):
            return level
    return 0


def _split_units(text: str) -> list[str]:
    """Split a 主送/抄送 list on 、，, but not inside brackets."""
    out, cur, depth = [], "", 0
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        if ch in "、，," and depth == 0:
            if cur.strip():
                out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _footnotes(xml: dict[str, bytes]) -> dict[str, str]:
    from lxml import etree

    data = xml.get("word/footnotes.xml")
    if not data:
        return {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    notes = {}
    for fn in root.iter(W + "footnote"):
        if fn.get(W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        text = "".join(t.text or "" for t in fn.iter(W + "t")).strip()
        notes[fn.get(W + "id")] = text
    return notes


MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
CN_DIGITS = "〇一二三四五六七八九"


def _cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (Word's chineseCounting)."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    return str(n)


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "ideographTraditional",
               "taiwaneseCounting", "taiwaneseCountingThousand"):
        return _cn_number(n)
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return "".join(chr(ord(c) + 0xFEE0) for c in str(n))
    if fmt == "decimalEnclosedParen":
        return f"（{n}）"
    return str(n)


class _Numbering:
    """Word's automatic numbering (numbering.xml): the label Word shows before a paragraph with
    w:numPr, e.g. "一、" for lvlText "%1、" in chineseCounting — drafts whose headings are numbered
    only by Word carry no number in their text."""

    def __init__(self, xml: dict[str, bytes]):
        from lxml import etree

        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}  # (numId, ilvl) → (fmt, lvlText, start)
        self.counters: dict[str, dict[int, int]] = {}
        self.abstract_of: dict[str, str] = {}
        data = xml.get("word/numbering.xml")
        if not data:
            return
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        root = etree.fromstring(data, parser)
        abstract = {}
        for an in root.iter(W + "abstractNum"):
            lv = {}
            for lvl in an.iter(W + "lvl"):
                fmt = lvl.find(W + "numFmt")
                text = lvl.find(W + "lvlText")
                start = lvl.find(W + "start")
                lv[int(lvl.get(W + "ilvl", "0"))] = (
                    fmt.get(W + "val") if fmt is not None else "decimal",
                    text.get(W + "val") if text is not None else "",
                    int(start.get(W + "val")) if start is not None else 1)
            abstract[an.get(W + "abstractNumId")] = lv
        for num in root.iter(W + "num"):
            ref = num.find(W + "abstractNumId")
            if ref is None or ref.get(W + "val") not in abstract:
                continue
            aid = ref.get(W + "val")
            self.abstract_of[num.get(W + "numId")] = aid
            for ilvl, spec in abstract[aid].items():
                self.levels[(num.get(W + "numId"), ilvl)] = spec

    def label(self, p_el) -> str:
        num_pr = p_el.find(f"{W}pPr/{W}numPr")
        if num_pr is None:
            return ""
        num_id_el, ilvl_el = num_pr.find(W + "numId"), num_pr.find(W + "ilvl")
        num_id = num_id_el.get(W + "val") if num_id_el is not None else None
        ilvl = int(ilvl_el.get(W + "val")) if ilvl_el is not None else 0
        spec = self.levels.get((num_id, ilvl))
        if spec is None or spec[0] in ("bullet", "none"):
            return ""
        counters = self.counters.setdefault(self.abstract_of.get(num_id, num_id), {})
        counters[ilvl] = counters.get(ilvl, spec[2] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]  # a new higher-level item restarts the levels below it

        def value(m):
            lv = int(m.group(1)) - 1
            fmt, _text, start = self.levels.get((num_id, lv), ("decimal", "", 1))
            return _format_number(counters.get(lv, start), fmt)

        return re.sub(r"%(\d)", value, spec[1])


def _walk(el):
    """Document order, skipping mc:Fallback: WPS and Word store a text box twice (mc:Choice and
    the VML fallback), so its text is read once."""
    yield el
    for child in el:
        if child.tag != MC_FALLBACK:
            yield from _walk(child)


def _paragraph_text(p_el, footnotes: dict[str, str], used: list[str]) -> str:
    parts = []
    for el in _walk(p_el):
        if el.tag == W + "t":
            parts.append(el.text or "")
        elif el.tag == W + "tab":
            parts.append(" ")
        elif el.tag == W + "footnoteReference":
            fid = el.get(W + "id")
            if fid in footnotes:
                used.append(footnotes[fid])
                parts.append(f"［注{len(used)}］")
        elif el.tag == W + "delText":
            continue
    return "".join(parts)


def import_docx(data: bytes) -> ImportResult:
    """Read a .docx draft into a RenderDoc. Raises DocxRefused for hostile files."""
    xml = check_docx(data)
    try:
        document = Document(io.BytesIO(data))
    except Exception:
        raise DocxRefused("Word文档无法解析，请用Word另存为.docx后重试") from None
    report: set[str] = set()
    notes_by_id = _footnotes(xml)
    used_notes: list[str] = []
    doc = RenderDoc(organs=[], signatures=[])
    result = ImportResult(doc)
    body_el = document.element.body
    # the parts python-docx does not give us
    doc_xml = xml.get("word/document.xml", b"")
    if b"txbxContent" in doc_xml:
        report.add("文本框中的文字已按正文顺序读入，文本框的位置未保留")
    if b"<w:ins " in doc_xml or b"<w:del " in doc_xml:
        report.add("修订痕迹未保留：已按接受全部插入、忽略删除处理")
    if b"<c:chart" in doc_xml or b"drawingml/2006/chart" in doc_xml:
        report.add("图表未保留（可改为表格或图片）")
    if b"<w:object" in doc_xml or b"oleObject" in doc_xml:
        report.add("嵌入对象（OLE）未保留")
    if b"wp:anchor" in doc_xml:
        report.add("浮动图片的位置未保留，已按顺序放入正文")
    if any(n.startswith("word/comments") for n in xml):
        report.add("批注未保留")
    if any(n.startswith("word/header") or n.startswith("word/footer") for n in xml) and any(
            re.search(rb"<w:t[ >][^<]*[^\s<]", v) for n, v in xml.items() if n.startswith("word/header")):
        report.add("页眉内容未保留（页码按公文格式重新生成）")
    if b"w:hyperlink" in doc_xml:
        report.add("超链接的网址未保留，只保留了文字")
    if b"<w:gridSpan" in doc_xml or b"<w:vMerge" in doc_xml:
        report.add("表格中的合并单元格已拆分为普通单元格")
    report.add("原文的字体、字号、行距等格式未保留，已按GB/T 9704重新排版")

    numbering = _Numbering(xml)
    items = []  # (kind, payload, meta)
    # python-docx resolves Paragraph.style by scanning all styles each time: map ids once
    style_names = {}
    for st in document.styles.element.iterchildren(W + "style"):
        name_el = st.find(W + "name")
        style_names[st.get(W + "styleId")] = name_el.get(W + "val") if name_el is not None else ""
    for child in body_el.iterchildren():
        if child.tag == W + "p":
            from docx.text.paragraph import Paragraph as DocxParagraph

            par = DocxParagraph(child, document)
            blips = [b.get(R_EMBED) for b in child.iter(A_BLIP)]
            for rid in blips:
                try:
                    part = document.part.related_parts[rid]
                    items.append(("image", part.blob, None))
                    result.images += 1
                except KeyError:
                    report.add("有图片链接到外部文件，未保留")
            text = _paragraph_text(child, notes_by_id, used_notes).strip()
            if not text:
                continue
            label = numbering.label(child)
            if label and not _heading_level(text, ""):
                text = label.strip() + text
            pstyle = child.find(f"{W}pPr/{W}pStyle")
            style = style_names.get(pstyle.get(W + "val"), "") if pstyle is not None else ""
            align = par.alignment
            size = None
            for run in par.runs:
                if run.font.size:
                    size = max(size or 0, run.font.size.pt)
            color = None
            for run in par.runs:
                if run.font.color is not None and run.font.color.type is not None and run.font.color.rgb:
                    color = str(run.font.color.rgb)
            items.append(("p", text, {"style": style, "align": align, "size": size, "color": color}))
        elif child.tag == W + "tbl":
            from docx.table import Table as DocxTable

            tbl = DocxTable(child, document)
            rows, header_rows = _table_rows(tbl)
            items.append(("table", rows, {"header_rows": header_rows}))
            result.tables += 1
        elif child.tag == W + "sdt":
            report.add("内容控件未保留")

    # -- header: 标志 (red or "…文件"), 字号, 签发人
    i = 0
    while i < len(items) and i < 8:
        kind, text, meta = items[i]
        if kind != "p":
            break
        if meta["color"] and meta["color"].upper().startswith(("E6", "FF", "C0", "D0")) or (
                text.endswith("文件") and len(text) <= 30 and meta["align"] == WD_ALIGN_PARAGRAPH.CENTER):
            name = text[:-2] if text.endswith("文件") else text
            doc.organs.append(name)
            i += 1
            continue
        if text in ("特急", "加急"):
            doc.urgency = text
            i += 1
            continue
        signer = RE_SIGNER.search(text)
        head = RE_SIGNER.sub("", text).strip()
        if signer:
            doc.signers.append(signer.group(1))
        if RE_NUMBER.match(head):
            doc.doc_number = head
            i += 1
            continue
        if signer:
            i += 1
            continue
        break
    minutes = bool(doc.organs) and doc.organs[0].endswith("纪要")
    if minutes:
        # 纪要: the 标志 is "…纪要"; the lines under it (期号, date) are kept as such
        doc.doc_type, doc.variant = "纪要", "minutes"
        while i < len(items) and items[i][0] == "p":
            text = items[i][1].replace(" ", "").strip("（）()")
            m = RE_DATE.search(text)
            if m and len(text) <= 40:
                doc.date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                head = text[:m.start()].strip()
                if head:
                    doc.order_no = head  # e.g. 第3期 or the issuing office
                i += 1
                continue
            if re.fullmatch(r"第[\d一二三四五六七八九十百]+[期次号]", text):
                doc.order_no = text
                i += 1
                continue
            break
    # -- title: the first centred or large paragraph, possibly on several lines
    title_parts = []
    while i < len(items):
        kind, text, meta = items[i]
        if kind != "p":
            break
        centred = meta["align"] == WD_ALIGN_PARAGRAPH.CENTER
        big = (meta["size"] or 0) >= 18
        titled = "title" in meta["style"].lower() or meta["style"] in ("标题",)
        if (centred or big or titled) and not text.endswith(("：", ":")) and not _heading_level(text, meta["style"]):
            title_parts.append(text)
            i += 1
            continue
        break
    if not title_parts and i < len(items) and items[i][0] == "p" and "关于" in items[i][1] and len(items[i][1]) < 80:
        title_parts.append(items[i][1])
        i += 1
    doc.title = "".join(title_parts)
    if not doc.title and minutes:
        doc.title = doc.organs[0]
    if not doc.title:
        report.add("未识别出标题，请补填")
    for t in DOC_TYPES_SORTED:
        if doc.title.endswith(t) and not minutes:
            doc.doc_type = t
            break
    # -- 主送
    if i < len(items) and items[i][0] == "p":
        text = items[i][1]
        if text.endswith(("：", ":")) and len(text) < 200 and not _heading_level(text, items[i][2]["style"]):
            doc.recipients = _split_units(text.rstrip("：:"))
            i += 1
    # -- the tail: 版记, 附注, 成文日期, 署名 (read from the end)
    tail = items[i:]
    end = len(tail)

    def last_p(idx):
        return idx >= 0 and tail[idx][0] == "p"

    k = end - 1
    while last_p(k):
        text = tail[k][1]
        m = RE_PRINT.match(text)
        if m:
            doc.printer = m.group(1).strip()
            doc.print_date = dt.date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
            k -= 1
            continue
        if text.startswith(("抄送：", "抄送:")):
            doc.cc = [u.rstrip("。") for u in _split_units(text[3:])]
            k -= 1
            continue
        break
    if last_p(k) and re.match(r"^[（(].*[）)]$", tail[k][1]) and len(tail[k][1]) < 100:
        doc.note = tail[k][1].strip("()（）")
        k -= 1
    if last_p(k) and RE_DATE.match(tail[k][1].replace(" ", "")):
        m = RE_DATE.match(tail[k][1].replace(" ", ""))
        doc.date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        k -= 1
        while last_p(k) and len(tail[k][1]) <= 30 and tail[k][2]["align"] in (WD_ALIGN_PARAGRAPH.RIGHT,
                                                                                WD_ALIGN_PARAGRAPH.CENTER) \
                and not tail[k][1].endswith(("。", "；")):
            for organ in re.split(r"\s{2,}", tail[k][1].strip()):
                doc.signatures.insert(0, Seal(organ))
            k -= 1
    body_items = tail[:k + 1]
    # -- 附件说明 (after the body)
    attach_at = None
    for j, (kind, text, _meta) in enumerate(body_items):
        if kind == "p" and RE_ATTACH.match(text):
            attach_at = j
    if attach_at is not None:
        rest = body_items[attach_at:]
        first = RE_ATTACH.match(rest[0][1]).group(1)
        names = []
        m = RE_ITEM.match(first)
        names.append(m.group(2) if m else first)
        consumed = 1
        for kind, text, _meta in rest[1:]:
            m = RE_ITEM.match(text) if kind == "p" else None
            if not m:
                break
            names.append(m.group(2))
            consumed += 1
        if attach_at + consumed == len(body_items):
            doc.attachments = [n.strip() for n in names if n.strip()]
            body_items = body_items[:attach_at]
    # -- body
    for kind, payload, meta in body_items:
        if kind == "table":
            doc.body.append(Table(payload, header_rows=(meta or {}).get("header_rows", 1)))
        elif kind == "image":
            doc.body.append(Image(payload))
        else:
            text = payload
            level = _heading_level(text, meta["style"])
            if level and len(text) <= 40 and text.count("。") <= 1 and (text.endswith("。") or "。" not in text):
                doc.body.append(Heading(level, text))
            elif level:
                cut = text.find("。") + 1
                doc.body.append(Paragraph(text[cut:], lead=text[:cut], lead_level=level))
            else:
                doc.body.append(Paragraph(text))
    doc.footnotes = used_notes
    result.footnotes = used_notes
    if used_notes:
        report.add(f"脚注{len(used_notes)}条已转为正文末尾的注释（正文中以［注1］等标出），请核对")
    if not doc.organs:
        report.add("未识别出发文机关标志，请在办理单中选择发文机关")
    result.report = sorted(report)
    return result


from .model import DOC_TYPES  # noqa: E402

DOC_TYPES_SORTED = sorted(DOC_TYPES, key=len, reverse=True)


def _table_rows(tbl) -> tuple[list[list[str]], int]:
    """Rows of a Word table on its column grid: a horizontally merged cell keeps its text in its
    first column (the spanned columns empty); a vertically merged cell is read once, in its first
    row. The header is the first row plus the rows its vertical merges reach into."""
    rows: list[list[str]] = []
    header_rows = 1
    for r, tr in enumerate(tbl._tbl.tr_lst):
        cells: list[str] = []
        continues = False
        for tc in tr.tc_lst:
            span = tc.grid_span if hasattr(tc, "grid_span") else 1
            v_merge = tc.vMerge if hasattr(tc, "vMerge") else None
            if v_merge == "continue":
                text = ""
                continues = True
            else:
                text = "\n".join("".join(t.text or "" for t in p.iter(W + "t")) for p in tc.iter(W + "p")).strip()
            cells.append(text)
            cells.extend([""] * (max(1, span) - 1))
        if continues and r == header_rows:
            header_rows += 1
        rows.append(cells)
    return rows, header_rows
