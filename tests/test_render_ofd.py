"""OFD (GB/T 33190) from the same layout as the PDF, read back independently.

The package is parsed twice: with the standard library (zip + XML, the GB/T 33190 structure)
and with easyofd (an independent reader, tests only). Text and glyph positions are compared
with the PDF's (pdfplumber); page pictures of both agree within a tolerance.
"""
from __future__ import annotations

import io
import logging
import re
import subprocess
import zipfile
import xml.etree.ElementTree as ET

import pdfplumber
import pytest
from fontTools.ttLib import TTFont

from documents.render.model import Seal
from documents.render.ofd import render_ofd
from documents.render.pdf import render_pdf
from documents.render.samples import sample_doc

NS = {"ofd": "http://www.ofdspec.org/2016"}
PT = 25.4 / 72  # mm per point
LINE_MM = 225 / 22


@pytest.fixture(scope="module")
def rendered():
    doc = sample_doc(3, seals=[Seal("咸阳市人民政府", picture=None)])
    return render_pdf(doc), render_ofd(doc)


def _package(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _expand(delta: str) -> list[float]:
    out: list[float] = []
    parts = delta.split()
    k = 0
    while k < len(parts):
        if parts[k] == "g":
            out += [float(parts[k + 2])] * int(parts[k + 1])
            k += 3
        else:
            out.append(float(parts[k]))
            k += 1
    return out


def _glyphs(files: dict[str, bytes], page: int) -> list[dict]:
    """Every glyph of a page: text, x (mm), baseline (mm), size (mm), colour, font id."""
    root = ET.fromstring(files[f"Doc_0/Pages/Page_{page}/Content.xml"])
    out = []
    for obj in root.iter("{%s}TextObject" % NS["ofd"]):
        bx, by, _bw, _bh = (float(v) for v in obj.get("Boundary").split())
        ctm = [float(v) for v in (obj.get("CTM") or "1 0 0 1 0 0").split()]
        fill = obj.find("ofd:FillColor", NS)
        color = fill.get("Value") if fill is not None else "0 0 0"
        for code in obj.findall("ofd:TextCode", NS):
            x = float(code.get("X"))
            deltas = _expand(code.get("DeltaX", ""))
            for k, ch in enumerate(code.text or ""):
                out.append({"ch": ch, "x": bx + ctm[0] * x, "y": by + float(code.get("Y")), "size": float(obj.get("Size")),
                            "color": color, "font": obj.get("Font")})
                if k < len(deltas):
                    x += deltas[k]
    return out


def _lines(glyphs: list[dict]) -> dict[float, str]:
    rows: dict[float, list] = {}
    for g in glyphs:
        rows.setdefault(round(g["y"], 1), []).append(g)
    return {y: "".join(g["ch"] for g in sorted(rows[y], key=lambda g: g["x"])) for y in sorted(rows)}


def test_it_writes_a_gbt33190_package_with_a4_pages(rendered):
    pdf, ofd = rendered
    files = _package(ofd.ofd)
    assert next(iter(files)) == "OFD.xml"
    entry = ET.fromstring(files["OFD.xml"])
    assert entry.find("ofd:DocBody/ofd:DocRoot", NS).text == "Doc_0/Document.xml"
    assert entry.find("ofd:DocBody/ofd:DocInfo/ofd:Title", NS).text.startswith("咸阳市人民政府关于")
    document = ET.fromstring(files["Doc_0/Document.xml"])
    assert document.find("ofd:CommonData/ofd:PageArea/ofd:PhysicalBox", NS).text == "0 0 210 297"
    pages = document.findall("ofd:Pages/ofd:Page", NS)
    assert len(pages) == ofd.pages == pdf.pages
    ids = [int(e.get("ID")) for n, data in files.items() if n.endswith(".xml")
           for e in ET.fromstring(data).iter() if e.get("ID") and e.tag.endswith(("Object", "Layer", "Font", "Page",
                                                                                  "MultiMedia"))]
    max_id = int(document.find("ofd:CommonData/ofd:MaxUnitID", NS).text)
    assert max(ids) <= max_id and len(ids) == len(set(ids))  # unique object IDs within MaxUnitID


def test_it_embeds_every_font_as_a_truetype_subset_mapping_the_text(rendered):
    _pdf, ofd = rendered
    files = _package(ofd.ofd)
    res = ET.fromstring(files["Doc_0/PublicRes.xml"])
    used: dict[str, set[str]] = {}
    for n in range(ofd.pages):
        for g in _glyphs(files, n):
            used.setdefault(g["font"], set()).add(g["ch"])
    fonts = res.findall("ofd:Fonts/ofd:Font", NS)
    assert len(fonts) >= 4
    for font in fonts:
        data = files[f"Doc_0/Res/{font.find('ofd:FontFile', NS).text}"]
        face = TTFont(io.BytesIO(data))
        assert "glyf" in face  # TrueType outlines
        cmap = face.getBestCmap()
        chars = used[font.get("ID")]
        assert {ord(c) for c in chars if c != " "} <= set(cmap)
        assert len(cmap) <= len(chars) + 2  # a subset: only what the document uses
        some = next(c for c in sorted(chars, reverse=True) if c.strip())
        assert face["glyf"][cmap[ord(some)]].numberOfContours != 0  # the outline is there


def _pdf_glyphs(pdf: bytes) -> list[list[dict]]:
    """Glyph origins of every page of a PDF as pdfium (Chromium's PDF engine) reads them, in mm
    from the top-left (pdfminer misplaces glyphs after a font-subset switch)."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pages = []
    doc = pdfium.PdfDocument(pdf)
    try:
        for page in doc:
            height = page.get_height()
            text = page.get_textpage()
            out = []
            for i in range(text.count_chars()):
                x, y = ctypes.c_double(), ctypes.c_double()
                raw.FPDFText_GetCharOrigin(text.raw, i, x, y)
                ch = chr(raw.FPDFText_GetUnicode(text.raw, i))
                if ch.strip():
                    out.append({"ch": ch, "x": x.value * PT, "y": (height - y.value) * PT})
            text.close()
            page.close()
            pages.append(out)
    finally:
        doc.close()
    return pages


def test_it_puts_the_same_text_at_the_same_places_as_the_pdf(rendered):
    pdf, ofd = rendered
    files = _package(ofd.ofd)
    worst = 0.0
    for n, theirs in enumerate(_pdf_glyphs(pdf.pdf)):
        mine = [g for g in _glyphs(files, n) if g["ch"].strip()]
        assert "".join(sorted(g["ch"] for g in mine)) == "".join(sorted(c["ch"] for c in theirs))
        by_char: dict[str, list] = {}
        for c in theirs:
            by_char.setdefault(c["ch"], []).append(c)
        for g in mine:
            best = min(by_char[g["ch"]], key=lambda c: abs(c["x"] - g["x"]) + abs(c["y"] - g["y"]))
            worst = max(worst, abs(best["x"] - g["x"]), abs(best["y"] - g["y"]))
    assert worst < 0.05, worst  # mm


def test_it_keeps_the_gbt9704_layout_numbers(rendered):
    _pdf, ofd = rendered
    files = _package(ofd.ofd)
    first = _glyphs(files, 0)
    red = [g for g in first if g["color"] == "230 0 18"]
    assert "".join(g["ch"] for g in red) == "咸阳市人民政府文件"
    top = min(g["y"] - 0.88 * g["size"] for g in red)
    assert top == pytest.approx(37 + 35, abs=0.5)  # the 标志 35 mm below the 版心 top
    rules = ET.fromstring(files["Doc_0/Pages/Page_0/Content.xml"]).iter("{%s}PathObject" % NS["ofd"])
    red_rules = [r for r in rules if r.find("ofd:StrokeColor", NS) is not None
                 and r.find("ofd:StrokeColor", NS).get("Value") == "230 0 18"]
    assert len(red_rules) == 1 and float(red_rules[0].get("Boundary").split()[2]) == pytest.approx(156, abs=0.1)
    title = [g for g in first if abs(g["size"] - 22 * PT) < 0.01]
    assert title and all(28 <= g["x"] <= 184 for g in title)
    for n in range(ofd.pages):
        for g in _glyphs(files, n):
            if g["y"] > 262 + 1:
                assert abs(g["size"] - 14 * PT) < 0.01  # only the 4号 page number below the 版心
                continue
            assert 28 - 0.2 <= g["x"] and g["x"] + g["size"] <= 184 + 0.6, g
            assert 37 - 0.2 <= g["y"] - 0.88 * g["size"] and g["y"] <= 262 + 0.2, g
    # a full page: 22 lines on the grid, a full line holds 28 characters
    every = _lines([g for g in _glyphs(files, 1) if g["y"] < 262])
    assert {int((y - 37) // LINE_MM) for y in every} == set(range(22))
    body = _lines([g for g in _glyphs(files, 1) if abs(g["size"] - 16 * PT) < 0.01])
    assert max(len(t) for t in body.values() if all(ord(c) >= 0x2E80 for c in t)) == 28
    # page numbers: — 2 — left on even pages, 7 mm under the 版心
    numbers = [g for g in _glyphs(files, 1) if g["y"] > 262 + 1]
    assert "".join(g["ch"] for g in numbers).replace(" ", "") == "—2—"
    assert min(g["x"] for g in numbers) == pytest.approx(28 + 14 * PT, abs=0.2)
    # the 版记: its last rule on the bottom edge of the 版心 of the last page
    last = ET.fromstring(files[f"Doc_0/Pages/Page_{ofd.pages - 1}/Content.xml"])
    bottoms = [float(p.get("Boundary").split()[1]) + float(p.get("Boundary").split()[3])
               for p in last.iter("{%s}PathObject" % NS["ofd"])]
    assert max(bottoms) == pytest.approx(262, abs=0.2)


def _easyofd(data: bytes):
    from loguru import logger

    logger.remove()
    logging.getLogger().setLevel(logging.ERROR)
    from easyofd.ofd import OFD

    reader = OFD()
    reader.read(data, fmt="binary")
    return reader


def test_an_independent_reader_finds_the_same_text_and_positions(rendered):
    pdf, ofd = rendered
    reader = _easyofd(ofd.ofd)
    pages = reader.data[0]["page_info"]
    assert len(pages) == pdf.pages
    with pdfplumber.open(io.BytesIO(pdf.pdf)) as doc:
        for n, page in enumerate(doc.pages):
            items = pages[list(pages)[n]]["text_list"]
            text = "".join(i["text"] for i in items)
            assert re.sub(r"\s", "", text) == re.sub(r"\s", "", "".join(c["text"] for c in page.chars))
            for item in items[:12]:
                x, y = item["pos"][0], item["pos"][1] + float(item["Y"])
                pdf_chars = [c for c in page.chars if c["text"] == item["text"][0]]
                assert min(abs(c["x0"] * PT - x) + abs((page.height - c["matrix"][5]) * PT - y) for c in pdf_chars) < 0.3


def test_the_pages_look_the_same_as_the_pdf(rendered, tmp_path):
    """easyofd draws the OFD (with one registered CJK font, as it has no font fallback of its own);
    both are rasterised at 20 dpi and compared below the 版头 (easyofd positions the 标志's glyphs
    but does not scale their shapes)."""
    from PIL import Image, ImageChops, ImageStat
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont as RLFont

    from documents.render import fonts

    pdfmetrics.registerFont(RLFont("宋体", fonts.register()["songti"].path))
    pdf, ofd = rendered
    drawn = _easyofd(ofd.ofd).to_pdf()
    (tmp_path / "ofd.pdf").write_bytes(drawn)
    (tmp_path / "ref.pdf").write_bytes(pdf.pdf)
    for name in ("ofd", "ref"):
        subprocess.run(["pdftoppm", "-r", "20", "-gray", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)],
                       check=True, timeout=120)
    for n in pdf.numbered_pages:  # the pages with body text (not the 版记-only page)
        a = Image.open(tmp_path / f"ofd-{n}.png").convert("L").resize((210, 297))
        b = Image.open(tmp_path / f"ref-{n}.png").convert("L").resize((210, 297))
        box = (0, 100 if n == 1 else 0, 210, 297)
        diff = ImageChops.difference(a.crop(box), b.crop(box))
        assert ImageStat.Stat(diff).mean[0] < 12, n
        ink_a = 255 - ImageStat.Stat(a.crop(box)).mean[0]
        ink_b = 255 - ImageStat.Stat(b.crop(box)).mean[0]
        assert ink_a > 5 and abs(ink_a - ink_b) < 0.35 * ink_b, n
