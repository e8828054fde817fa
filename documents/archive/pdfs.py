"""PDFs the archive makes: the 收文处理单 and 发文稿纸 pages, the archival rendition with the
归档章, watermarked copies for 借阅, the 归档文件目录 and 备考表, statistics and 四性 reports.

Every font is an embedded TrueType face (documents.render.fonts) and every generated file goes
through to_pdfa(), so what the archive makes passes its own 可用性 check.
"""
from __future__ import annotations

import io

import pikepdf
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from documents.render import fonts
from documents.render.pdfa import to_pdfa

RED = colors.Color(0.8, 0, 0)


def _font(role="songti"):
    return fonts.font_name(role)


def _styles():
    body = ParagraphStyle("b", fontName=_font(), fontSize=10.5, leading=15, wordWrap="CJK")
    small = ParagraphStyle("s", parent=body, fontSize=8.5, leading=11)
    title = ParagraphStyle("t", parent=body, fontName=_font("heiti"), fontSize=18, leading=26, alignment=1)
    sub = ParagraphStyle("h", parent=body, fontName=_font("heiti"), fontSize=12, leading=18)
    return body, small, title, sub


def _ts(cmds):
    """A TableStyle whose cells use an embedded face (Table sets a font even for Paragraph cells)."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), _font())] + list(cmds))


def _esc(text) -> str:
    return (str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\n", "<br/>"))


class _canvas(Canvas):
    """Starts in an embedded face: reportlab's default Helvetica is not embedded (PDF/A)."""

    def __init__(self, *args, **kwargs):
        kwargs["initialFontName"] = kwargs.get("initialFontName") or _font()
        super().__init__(*args, **kwargs)


class _LazyStory(list):
    """The story as reportlab's build() consumes it (len, [0], del [0], slice inserts…), drawn from a
    generator two flowables ahead (a heading keeps with what follows it): flowables are made as
    pages are laid out and dropped once drawn, so a catalogue of 10,000 件 does not hold 90,000
    paragraphs at once."""

    def __init__(self, flowables):
        super().__init__()
        self._source = iter(flowables)

    def _fill(self, ahead=2):
        while list.__len__(self) < ahead:
            f = next(self._source, None)
            if f is None:
                return
            list.append(self, f)

    def __len__(self):
        self._fill()
        return list.__len__(self)

    def __getitem__(self, i):
        self._fill()
        return list.__getitem__(self, i)

    def __delitem__(self, i):
        self._fill()
        list.__delitem__(self, i)


def _build(story, *, pagesize=A4, title="", author="", margins=18 * mm, created=None) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=pagesize, leftMargin=margins, rightMargin=margins, topMargin=margins,
                            bottomMargin=margins, title=title, author=author)
    doc.build(story, canvasmaker=_canvas)
    return to_pdfa(buf.getvalue(), title=title, author=author, created=created)


def form_pdf(heading: str, rows: list[tuple[str, str]], *, author: str = "", footer: str = "") -> bytes:
    """A one-table form (收文处理单, 发文稿纸): label | value rows, values may be long."""
    body, small, title, _sub = _styles()
    data = [[Paragraph(_esc(k), body), Paragraph(_esc(v), body)] for k, v in rows]
    table = Table(data, colWidths=[34 * mm, 140 * mm])
    table.setStyle(_ts([("GRID", (0, 0), (-1, -1), 0.6, RED), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("TEXTCOLOR", (0, 0), (0, -1), RED)]))
    story = [Paragraph(_esc(heading), title), Spacer(1, 6 * mm), table]
    if footer:
        story += [Spacer(1, 4 * mm), Paragraph(_esc(footer), small)]
    return _build(story, title=heading, author=author)


def page_count(data: bytes) -> int:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def merge(parts: list[bytes], *, title: str = "") -> bytes:
    """Concatenate PDFs (the 定稿 behind its 发文稿纸); the result is made PDF/A again."""
    out = pikepdf.new()
    opened = []
    for data in parts:
        src = pikepdf.open(io.BytesIO(data))
        opened.append(src)
        out.pages.extend(src.pages)
    buf = io.BytesIO()
    out.save(buf)
    for src in opened:
        src.close()
    return to_pdfa(buf.getvalue(), title=title)


# ------------------------------------------------------------------ 归档章

STAMP_W, STAMP_H = 45 * mm, 16 * mm  # DA/T 22-2015 6.2: 归档章, cells of 15 × 8 mm


def stamp_pdf(fields: dict, page_w: float, page_h: float) -> bytes:
    """One transparent page with the 归档章 at the top right: 全宗号 年度 件号 / 机构 保管期限 页数."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(page_w, page_h), initialFontName=_font())
    x0 = page_w - 12 * mm - STAMP_W
    y0 = page_h - 8 * mm - STAMP_H
    c.setStrokeColor(RED)
    c.setFillColor(RED)
    c.setLineWidth(0.8)
    cells = [[fields["fonds"], fields["year"], fields["seq"]],
             [fields.get("org", ""), fields["retention"], fields["pages"]]]
    cw, ch = STAMP_W / 3, STAMP_H / 2
    for r, row in enumerate(cells):
        for col, text in enumerate(row):
            x, y = x0 + col * cw, y0 + STAMP_H - (r + 1) * ch
            c.rect(x, y, cw, ch)
            size = 8.5
            text = str(text)
            while size > 4 and c.stringWidth(text, _font(), size) > cw - 2:
                size -= 0.5
            c.setFont(_font(), size)
            c.drawCentredString(x + cw / 2, y + ch / 2 - size / 3, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def archival_rendition(first_pdf: bytes, fields: dict, *, title: str = "") -> bytes:
    """The first page of the 件's first component, appearance flattened (the seal stays
    visible), with the 归档章 on it, as PDF/A-2b. The signed original is not touched."""
    src = pikepdf.open(io.BytesIO(first_pdf))
    out = pikepdf.new()
    out.pages.append(src.pages[0])
    if "/AcroForm" in src.Root:
        out.Root.AcroForm = out.copy_foreign(src.Root.AcroForm)
    out.flatten_annotations("all")
    if "/AcroForm" in out.Root:
        del out.Root["/AcroForm"]
    page = out.pages[0]
    if "/Annots" in page.obj:
        del page.obj["/Annots"]
    box = page.mediabox
    w, h = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    stamp = pikepdf.open(io.BytesIO(stamp_pdf(fields, w, h)))
    page.add_overlay(stamp.pages[0])
    buf = io.BytesIO()
    out.save(buf)
    src.close()
    return to_pdfa(buf.getvalue(), title=title)


# ------------------------------------------------------------------ watermark (借阅)

def watermark(data: bytes, text: str) -> bytes:
    """A copy with `text` (who, unit, when) across every page. Signatures of the copy break:
    it is a reading copy, the original stays in the archive."""
    src = pikepdf.open(io.BytesIO(data))
    marks = {}
    for page in src.pages:
        box = page.mediabox
        w, h = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
        key = (round(w), round(h))
        if key not in marks:
            buf = io.BytesIO()
            c = Canvas(buf, pagesize=(w, h), initialFontName=_font())
            c.setFillColor(colors.Color(0.6, 0.6, 0.6, alpha=0.35))
            c.setFont(_font(), 14)
            for gy in range(0, int(h) + 200, 150):
                c.saveState()
                c.translate(0, gy)
                c.rotate(30)
                c.drawString(20, 0, text)
                c.drawString(20 + c.stringWidth(text, _font(), 14) + 60, 0, text)
                c.restoreState()
            c.setFillColor(colors.Color(0.5, 0.5, 0.5))
            c.setFont(_font(), 7)
            c.drawString(10, 8, text)
            c.showPage()
            c.save()
            marks[key] = pikepdf.open(io.BytesIO(buf.getvalue()))
        page.add_overlay(marks[key].pages[0])
    # the seals' signature fields become plain page content (their pictures stay where they
    # were); the copy then holds no form whose signatures a reader would show as broken
    src.flatten_annotations(mode="all")
    if "/AcroForm" in src.Root:
        del src.Root["/AcroForm"]
    out = io.BytesIO()
    src.save(out)
    return out.getvalue()


# ------------------------------------------------------------------ catalogue, 备考表, statistics

CATALOGUE_COLS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
CATALOGUE_WIDTHS = (12, 52, 36, 36, 84, 20, 14, 11, 12)  # mm, 277 mm across A4 landscape


def catalogue_pdf(heading: str, rows, *, note: dict, author: str = "", created=None) -> bytes:
    """归档文件目录 (DA/T 22-2015 8.1, A4 landscape) followed by the 备考表. `rows` may be a
    generator: pages are laid out as they come."""
    body, small, title, sub = _styles()
    cell = ParagraphStyle("c", parent=small, fontSize=8, leading=10)
    head = [Paragraph(_esc(c), cell) for c in CATALOGUE_COLS]
    widths = [w * mm for w in CATALOGUE_WIDTHS]
    style = _ts([("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.93, 0.93))])

    def story():
        yield Paragraph(_esc(heading), title)
        yield Spacer(1, 3 * mm)
        chunk = [head]
        count = 0
        for row in rows:
            count += 1
            chunk.append([Paragraph(_esc(v), cell) for v in row])
            if len(chunk) > 200:
                yield Table(chunk, colWidths=widths, repeatRows=1, style=style)
                chunk = [head]
        if len(chunk) > 1 or count == 0:
            yield Table(chunk, colWidths=widths, repeatRows=1, style=style)
        yield PageBreak()
        yield Paragraph(_esc("备考表"), title)
        yield Spacer(1, 6 * mm)
        lines = [("本目录所列件数", str(note.get("items", count))), ("总页数", str(note.get("pages", ""))),
                 ("情况说明", note.get("remark", "")), ("立表人", note.get("by", "")),
                 ("检查人", note.get("checker", "")), ("立表时间", note.get("date", ""))]
        t = Table([[Paragraph(_esc(k), body), Paragraph(_esc(v), body)] for k, v in lines],
                  colWidths=[50 * mm, 180 * mm])
        t.setStyle(_ts([("GRID", (0, 0), (-1, -1), 0.6, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        yield t

    story = _LazyStory(story())
    return _build(story, pagesize=landscape(A4), title=heading, author=author, margins=10 * mm, created=created)


def _bar_chart(title: str, pairs: list[tuple[str, int]], width=170 * mm, height=60 * mm):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String

    d = Drawing(width, height + 14 * mm)
    d.add(String(0, height + 8 * mm, title, fontName=_font("heiti"), fontSize=11))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 12 * mm, 10 * mm, width - 16 * mm, height - 6 * mm
    chart.data = [[v for _k, v in pairs] or [0]]
    chart.categoryAxis.categoryNames = [k for k, _v in pairs] or ["-"]
    chart.categoryAxis.labels.fontName = _font()
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = _font()
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.Color(0.75, 0.1, 0.1)
    d.add(chart)
    return d


def statistics_pdf(heading: str, stats: dict, *, author: str = "") -> bytes:
    """年度统计: 件 by 保管期限, by 机构 and by month, each as a table and a bar chart."""
    body, small, title, sub = _styles()
    story = [Paragraph(_esc(heading), title), Spacer(1, 4 * mm),
             Paragraph(_esc(f"合计 {stats['total']} 件，{stats['pages']} 页"), body), Spacer(1, 3 * mm)]
    for key, label in (("by_retention", "按保管期限"), ("by_org", "按机构(问题)"), ("by_month", "按月份")):
        pairs = stats[key]
        story.append(_bar_chart(label, pairs))
        t = Table([[Paragraph(_esc(k), small), Paragraph(str(v), small)] for k, v in pairs] or [["-", "0"]],
                  colWidths=[60 * mm, 30 * mm])
        t.setStyle(_ts([("GRID", (0, 0), (-1, -1), 0.4, colors.black)]))
        story += [t, Spacer(1, 5 * mm)]
    return _build(story, title=heading, author=author)


def report_pdf(heading: str, items: list[dict], summary: str, *, author: str = "") -> bytes:
    """四性检测报告: one block per 件, each check with its result and reason."""
    body, small, title, sub = _styles()
    story = [Paragraph(_esc(heading), title), Spacer(1, 3 * mm), Paragraph(_esc(summary), body), Spacer(1, 3 * mm)]
    for it in items:
        label = " ".join(dict.fromkeys(x for x in (it.get("code"), it.get("title")) if x))
        story.append(Paragraph(_esc(f"{label}：{'通过' if it['ok'] else '未通过'}"), sub))
        data = [[Paragraph(_esc(h), small) for h in ("性质", "检测项", "结果", "说明")]]
        for r in it["results"]:
            data.append([Paragraph(_esc(r["property_label"]), small), Paragraph(_esc(r["check_label"]), small),
                         Paragraph("通过" if r["ok"] else "<font color='#c00000'>未通过</font>", small),
                         Paragraph(_esc("：".join(x for x in (r.get("component"), r.get("reason")) if x)), small)])
        t = Table(data, colWidths=[20 * mm, 45 * mm, 16 * mm, 93 * mm], repeatRows=1)
        t.setStyle(_ts([("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story += [t, Spacer(1, 4 * mm)]
    return _build(story, title=heading, author=author)
