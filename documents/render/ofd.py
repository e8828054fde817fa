"""The OFD writer (GB/T 33190-2016): draws the boxes of layout.py as an OFD package.

The same layout as the PDF (one engine, two writers): every TextBox becomes TextObjects with
explicit glyph positions (TextCode X/Y/DeltaX), rules and table cells PathObjects, pictures
ImageObjects. Units are millimetres from the page's top-left corner. Fonts are embedded as
TrueType subsets (subset.py), so text is extractable and looks the same in every reader.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from .layout import ASC, PAGE_H, PAGE_W, PictureBox, RectBox, RuleBox, SealBox, TextBox, layout
from .model import RenderDoc
from .subset import family_name, subset_font

NS = "http://www.ofdspec.org/2016"
MM = 25.4 / 72  # millimetres per point
DOC = "Doc_0"


@dataclass
class OfdResult:
    ofd: bytes
    pages: int
    seal_boxes: list[SealBox] = field(default_factory=list)  # PDF points, as the PDF's
    numbered_pages: list[int] = field(default_factory=list)


def mm(v: float) -> str:
    """A length in millimetres, compact (3 decimals, no trailing zeros)."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def pt_to_mm_box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """A PDF-point box (origin bottom-left) as OFD (x, y, w, h) in mm (origin top-left)."""
    return x0 * MM, (PAGE_H - y1) * MM, (x1 - x0) * MM, (y1 - y0) * MM


def _color(c) -> str:
    return f"{round(c.red * 255)} {round(c.green * 255)} {round(c.blue * 255)}"


def _is_black(c) -> bool:
    return c.red == 0 and c.green == 0 and c.blue == 0


def _deltas(values: list[float]) -> str:
    """DeltaX with the repeat form "g N v" for runs of equal advances."""
    out: list[str] = []
    k = 0
    while k < len(values):
        v = mm(values[k])
        n = 1
        while k + n < len(values) and mm(values[k + n]) == v:
            n += 1
        out.append(f"g {n} {v}" if n > 2 else " ".join([v] * n))
        k += n
    return " ".join(out)


class _Ids:
    def __init__(self):
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def _text_objects(box: TextBox, font_ids: dict[str, int], ids: _Ids) -> list[str]:
    """One TextObject per run of glyphs in one font and size."""
    out = []
    hs = box.hscale / 100.0
    x = box.x
    k = 0
    gs = box.glyphs
    while k < len(gs):
        role, size = gs[k].role, gs[k].size
        j = k
        while j < len(gs) and gs[j].role == role and gs[j].size == size:
            j += 1
        run, adv = gs[k:j], box.advances[k:j]
        text = "".join(g.ch for g in run)
        width = sum(adv)
        if text.strip():
            size_mm = size * MM
            left = x * MM
            top = (PAGE_H - box.y) * MM - ASC * size_mm
            bw = max(width * MM, size_mm)
            attrs = (f'ID="{ids()}" Boundary="{mm(left)} {mm(top)} {mm(bw + 0.5)} {mm(size_mm * 1.05)}" '
                     f'Font="{font_ids[role]}" Size="{mm(size_mm)}"')
            if hs != 1.0:
                attrs += f' CTM="{hs:.4f} 0 0 1 0 0"'
            fill = "" if _is_black(box.color) else f'<ofd:FillColor Value="{_color(box.color)}"/>'
            deltas = [a * MM / hs for a in adv[:-1]]
            delta = f' DeltaX="{_deltas(deltas)}"' if deltas else ""
            out.append(f'<ofd:TextObject {attrs}>{fill}<ofd:TextCode X="0" Y="{mm(ASC * size_mm)}"{delta}>'
                       f'{escape(text)}</ofd:TextCode></ofd:TextObject>')
        x += width
        k = j
    return out


def _page_xml(boxes, font_ids: dict[str, int], images: dict[int, int], ids: _Ids) -> str:
    objs: list[str] = []
    for box in boxes:
        if isinstance(box, TextBox):
            objs += _text_objects(box, font_ids, ids)
        elif isinstance(box, RuleBox):
            w = box.width * MM
            x, y = box.x0 * MM, (PAGE_H - box.y) * MM - w / 2
            length = (box.x1 - box.x0) * MM
            stroke = "" if _is_black(box.color) else f'<ofd:StrokeColor Value="{_color(box.color)}"/>'
            objs.append(f'<ofd:PathObject ID="{ids()}" Boundary="{mm(x)} {mm(y)} {mm(length)} {mm(w)}" '
                        f'LineWidth="{mm(w)}">{stroke}<ofd:AbbreviatedData>M 0 {mm(w / 2)} L {mm(length)} {mm(w / 2)}'
                        f'</ofd:AbbreviatedData></ofd:PathObject>')
        elif isinstance(box, RectBox):
            x, y, w, h = pt_to_mm_box(box.x, box.y, box.x + box.w, box.y + box.h)
            lw = box.width * MM
            objs.append(f'<ofd:PathObject ID="{ids()}" Boundary="{mm(x - lw)} {mm(y - lw)} {mm(w + 2 * lw)} '
                        f'{mm(h + 2 * lw)}" LineWidth="{mm(lw)}"><ofd:AbbreviatedData>M {mm(lw)} {mm(lw)} '
                        f'L {mm(w + lw)} {mm(lw)} L {mm(w + lw)} {mm(h + lw)} L {mm(lw)} {mm(h + lw)} C'
                        f'</ofd:AbbreviatedData></ofd:PathObject>')
        elif isinstance(box, PictureBox):
            x, y, w, h = pt_to_mm_box(box.x, box.y, box.x + box.w, box.y + box.h)
            objs.append(f'<ofd:ImageObject ID="{ids()}" ResourceID="{images[id(box)]}" '
                        f'Boundary="{mm(x)} {mm(y)} {mm(w)} {mm(h)}" CTM="{mm(w)} 0 0 {mm(h)} 0 0"/>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{NS}"><ofd:Area><ofd:PhysicalBox>'
            f'0 0 {mm(PAGE_W * MM)} {mm(PAGE_H * MM)}</ofd:PhysicalBox></ofd:Area><ofd:Content>'
            f'<ofd:Layer ID="{ids()}" Type="Body">{"".join(objs)}</ofd:Layer></ofd:Content></ofd:Page>')


def _doc_id(doc: RenderDoc) -> str:
    key = "|".join([doc.doc_number, doc.title, "、".join(doc.organs), str(doc.date)])
    return hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()


def render_ofd(doc: RenderDoc) -> OfdResult:
    L = layout(doc)
    ids = _Ids()
    # fonts: one subset per role used
    chars: dict[str, set[str]] = {}
    pictures: list[PictureBox] = []
    for boxes in L.pages:
        for box in boxes:
            if isinstance(box, TextBox):
                for g in box.glyphs:
                    chars.setdefault(g.role, set()).add(g.ch)
            elif isinstance(box, PictureBox):
                pictures.append(box)
    font_ids = {role: ids() for role in sorted(chars)}
    images = {id(p): ids() for p in pictures}
    files: dict[str, bytes] = {}
    font_xml = []
    for role, fid in font_ids.items():
        name = f"font_{fid}.ttf"
        files[f"{DOC}/Res/{name}"] = subset_font(role, chars[role])
        family = family_name(role)
        font_xml.append(f'<ofd:Font ID="{fid}" FontName={quoteattr(family)} FamilyName={quoteattr(family)}>'
                        f'<ofd:FontFile>{name}</ofd:FontFile></ofd:Font>')
    media_xml = []
    for p in pictures:
        mid = images[id(p)]
        fmt = "PNG" if p.data[:8] == b"\x89PNG\r\n\x1a\n" else "JPEG"
        name = f"image_{mid}.{fmt.lower()}"
        files[f"{DOC}/Res/{name}"] = p.data
        media_xml.append(f'<ofd:MultiMedia ID="{mid}" Type="Image" Format="{fmt}"><ofd:MediaFile>{name}'
                         f'</ofd:MediaFile></ofd:MultiMedia>')
    page_ids = []
    for n, boxes in enumerate(L.pages):
        page_ids.append(ids())
        files[f"{DOC}/Pages/Page_{n}/Content.xml"] = _page_xml(boxes, font_ids, images, ids).encode("utf-8")
    files[f"{DOC}/PublicRes.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:Fonts>'
        f'{"".join(font_xml)}</ofd:Fonts></ofd:Res>').encode("utf-8")
    files[f"{DOC}/DocumentRes.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{NS}" BaseLoc="Res">'
        + (f'<ofd:MultiMedias>{"".join(media_xml)}</ofd:MultiMedias>' if media_xml else "")
        + '</ofd:Res>').encode("utf-8")
    pages_xml = "".join(f'<ofd:Page ID="{pid}" BaseLoc="Pages/Page_{n}/Content.xml"/>'
                        for n, pid in enumerate(page_ids))
    files[f"{DOC}/Document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{NS}"><ofd:CommonData>'
        f'<ofd:MaxUnitID>{ids.n}</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 {mm(PAGE_W * MM)} '
        f'{mm(PAGE_H * MM)}</ofd:PhysicalBox></ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes>'
        f'<ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData><ofd:Pages>{pages_xml}'
        f'</ofd:Pages></ofd:Document>').encode("utf-8")
    created = (doc.date or dt.date.today()).isoformat()
    info = (f"<ofd:DocID>{_doc_id(doc)}</ofd:DocID><ofd:Title>{escape(doc.title or doc.doc_type)}</ofd:Title>"
            f"<ofd:Author>{escape('、'.join(doc.organs))}</ofd:Author>"
            f"<ofd:Subject>{escape(doc.doc_number)}</ofd:Subject><ofd:CreationDate>{created}</ofd:CreationDate>"
            "<ofd:Creator>Yiwangtong 一网通</ofd:Creator>")
    entry = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{NS}" Version="1.0" DocType="OFD">'
             f'<ofd:DocBody><ofd:DocInfo>{info}</ofd:DocInfo><ofd:DocRoot>{DOC}/Document.xml</ofd:DocRoot>'
             f'</ofd:DocBody></ofd:OFD>').encode("utf-8")
    return OfdResult(pack({"OFD.xml": entry, **files}), len(L.pages), L.seal_boxes, L.numbered)


def pack(files: dict[str, bytes]) -> bytes:
    """The OFD package: a ZIP with OFD.xml first; fixed timestamps so that equal input gives equal bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            # fonts and pictures: fast deflate (they are most of the bytes); the XML: the default
            zf.writestr(info, data, compresslevel=1 if name.endswith((".ttf", ".png", ".jpeg")) else 6)
    return buf.getvalue()
