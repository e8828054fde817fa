"""GB/T 9704-2012 layout, measured by reading the text positions back from the PDF."""
from __future__ import annotations

import io
import shutil
import subprocess

import pdfplumber
import pikepdf
import pytest

from documents.render import fonts
from documents.render.model import Paragraph, RenderDoc, Seal
from documents.render.pdf import NO_END, NO_START, render_pdf
from documents.render.samples import sample_doc

MM = 72 / 25.4
PAGE_H = 297 * MM
X0, X1 = 28 * MM, 184 * MM  # 版心 left/right
TOP, BOTTOM = 37 * MM, (297 - 35) * MM  # 版心 top/bottom, measured from the paper top
PITCH = 225 * MM / 22
RED = (0.902, 0.0, 0.071)


def _open(pdf_bytes: bytes):
    return pdfplumber.open(io.BytesIO(pdf_bytes))


def _is_red(color) -> bool:
    return color is not None and len(color) == 3 and color[0] > 0.8 and color[1] < 0.2


def _lines(page, *, size=None):
    """Text lines of a page inside the 版心 (page numbers excluded), top to bottom."""
    rows: dict[float, list] = {}
    for ch in page.chars:
        if ch["top"] > BOTTOM + 1:
            continue  # page number
        if size and abs(ch["size"] - size) > 0.2:
            continue
        key = round(PAGE_H - ch["matrix"][5], 1)  # the baseline (bottom depends on each font's descent)
        rows.setdefault(key, []).append(ch)
    return [sorted(rows[k], key=lambda c: c["x0"]) for k in sorted(rows)]


def _text(chars) -> str:
    return "".join(c["text"] for c in chars)


def _page_number_chars(page):
    return [ch for ch in page.chars if ch["top"] > BOTTOM + 1]


@pytest.fixture(scope="module")
def three_pages():
    return render_pdf(sample_doc(3, seals=[Seal("咸阳市人民政府", picture=None)]))


def test_it_keeps_every_character_inside_the_type_block(three_pages):
    with _open(three_pages.pdf) as pdf:
        assert len(pdf.pages) >= 3
        for page in pdf.pages:
            assert page.width == pytest.approx(210 * MM, abs=0.5)
            assert page.height == pytest.approx(297 * MM, abs=0.5)
            for ch in page.chars:
                if ch["top"] > BOTTOM + 1:
                    continue
                assert X0 - 0.5 <= ch["x0"] and ch["x1"] <= X1 + 0.5, ch["text"]
                assert TOP - 0.5 <= ch["top"] and ch["bottom"] <= BOTTOM + 0.5, ch["text"]


def test_it_puts_22_lines_on_a_full_page_at_the_grid_pitch(three_pages):
    with _open(three_pages.pdf) as pdf:
        page = pdf.pages[1]  # a page of body text and a table
        every = _lines(page)
        slots = {int((ln[0]["bottom"] - TOP) // PITCH) for ln in every}
        assert slots == set(range(22))  # each of the 22 grid lines holds text
        lines = _lines(page, size=16)
        assert len(lines) >= 18
        bottoms = [PAGE_H - ln[0]["matrix"][5] for ln in lines]
        gaps = [b - a for a, b in zip(bottoms, bottoms[1:])]
        for gap in gaps:
            # every gap is a whole number of grid lines (a table row may span two)
            assert gap / PITCH == pytest.approx(round(gap / PITCH), abs=0.02)
        assert min(gaps) == pytest.approx(PITCH, abs=0.05)


def test_it_puts_28_characters_on_a_full_line_from_edge_to_edge():
    text = "各县区人民政府要切实加强组织领导明确责任分工细化工作措施确保各项任务按期完成" * 3
    doc = RenderDoc(organs=["咸阳市人民政府"], doc_number="咸政发〔2026〕1号", title="关于测试的通知",
                    body=[Paragraph(text)])
    with _open(render_pdf(doc).pdf) as pdf:
        body = [ln for ln in _lines(pdf.pages[0], size=16) if _text(ln) and _text(ln)[0] in text[:30]]
        full = [ln for ln in body if abs(ln[-1]["x1"] - X1) < 1]
        assert full, "no full line"
        for ln in full:
            if abs(ln[0]["x0"] - X0) < 1:  # not the indented first line
                assert len(ln) == 28
        first = body[0]
        assert len(first) == 26  # first-line indent of 2 characters
        assert first[0]["x0"] == pytest.approx(X0 + 2 * 156 * MM / 28, abs=0.3)


def test_it_places_the_red_header_35mm_below_the_type_block_top(three_pages):
    with _open(three_pages.pdf) as pdf:
        page = pdf.pages[0]
        red = [ch for ch in page.chars if _is_red(ch["non_stroking_color"])]
        assert _text(red) == "咸阳市人民政府文件"
        assert min(ch["top"] for ch in red) == pytest.approx(TOP + 35 * MM, abs=1.0)
        width_per_char = red[0]["x1"] - red[0]["x0"]
        height = red[0]["bottom"] - red[0]["top"]
        assert width_per_char <= 15 * MM + 0.5 and height <= 22 * MM + 0.5
        centre = (red[0]["x0"] + red[-1]["x1"]) / 2
        assert centre == pytest.approx((X0 + X1) / 2, abs=1.0)
        assert "NotoSerifCJK" in red[0]["fontname"] or fonts.register()["xiaobiaosong"].source == "licensed"


def test_it_draws_the_red_rule_4mm_under_the_number_across_the_type_block(three_pages):
    with _open(three_pages.pdf) as pdf:
        page = pdf.pages[0]
        number = [ln for ln in _lines(page) if _text(ln) == "咸政发〔2026〕12号"]
        assert number, "字号 missing"
        red_lines = [ln for ln in page.lines if _is_red(ln["stroking_color"])]
        assert len(red_lines) == 1
        rule = red_lines[0]
        assert rule["x0"] == pytest.approx(X0, abs=0.3) and rule["x1"] == pytest.approx(X1, abs=0.3)
        assert rule["top"] - number[0][0]["bottom"] == pytest.approx(4 * MM, abs=0.6)
        header = [ch for ch in page.chars if _is_red(ch["non_stroking_color"])]
        # two blank lines between the 标志 and the 字号
        gap_lines = (number[0][0]["top"] - max(ch["bottom"] for ch in header)) / PITCH
        assert 2.0 <= gap_lines < 3.2
        # the 字号 is centred
        centre = (number[0][0]["x0"] + number[0][-1]["x1"]) / 2
        assert centre == pytest.approx((X0 + X1) / 2, abs=1.0)


def test_it_centres_the_title_in_2hao_on_symmetric_lines(three_pages):
    with _open(three_pages.pdf) as pdf:
        title = _lines(pdf.pages[0], size=22)
        assert [_text(t) for t in title] == ["咸阳市人民政府关于加快推进全市机关", "无纸化办公和一网协同平台建设的通知"]
        for ln in title:
            assert (ln[0]["x0"] + ln[-1]["x1"]) / 2 == pytest.approx((X0 + X1) / 2, abs=1.0)


def test_it_sets_heading_levels_in_their_fonts(three_pages):
    names = {r: fonts.register()[r].path for r in fonts.ROLES}
    with _open(three_pages.pdf) as pdf:
        lines = {_text(ln): ln for ln in _lines(pdf.pages[0], size=16)}
        h1 = lines["一、总体要求"]
        h2 = lines["（一）明确目标。"]
        assert {c["fontname"].split("+")[1] for c in h1} != {c["fontname"].split("+")[1] for c in h2}
        assert h1[0]["x0"] == pytest.approx(X0 + 2 * 156 * MM / 28, abs=0.5)
    assert names["heiti"] != names["kaiti"]


def test_it_never_starts_a_line_with_closing_punctuation_nor_ends_one_with_opening():
    # "，" falls exactly on the 29th place of the first full line, "（" on the 28th
    tricky = "一" * 26 + "二二，三三" + "四" * 25 + "五（六）" + "七" * 60 + "。"
    doc = RenderDoc(organs=["咸阳市人民政府"], title="关于测试的通知", body=[Paragraph(tricky)] * 3)
    with _open(render_pdf(doc).pdf) as pdf:
        body = [ln for p in pdf.pages for ln in _lines(p, size=16)]
        texts = [_text(ln) for ln in body if _text(ln)]
        assert texts, "no body lines"
        for t in texts:
            assert t[0] not in NO_START, t
            assert t[-1] not in NO_END, t
        # the pushed-down line is justified: it still reaches the right edge
        full = [ln for ln in body if "，" in _text(ln) and _text(ln).startswith("二")]
        assert full
        prev = body[body.index(full[0]) - 1]
        assert prev[-1]["x1"] == pytest.approx(X1, abs=0.5)


def test_it_ends_the_imprint_on_the_bottom_edge_of_the_last_page(three_pages):
    with _open(three_pages.pdf) as pdf:
        last = pdf.pages[-1]
        assert "抄送：" in last.extract_text()
        assert "2026年3月2日印发" in last.extract_text().replace(" ", "")
        black = sorted((ln for ln in last.lines if not _is_red(ln["stroking_color"])), key=lambda ln: ln["top"])
        assert len(black) == 3  # first, middle, last rule
        assert black[-1]["bottom"] == pytest.approx(BOTTOM, abs=0.6)
        for ln in black:
            assert ln["x0"] == pytest.approx(X0, abs=0.3) and ln["x1"] == pytest.approx(X1, abs=0.3)
        widths = [ln["linewidth"] for ln in black]
        assert widths[0] == pytest.approx(0.35 * MM, abs=0.01)
        assert widths[1] == pytest.approx(0.25 * MM, abs=0.01)
        assert widths[2] == pytest.approx(0.35 * MM, abs=0.01)
        cc = [ln for ln in _lines(last, size=14) if _text(ln).startswith("抄送")]
        assert cc[0][0]["x0"] == pytest.approx(X0 + 14, abs=0.5)  # indented one 4号 character
        for p in pdf.pages[:-1]:
            assert "抄送：" not in (p.extract_text() or "")


def test_it_numbers_odd_pages_right_and_even_pages_left_but_not_an_imprint_only_page(three_pages):
    with _open(three_pages.pdf) as pdf:
        for n, page in enumerate(pdf.pages, 1):
            chars = _page_number_chars(page)
            body = [ch for ch in page.chars if ch["top"] <= BOTTOM + 1 and ch["size"] > 14.5]
            if not body:  # a page holding only the 版记
                assert chars == []
                continue
            assert _text(chars).replace(" ", "") == f"—{n}—"
            assert chars[0]["size"] == pytest.approx(14, abs=0.1)
            assert chars[0]["top"] - BOTTOM == pytest.approx(7 * MM, abs=0.6)
            if n % 2:
                assert chars[-1]["x1"] == pytest.approx(X1 - 14, abs=0.5)
            else:
                assert chars[0]["x0"] == pytest.approx(X0 + 14, abs=0.5)
        assert len(three_pages.numbered_pages) >= 3


def test_it_reports_the_imprint_only_page_without_number():
    doc = sample_doc(3)
    result = render_pdf(doc)
    with _open(result.pdf) as pdf:
        last = pdf.pages[-1]
        only_imprint = all(ch["size"] <= 14.1 for ch in last.chars)
        if only_imprint:
            assert result.pages not in result.numbered_pages
            assert _page_number_chars(last) == []
        else:
            assert result.pages in result.numbered_pages


def test_it_puts_the_seal_over_the_signature_and_date_right_indented_four(three_pages):
    with _open(three_pages.pdf) as pdf:
        box = three_pages.seal_boxes[0]
        page = pdf.pages[box.page]
        lines = _lines(page, size=16)
        date = [ln for ln in lines if _text(ln) == "2026年3月1日"][0]
        name = [ln for ln in lines if _text(ln) == "咸阳市人民政府"][0]
        assert date[-1]["x1"] == pytest.approx(X1 - 4 * 156 * MM / 28, abs=0.5)
        date_mid = (date[0]["x0"] + date[-1]["x1"]) / 2
        assert (name[0]["x0"] + name[-1]["x1"]) / 2 == pytest.approx(date_mid, abs=0.5)
        x0, y0, x1, y1 = box.box
        seal_top = PAGE_H - y1
        seal_centre = PAGE_H - (y0 + y1) / 2
        assert (x0 + x1) / 2 == pytest.approx(date_mid, abs=0.5)
        assert name[0]["top"] > seal_centre - 1  # name and date sit below the seal's centre
        assert PAGE_H - y0 > date[0]["bottom"]  # the seal covers the date
        body_above = [ln for ln in lines if ln[0]["bottom"] < name[0]["top"] - 1]
        assert seal_top - body_above[-1][0]["bottom"] <= PITCH  # top within one line of the body


def test_it_embeds_every_font():
    result = render_pdf(sample_doc(3))
    pdf = pikepdf.open(io.BytesIO(result.pdf))
    seen = 0
    for page in pdf.pages:
        for _name, font in page.Resources.Font.items():
            descendants = font.get("/DescendantFonts")
            target = descendants[0] if descendants else font
            desc = target.get("/FontDescriptor")
            assert desc is not None and ("/FontFile2" in desc or "/FontFile" in desc or "/FontFile3" in desc)
            seen += 1
    assert seen >= 4


def test_it_lays_out_an_upward_document_with_signer_and_number_level():
    result = render_pdf(sample_doc(1, upward=True))
    with _open(result.pdf) as pdf:
        lines = _lines(pdf.pages[0], size=16)
        row = [ln for ln in lines if "签发人" in _text(ln)][0]
        text = _text(row)
        assert text.startswith("咸政〔2026〕3号") and text.endswith("签发人：王建国")
        assert row[0]["x0"] == pytest.approx(X0 + 156 * MM / 28, abs=0.5)
        assert row[-1]["x1"] == pytest.approx(X1 - 156 * MM / 28, abs=0.5)
        names = [c for c in row if c["text"] in "王建国"]
        label = [c for c in row if c["text"] in "签发人"]
        assert names[0]["fontname"] != label[0]["fontname"]  # name in 楷体, label in 仿宋


def test_it_stacks_joint_organs_and_signs_every_one():
    result = render_pdf(sample_doc(2, joint=True))
    with _open(result.pdf) as pdf:
        red = [ch for ch in pdf.pages[0].chars if _is_red(ch["non_stroking_color"])]
        text = _text(sorted(red, key=lambda c: (round(c["top"]), c["x0"])))
        for organ in ("咸阳市人民政府", "咸阳市教育局", "咸阳市财政局"):
            assert organ in text
        assert text.count("文件") == 1
    assert [b.organ for b in result.seal_boxes] == ["咸阳市人民政府", "咸阳市教育局", "咸阳市财政局"]
    boxes = [b.box for b in result.seal_boxes]
    for a, b in zip(boxes, boxes[1:]):
        assert a[2] <= b[0]  # seals do not overlap


def test_it_renders_the_letter_variant_with_double_rules_and_no_first_page_number():
    doc = sample_doc(2, variant="letter")
    doc.doc_type = "函"
    result = render_pdf(doc)
    with _open(result.pdf) as pdf:
        page = pdf.pages[0]
        red = [ch for ch in page.chars if _is_red(ch["non_stroking_color"])]
        assert _text(red) == "咸阳市人民政府"
        assert min(ch["top"] for ch in red) == pytest.approx(30 * MM, abs=1.0)
        rules = [ln for ln in page.lines if _is_red(ln["stroking_color"])]
        assert len(rules) == 4
        for ln in rules:
            assert ln["x1"] - ln["x0"] == pytest.approx(170 * MM, abs=0.3)
        assert _page_number_chars(page) == []
    assert 1 not in result.numbered_pages


def test_it_renders_the_order_variant_20mm_below_the_block_top():
    doc = sample_doc(1, variant="order")
    doc.doc_type = "命令"
    doc.order_no = "第3号"
    doc.signed_by_title = "市长"
    doc.signed_by_name = "李明"
    doc.title = ""
    with _open(render_pdf(doc).pdf) as pdf:
        page = pdf.pages[0]
        red = [ch for ch in page.chars if _is_red(ch["non_stroking_color"])]
        assert _text(red) == "咸阳市人民政府令"
        assert min(ch["top"] for ch in red) == pytest.approx(TOP + 20 * MM, abs=1.0)
        assert not [ln for ln in page.lines if _is_red(ln["stroking_color"])]
        assert "第3号" in page.extract_text()


def test_it_renders_minutes_with_bold_attendee_labels():
    doc = sample_doc(1, variant="minutes")
    doc.doc_type = "纪要"
    doc.organs = ["咸阳市人民政府常务会议"]
    doc.signatures = []
    doc.attendees = [("出席", "李明、王建国、张伟"), ("列席", "刘洋")]
    with _open(render_pdf(doc).pdf) as pdf:
        chars = [ch for p in pdf.pages for ch in p.chars]
        red = [ch for ch in pdf.pages[0].chars if _is_red(ch["non_stroking_color"])]
        assert _text(red) == "咸阳市人民政府常务会议纪要"
        label = [ch for ch in chars if ch["text"] == "出"][-1]
        name = [ch for ch in chars if ch["text"] == "李" and ch["size"] == 16][-1]
        heading = [ch for ch in chars if ch["text"] == "总"][0]  # in 一、总体要求, 黑体
        assert label["fontname"] != name["fontname"]
        assert label["fontname"] == heading["fontname"]


def test_it_renders_pages_to_png_for_review(tmp_path, three_pages):
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm missing: apt-get install poppler-utils (scripts/system-deps.txt)")
    src = tmp_path / "doc.pdf"
    src.write_bytes(three_pages.pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(src), str(tmp_path / "page")], check=True, timeout=60)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == three_pages.pages
    from PIL import Image as PILImage

    im = PILImage.open(pngs[0]).convert("RGB")
    w, h = im.size
    # red pixels exist in the header band (72–95 mm from the top), none in the lower half
    def red_rows(y0, y1):
        return sum(1 for y in range(int(y0 * h / 297), int(y1 * h / 297)) for x in range(0, w, 2)
                   if (lambda p: p[0] > 180 and p[1] < 90 and p[2] < 90)(im.getpixel((x, y))))
    assert red_rows(70, 96) > 50
    assert red_rows(150, 297) == 0


def test_it_prefers_a_licensed_font_dropped_into_the_font_folder(tmp_path, monkeypatch):
    licensed = tmp_path / "licensed"
    licensed.mkdir()
    shutil.copy("/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf", licensed / "仿宋_GB2312.ttf")
    # a CFF-outline font is ignored even when named like one: reportlab could not embed it
    (licensed / "simhei.ttc").symlink_to("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    monkeypatch.setenv("YW_FONT_DIR", str(licensed))
    chosen = fonts.discover()
    assert chosen["fangsong"].source == "licensed"
    assert chosen["fangsong"].path.endswith("仿宋_GB2312.ttf")
    assert chosen["kaiti"].source != "licensed"
    assert chosen["heiti"].source != "licensed"
    monkeypatch.delenv("YW_FONT_DIR")
    assert fonts.discover()["fangsong"].source in ("prepared", "fallback")


def test_it_never_leaves_the_seal_alone_on_a_page_and_keeps_the_note_with_the_date():
    for k in range(1, 13):
        doc = sample_doc(1, seals=[Seal("咸阳市人民政府")])
        doc.body = [Paragraph("为深入贯彻落实工作部署，进一步提高机关运行效率，现就有关事项通知如下。" * (1 + k % 3))] * k
        doc.attachments = []
        result = render_pdf(doc)
        box = result.seal_boxes[0]
        with _open(result.pdf) as pdf:
            page = pdf.pages[box.page]
            texts = [_text(ln) for ln in _lines(page, size=16)]
            assert "2026年3月1日" in texts, k
            assert "（此件公开发布）" in texts, k  # the 附注 follows the date on its page
            name_at = texts.index("咸阳市人民政府")
            assert any(t.startswith(("为深入", "署", "率", "现就", "事项")) or len(t) > 20 for t in texts[:name_at]), k
            x0, y0, x1, y1 = box.box
            assert PAGE_H - y1 >= TOP - 1  # the seal starts inside the 版心


def test_it_breaks_long_titles_symmetrically_at_word_boundaries():
    from documents.render.pdf import title_lines

    long = "咸阳市人民政府办公室关于印发咸阳市2026年深化政务公开和一网协同平台建设工作要点及任务分工方案的通知"
    lines = title_lines(long, "通知")
    assert "".join(lines) == long and len(lines) == 3
    lengths = [len(x) for x in lines]
    assert max(lengths) <= 20
    diamond = lengths[1] >= lengths[0] and lengths[1] >= lengths[2]
    trapezoid = lengths == sorted(lengths) or lengths == sorted(lengths, reverse=True)
    assert diamond or trapezoid, lengths
    assert not any(x.startswith("的通知") or x.endswith("的") and x is lines[-2] for x in lines[1:])
    assert all("2026" in x or "20" not in x for x in lines)  # never splits a number
    two = title_lines("咸阳市人民政府关于加快推进全市机关无纸化办公和一网协同平台建设的通知", "通知")
    assert len(two) == 2 and abs(len(two[0]) - len(two[1])) <= 2
    assert two[1].endswith("的通知") and two[0].endswith("机关")
