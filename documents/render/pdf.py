"""The PDF writer: draws the boxes of layout.py with reportlab (GB/T 9704-2012 layout).

Fonts are embedded as TrueType subsets (fonts.py); the layout engine is shared with ofd.py.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from . import fonts
from .layout import (BODY, NO_END, NO_START, PictureBox, RectBox, RuleBox, SealBox, TextBox,  # noqa: F401
                     char_width, layout, title_lines)
from .model import RenderDoc

# Streams are Flate-compressed binary; reportlab's default ASCII85 layer on top only
# adds 25 % to the size and costs time.
rl_config.useA85 = 0


@dataclass
class RenderResult:
    pdf: bytes
    pages: int
    seal_boxes: list[SealBox] = field(default_factory=list)
    numbered_pages: list[int] = field(default_factory=list)  # 1-based page numbers printed


def draw_text(c: Canvas, box: TextBox) -> None:
    """One TextBox: the pen moves by box.advances; Tc carries what the font's own advance lacks."""
    gs = box.glyphs
    if not gs:
        return
    hs = box.hscale
    scaled = hs != 100.0
    if scaled:
        c.saveState()  # Tz and Tc are graphics state: keep them out of later lines
    t = c.beginText(box.x, box.y)
    t.setFillColor(box.color)
    if scaled:
        t.setHorizScale(hs)
    run: list[str] = []
    cur_key = None
    cur_space = None

    def flush():
        if run:
            t.textOut("".join(run))
            run.clear()

    for g, adv in zip(gs, box.advances):
        natural = g.natural or char_width(g.ch, g.role, g.size)
        space = adv * 100.0 / hs - natural
        key = (g.role, g.size)
        if key != cur_key:
            flush()
            t.setFont(fonts.font_name(g.role), g.size)
            cur_key = key
        if cur_space is None or abs(space - cur_space) > 1e-6:
            flush()
            t.setCharSpace(space)
            cur_space = space
        run.append(g.ch)
    flush()
    c.drawText(t)
    if scaled:
        c.restoreState()


def draw_box(c: Canvas, box) -> None:
    if isinstance(box, TextBox):
        draw_text(c, box)
    elif isinstance(box, RuleBox):
        c.saveState()
        c.setStrokeColor(box.color)
        c.setLineWidth(box.width)
        c.line(box.x0, box.y, box.x1, box.y)
        c.restoreState()
    elif isinstance(box, RectBox):
        c.saveState()
        c.setLineWidth(box.width)
        c.rect(box.x, box.y, box.w, box.h)
        c.restoreState()
    elif isinstance(box, PictureBox):
        c.drawImage(ImageReader(io.BytesIO(box.data)), box.x, box.y, box.w, box.h, mask="auto")


def render_pdf(doc: RenderDoc) -> RenderResult:
    L = layout(doc)
    buf = io.BytesIO()
    # the initial font is an embedded one (reportlab's default Helvetica is not, and PDF/A wants all embedded)
    c = Canvas(buf, pagesize=A4, pageCompression=1, initialFontName=fonts.font_name("fangsong"),
               initialFontSize=BODY)
    c.setTitle(doc.title or doc.doc_type)
    c.setAuthor("、".join(doc.organs))
    c.setSubject(doc.doc_number)
    c.setCreator("Yiwangtong 一网通")
    c.setProducer("Yiwangtong 一网通 (reportlab)")
    for boxes in L.pages:
        for box in boxes:
            draw_box(c, box)
        c.showPage()
    c.save()
    return RenderResult(buf.getvalue(), len(L.pages), L.seal_boxes, L.numbered)
