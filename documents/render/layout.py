"""The GB/T 9704-2012 layout engine: one layout, drawn by a writer per format.

The page is a grid: A4, 版心 156 × 225 mm at 28 mm from the left and 37 mm
from the top, 22 lines × 28 characters. Every text line sits on a grid line;
body characters are 3号 (16 pt) with the tracking tightened to the 15.79 pt
grid pitch. Layout computes every position once, as boxes per page (TextBox,
RuleBox, RectBox, PictureBox; PDF points, origin bottom-left), so that page
numbers and the 版记 know the last page; pdf.py and ofd.py draw the same boxes.
When the space left on a page cannot hold the seal and the date, that page's
line pitch is tightened so that they fit (GB/T 9704 §7.3.5.1).

Numbers: shared/reference/gongwen.md.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from . import fonts
from .model import Heading, Image, Paragraph, RenderDoc, Table, cn_date

PAGE_W, PAGE_H = A4
MARGIN_TOP = 37 * mm
MARGIN_LEFT = 28 * mm
BLOCK_W = 156 * mm
BLOCK_H = 225 * mm
X0 = MARGIN_LEFT
X1 = MARGIN_LEFT + BLOCK_W
Y_TOP = PAGE_H - MARGIN_TOP
Y_BOT = Y_TOP - BLOCK_H  # 35 mm
LINES = 22
CHARS = 28
LINE = BLOCK_H / LINES  # ≈ 28.99 pt
CHAR = BLOCK_W / CHARS  # ≈ 15.79 pt
BODY = 16.0  # 3号
TITLE = 22.0  # 2号
SMALL = 14.0  # 4号
RED = Color(0.902, 0.0, 0.071)  # the usual 公文 red (C0 M100 Y100 K0 → sRGB)
BLACK = Color(0, 0, 0)
ASC = 0.88  # ideographic em box above the baseline
DESC = 0.12
SEAL_D = 42 * mm  # a government round seal

# 避头尾: characters that may not start a line / may not end a line.
NO_START = set("，。、；：？！）」』》〕】〉”’…—·%‰,.;:?!)]}>℃'\"")
NO_END = set("（「『《〔【〈“‘([{<")
HEADING_ROLE = {0: "fangsong", 1: "heiti", 2: "kaiti", 3: "fangsong", 4: "fangsong"}


def line_bottom(i: int) -> float:
    return Y_TOP - (i + 1) * LINE


def baseline(i: int, size: float = BODY) -> float:
    """Baseline of a text of `size` vertically centred on grid line i."""
    return line_bottom(i) + (LINE - size) / 2 + DESC * size


# ---------------------------------------------------------------- text runs

@dataclass(slots=True)
class Glyph:
    ch: str
    role: str
    size: float
    width: float  # advance including tracking
    natural: float = 0.0  # the font's own advance


_WIDTHS: dict[tuple[str, float], dict[str, float]] = {}


def char_width(ch: str, role: str, size: float) -> float:
    table = _WIDTHS.get((role, size))
    if table is None:
        table = _WIDTHS[(role, size)] = {}
    w = table.get(ch)
    if w is None:
        w = table[ch] = stringWidth(ch, fonts.font_name(role), size)
    return w


def glyphs(text: str, role: str, size: float = BODY, tracking: float | None = None) -> list[Glyph]:
    if tracking is None:
        tracking = (CHAR - BODY) if size == BODY else 0.0
    out = []
    for ch in text:
        w = char_width(ch, role, size)
        out.append(Glyph(ch, role, size, w + tracking, w))
    return out


def _is_cjk(ch: str) -> bool:
    return ord(ch) >= 0x2E80


def _units(gs: list[Glyph]) -> list[list[Glyph]]:
    """Group glyphs into unbreakable units: Latin/digit runs stay whole, closing
    punctuation sticks to what precedes it, opening punctuation to what follows,
    and ——/…… pairs stay together."""
    units: list[list[Glyph]] = []
    pending_open: list[Glyph] = []
    for g in gs:
        ch = g.ch
        if ch in NO_END:
            pending_open.append(g)
            continue
        if units and not pending_open and (
            ch in NO_START
            or (not _is_cjk(ch) and not ch.isspace() and units[-1] and not _is_cjk(units[-1][-1].ch)
                and not units[-1][-1].ch.isspace())
        ):
            units[-1].append(g)
            continue
        units.append(pending_open + [g])
        pending_open = []
    if pending_open:
        if units:
            units[-1].extend(pending_open)
        else:
            units.append(pending_open)
    return units


def _width(gs: list[Glyph]) -> float:
    return sum(g.width for g in gs)


def break_lines(gs: list[Glyph], width: float, first_width: float | None = None) -> list[list[Glyph]]:
    """Greedy line breaking over units with 避头尾 (a unit that does not fit goes
    whole to the next line, so a closing mark never starts a line and an
    opening mark never ends one)."""
    first_width = width if first_width is None else first_width
    lines: list[list[Glyph]] = []
    cur: list[Glyph] = []
    cur_w = 0.0
    limit = first_width
    eps = 0.01
    for unit in _units(gs):
        uw = _width(unit)
        if cur_w + uw <= limit + eps:
            cur.extend(unit)
            cur_w += uw
            continue
        if cur:
            lines.append(cur)
            cur, cur_w = [], 0.0
            limit = width
        if uw <= limit + eps:
            cur, cur_w = list(unit), uw
            continue
        for g in unit:  # a unit longer than a line: break it by glyphs
            if cur_w + g.width > limit + eps and cur:
                lines.append(cur)
                cur, cur_w = [], 0.0
                limit = width
            cur.append(g)
            cur_w += g.width
    if cur:
        lines.append(cur)
    # trailing spaces never count
    return [ln[:-1] if len(ln) > 1 and ln[-1].ch == " " else ln for ln in lines]


@dataclass(slots=True)
class TextBox:
    """A line of glyphs: (x, y) is the baseline origin; advances[k] is the pen advance after glyph k
    (scaled width plus tracking and justification); hscale the horizontal scale in per cent."""
    x: float
    y: float
    glyphs: list[Glyph]
    advances: list[float]
    color: Color = BLACK
    hscale: float = 100.0

    @property
    def size(self) -> float:
        return max(g.size for g in self.glyphs)

    @property
    def text(self) -> str:
        return "".join(g.ch for g in self.glyphs)


@dataclass(slots=True)
class RuleBox:
    x0: float
    x1: float
    y: float
    width: float
    color: Color = BLACK


@dataclass(slots=True)
class RectBox:
    x: float
    y: float
    w: float
    h: float
    width: float = 0.5


@dataclass(slots=True)
class PictureBox:
    data: bytes
    x: float
    y: float
    w: float
    h: float


Box = TextBox | RuleBox | RectBox | PictureBox


def text_line(gs: list[Glyph], x: float, y: float, *, justify_to: float | None = None, color=BLACK,
              hscale: float = 100.0) -> TextBox:
    """A line of glyphs; with justify_to, the remaining space is spread over the gaps."""
    extra = 0.0
    if justify_to is not None and len(gs) > 1:
        extra = max(0.0, (justify_to - _width(gs)) / (len(gs) - 1))
    return TextBox(x, y, gs, [g.width + extra for g in gs], color, hscale)


# ---------------------------------------------------------------- layout

@dataclass
class SealBox:
    page: int  # 0-based
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points
    organ: str


class Layout:
    def __init__(self, doc: RenderDoc, squeeze: dict[int, int] | None = None):
        self.doc = doc
        self.squeeze = squeeze or {}  # page → grid lines added to that page (§7.3.5.1)
        self.pages: list[list[Box]] = [[]]
        self.numbered: list[int] = []  # 1-based numbers of the pages that carry one
        self.line = 0  # next free grid line on the current page
        self.body_pages: set[int] = set()  # pages holding something besides the 版记
        self.seal_boxes: list[SealBox] = []
        self.first_page_no_number = doc.variant == "letter"
        self.line_limit = LINES + self.squeeze.get(0, 0)
        self.pitch = LINE  # the 版头 keeps the standard grid; reanchor() tightens what follows
        self.anchor = (0, Y_TOP)  # (line, y of its top edge)
        self.break_before: tuple[int, int] | None = None  # (page, line) forced to the next page
        self.last_text: tuple[int, int] | None = None  # where the last body/attachment line went
        self.allow_squeeze = True

    # -- pages and lines
    @property
    def page(self) -> int:
        return len(self.pages) - 1

    def new_page(self) -> None:
        self.pages.append([])
        self.line = 0
        self.line_limit = LINES + self.squeeze.get(self.page, 0)
        self.pitch = BLOCK_H / self.line_limit
        self.anchor = (0, Y_TOP)

    def reanchor(self) -> None:
        """After the 版头: the lines from here to the bottom of the 版心 share the space left
        (tighter when the page is squeezed; the standard grid otherwise)."""
        i0 = self.line
        y0 = Y_TOP - i0 * LINE
        self.anchor = (i0, y0)
        self.pitch = (y0 - Y_BOT) / max(1, self.line_limit - i0)

    def op(self, box: Box, *, content: bool = True) -> None:
        self.pages[-1].append(box)
        if content:
            self.body_pages.add(self.page)

    # -- the current page's grid (tighter on a squeezed page)
    def line_top(self, i: int) -> float:
        return self.anchor[1] - (i - self.anchor[0]) * self.pitch

    def line_bottom(self, i: int) -> float:
        return self.line_top(i + 1)

    def baseline(self, i: int, size: float = BODY) -> float:
        return self.line_bottom(i) + (self.pitch - size) / 2 + DESC * size

    def first_line_below(self, y: float) -> int:
        """Index of the first grid line lying wholly below y."""
        return max(0, self.anchor[0] + math.ceil((self.anchor[1] - y) / self.pitch - 1e-6))

    def take_line(self) -> int:
        if self.line >= self.line_limit or (self.page, self.line) == self.break_before:
            self.new_page()
        i = self.line
        self.line += 1
        return i

    def skip(self, n: int) -> None:
        """Blank lines; never carried over to the top of a new page."""
        self.line = min(self.line + n, self.line_limit)

    # -- text helpers
    def text_block(self, gs: list[Glyph], *, indent: float = 0.0, first_indent: float | None = None,
                   right: float = 0.0, justify: bool = True, color=BLACK) -> list[int]:
        first_indent = indent if first_indent is None else first_indent
        width = BLOCK_W - indent - right
        lines = break_lines(gs, width, BLOCK_W - first_indent - right)
        used = []
        for n, ln in enumerate(lines):
            i = self.take_line()
            used.append(i)
            self.last_text = (self.page, i)
            x = X0 + (first_indent if n == 0 else indent)
            w = BLOCK_W - right - (first_indent if n == 0 else indent)
            last = n == len(lines) - 1
            size = ln[0].size if ln else BODY
            y = self.baseline(i, size)
            self.op(text_line(ln, x, y, justify_to=None if (last or not justify) else w, color=color))
        return used

    def centred(self, gs: list[Glyph], i: int, color=BLACK, size: float = BODY) -> None:
        w = _width(gs) - (gs[-1].width - stringWidth(gs[-1].ch, fonts.font_name(gs[-1].role), gs[-1].size) if gs else 0)
        x = X0 + (BLOCK_W - w) / 2
        y = self.baseline(i, size)
        self.op(text_line(gs, x, y, color=color))


def _natural(gs: list[Glyph]) -> float:
    """Visible width (the tracking after the last glyph does not count)."""
    if not gs:
        return 0.0
    last = gs[-1]
    return _width(gs) - (last.width - stringWidth(last.ch, fonts.font_name(last.role), last.size))


# ---------------------------------------------------------------- title breaking

GOOD_AFTER = ("关于", "、", "，", "》", "〕", "”", "）", "和", "与", "及", "暨", "的", "年", "年度",
              "政府", "办公室", "办公厅", "委员会", "印发", "转发", "批转", "开展", "做好", "加强", "推进")
GOOD_BEFORE = ("关于", "《", "“", "（", "的", "和", "与", "及", "暨")
# Words of 公文 titles that a line break must not split (no dictionary segmenter is installed:
# this short list covers the common title vocabulary; a break elsewhere is merely discouraged).
TITLE_WORDS = (
    "人民政府", "办公室", "委员会", "工作", "建设", "管理", "服务", "发展", "改革", "实施", "推进", "加强",
    "规范化", "标准化", "规范", "标准", "专项", "资金", "平台", "政务", "公开", "环境", "整治", "农村",
    "城市", "安全", "生产", "应急", "组织", "领导", "全市", "全区", "全县", "全省", "进一步", "新形势",
    "便民", "中心", "街道", "乡镇", "社区", "方案", "意见", "通知", "要点", "任务", "分工", "协同", "无纸化",
    "办公", "一网", "防火", "冬季", "春季", "秋季", "夏季", "疫情", "防控", "防汛", "抗旱", "脱贫", "振兴",
    "乡村", "经济", "社会", "教育", "卫生", "健康", "医疗", "保障", "民生", "财政", "预算", "项目", "申请",
    "审批", "检查", "监督", "考核", "评估", "制度", "机制", "体系", "能力", "水平", "质量", "效率", "数字",
    "信息化", "网络", "数据", "系统", "人居", "咸阳", "秦都", "渭城", "兴平", "三原", "泾阳", "乾县",
)


def title_lines(title: str, doc_type: str = "", size: float = TITLE) -> list[str]:
    """Break a title into lines of similar length at word-like boundaries
    (symmetric: 梯形 or 菱形), never inside a Latin/digit run, never splitting
    the final "的+文种", with 避头尾."""
    name = fonts.font_name("xiaobiaosong")
    widths = [stringWidth(ch, name, size) for ch in title]
    total = sum(widths)
    if total <= BLOCK_W + 0.01:
        return [title]
    n = len(title)
    prefix = [0.0]
    for w in widths:
        prefix.append(prefix[-1] + w)

    suffix_guard = len(doc_type) + 1 if doc_type and title.endswith(doc_type) else 0

    inside: set[int] = set()  # break positions that would split a known word
    edges: set[int] = set()  # positions at a known word's edge
    for word in TITLE_WORDS:
        start = title.find(word)
        while start != -1:
            inside.update(range(start + 1, start + len(word)))
            edges.update((start, start + len(word)))
            start = title.find(word, start + 1)
    inside -= edges

    def penalty(i: int) -> float:  # break between title[i-1] and title[i]
        a, b = title[i - 1], title[i]
        if b in NO_START or a in NO_END:
            return math.inf
        if not _is_cjk(a) and not _is_cjk(b) and a != " " and b != " ":
            return math.inf
        if suffix_guard and i > n - suffix_guard:
            return math.inf
        if i in inside:
            return 8.0
        if b in "市县区省镇乡村局厅委" and (i + 1 >= n or title[i + 1] not in "委政"):
            return 6.0  # keeps place and organ names whole (咸阳|市 is a bad break)
        if any(title[:i].endswith(s) for s in GOOD_AFTER) or any(title[i:].startswith(s) for s in GOOD_BEFORE):
            return 0.0
        if suffix_guard and i == n - suffix_guard:
            return 0.5
        if i in edges:
            return 1.0
        return 4.0

    k = math.ceil(total / BLOCK_W)
    best = None
    candidates = [i for i in range(1, n) if penalty(i) < math.inf]

    def seg_w(a: int, b: int) -> float:
        return prefix[b] - prefix[a]

    def score(cuts: list[int]) -> float:
        bounds = [0] + cuts + [n]
        ws = [seg_w(bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1)]
        if max(ws) > BLOCK_W + 0.01:
            return math.inf
        s = sum(penalty(c) for c in cuts) * 1.5
        s += (max(ws) - min(ws)) / size
        if len(ws) == 3 and not (ws[1] >= ws[0] and ws[1] >= ws[2]) and not (ws[0] <= ws[1] <= ws[2]) \
                and not (ws[0] >= ws[1] >= ws[2]):
            s += 2  # neither 菱形 nor 梯形
        return s

    while best is None and k <= 6:
        if k == 2:
            opts = ([c] for c in candidates)
        elif k == 3:
            opts = ([a, b] for a in candidates for b in candidates if b > a)
        else:  # rare: balanced greedy
            target = total / k
            cuts, acc = [], 0.0
            for i in range(1, n):
                acc += widths[i - 1]
                if acc >= target * (len(cuts) + 1) and i in candidates and len(cuts) < k - 1:
                    cuts.append(i)
            opts = iter([cuts])
        scored = [(score(c), c) for c in opts]
        scored = [s for s in scored if s[0] < math.inf]
        if scored:
            best = min(scored)[1]
        k += 1
    if best is None:  # give up on symmetry
        return ["".join(g.ch for g in ln) for ln in break_lines(glyphs(title, "xiaobiaosong", size, 0.0), BLOCK_W)]
    bounds = [0] + best + [n]
    return [title[bounds[j]:bounds[j + 1]] for j in range(len(bounds) - 1)]


# ---------------------------------------------------------------- the parts

def _header_sizes(names: list[str], suffix: str, max_h: float) -> tuple[float, float]:
    """Font size and horizontal scale of the 发文机关标志: each character at
    most 22 mm high × 15 mm wide, the whole line within the 版心."""
    longest = max(len(n) for n in names)
    chars = longest + (len(suffix) + 0.5 if (suffix and len(names) > 1) else len(suffix))
    w = min(15 * mm, BLOCK_W / chars)
    h = min(max_h, w / 0.7)
    if len(names) > 1:
        h = min(h, 16 * mm)
    return h, 100.0 * w / h


def draw_header(L: Layout) -> float:
    """The 版头; returns the y of its lower edge (the red rule)."""
    doc = L.doc
    organs = doc.organs or ["（发文机关）"]
    variant = doc.variant
    if variant == "order":
        names, suffix = organs, "令" if not organs[0].endswith("令") else ""
    elif variant == "minutes":
        names = [organs[0] if organs[0].endswith("纪要") else organs[0] + "纪要"]
        suffix = ""
    else:
        names, suffix = organs, doc.header_suffix if variant != "letter" else ""
    if suffix and len(names) == 1:
        names = [names[0] + suffix]
        suffix = ""

    # 份号 / 紧急程度 in the top-left lines of the 版心
    top_lines = []
    if doc.copy_no:
        top_lines.append((doc.copy_no, "fangsong"))
    if doc.urgency:
        top_lines.append((doc.urgency, "heiti"))

    if variant == "letter":
        top_edge = PAGE_H - 30 * mm
        h, hs = _header_sizes(names, suffix, 15 * mm)
    elif variant == "order":
        top_edge = Y_TOP - 20 * mm
        h, hs = _header_sizes(names, suffix, 22 * mm)
    else:
        top_edge = Y_TOP - 35 * mm
        h, hs = _header_sizes(names, suffix, 22 * mm)

    # the organ names (joint: stacked, distributed to one width; 文件 at the right)
    name_w = max(len(n) for n in names) * h * hs / 100.0
    suffix_w = len(suffix) * h * hs / 100.0
    gap = 0.5 * h * hs / 100.0 if suffix else 0.0
    total_w = name_w + gap + suffix_w
    x_left = X0 + (BLOCK_W - total_w) / 2
    pitch = h * 1.15
    y = top_edge - ASC * h
    name_role = "xiaobiaosong"
    rows_y = []
    for name in names:
        gs = glyphs(name, name_role, h, 0.0)
        for g in gs:
            g.width *= hs / 100.0
        natural = _width(gs)
        if len(names) > 1 and len(gs) > 1:
            extra = (name_w - natural) / (len(gs) - 1)
            for g in gs[:-1]:
                g.width += extra
        x = x_left if len(names) > 1 else X0 + (BLOCK_W - natural) / 2
        L.op(_scaled(gs, x, y, hs))
        rows_y.append(y)
        y -= pitch
    bottom_edge = rows_y[-1] - DESC * h
    if suffix:
        mid = (top_edge + bottom_edge) / 2
        sy = mid - (ASC - DESC) * h / 2
        gs = glyphs(suffix, name_role, h, 0.0)
        for g in gs:
            g.width *= hs / 100.0
        sx = x_left + name_w + gap
        L.op(_scaled(gs, sx, sy, hs))

    for n, (text, role) in enumerate(top_lines):
        i = n
        L.op(text_line(glyphs(text, role), X0, L.baseline(i)))

    if variant == "letter":
        # red double rules 170 mm, 4 mm under the 标志: thick over thin
        y_rule = bottom_edge - 4 * mm
        xa = (PAGE_W - 170 * mm) / 2
        for box in _double_rule(xa, y_rule, thick_first=True) + _double_rule(xa, 20 * mm, thick_first=False):
            L.op(box)
        # 字号 right-aligned, one blank line under the rule
        first = L.first_line_below(y_rule) + 1
        L.line = first
        if doc.doc_number:
            i = L.take_line()
            gs = glyphs(doc.doc_number, "fangsong")
            x = X1 - _natural(gs)
            L.op(text_line(gs, x, L.baseline(i)))
        L.skip(2)  # the title two blank lines under the 字号 (GB/T 9704 §10.1)
        return y_rule

    if variant == "order":
        # 令号 two blank lines under the 标志, centred; body two blank lines later
        i = L.first_line_below(bottom_edge) + 2
        L.line = i
        if doc.order_no:
            L.take_line()
            L.centred(glyphs(doc.order_no, "fangsong"), i)
        L.skip(2)
        return bottom_edge

    # 字号 (and 签发人 on upward documents): two blank lines under the 标志
    i = L.first_line_below(bottom_edge) + 2
    L.line = i
    if doc.signers:
        label = glyphs("签发人：", "fangsong")
        for n, signer in enumerate(doc.signers):
            row = L.take_line()
            gs = label + glyphs(signer, "kaiti")
            x = X1 - CHAR - _natural(gs)
            L.op(text_line(gs, x, L.baseline(row)))
        num_line = row
        if doc.doc_number:
            gs = glyphs(doc.doc_number, "fangsong")
            L.op(text_line(gs, X0 + CHAR, L.baseline(num_line)))
    else:
        num_line = L.take_line()
        if doc.doc_number:
            L.centred(glyphs(doc.doc_number, "fangsong"), num_line)
    y_rule = L.baseline(num_line) - DESC * BODY - 4 * mm
    L.op(RuleBox(X0, X1, y_rule, 1.0, RED))
    # title two blank lines under the rule
    L.line = L.first_line_below(y_rule) + 2
    return y_rule


def _scaled(gs: list[Glyph], x: float, y: float, hs: float) -> TextBox:
    """The red 标志: glyph widths already scaled by hs."""
    return TextBox(x, y, gs, [g.width for g in gs], RED, hs)


def _double_rule(x: float, y: float, *, thick_first: bool) -> list[RuleBox]:
    thick, thin = 2.0, 0.6
    gap = 1.2
    top_w, bot_w = (thick, thin) if thick_first else (thin, thick)
    return [RuleBox(x, x + 170 * mm, y, top_w, RED),
            RuleBox(x, x + 170 * mm, y - gap - (top_w + bot_w) / 2, bot_w, RED)]


def draw_title(L: Layout) -> None:
    doc = L.doc
    if not doc.title:
        return
    for text in title_lines(doc.title, doc.doc_type):
        i = L.take_line()
        L.centred(glyphs(text, "xiaobiaosong", TITLE, 0.0), i, size=TITLE)
    L.skip(1)


def draw_recipients(L: Layout) -> None:
    doc = L.doc
    if not doc.recipients:
        return
    text = "、".join(doc.recipients)
    if not text.endswith("："):
        text = text.rstrip(":：") + "："
    L.text_block(glyphs(text, "fangsong"))


def _paragraph_glyphs(block: Paragraph) -> list[Glyph]:
    gs: list[Glyph] = []
    if block.lead:
        gs += glyphs(block.lead, HEADING_ROLE.get(block.lead_level, "fangsong"))
    gs += glyphs(block.text, "fangsong")
    return gs


def draw_body(L: Layout) -> None:
    for block in L.doc.body:
        if isinstance(block, Heading):
            L.text_block(glyphs(block.text, HEADING_ROLE.get(block.level, "fangsong")), indent=0,
                         first_indent=2 * CHAR)
        elif isinstance(block, Paragraph):
            L.text_block(_paragraph_glyphs(block), indent=0, first_indent=2 * CHAR)
        elif isinstance(block, Table):
            draw_table(L, block)
        elif isinstance(block, Image):
            draw_image(L, block)
    for n, note in enumerate(L.doc.footnotes, 1):
        L.text_block(glyphs(f"注{n}：{note}", "fangsong", SMALL, 0.0), indent=2 * CHAR, first_indent=2 * CHAR)


def draw_table(L: Layout, table: Table) -> None:
    rows = [r for r in table.rows if r]
    if not rows:
        return
    ncol = max(len(r) for r in rows)
    rel = table.col_widths or [1.0] * ncol
    rel = (list(rel) + [1.0] * ncol)[:ncol]
    scale = BLOCK_W / sum(rel)
    widths = [w * scale for w in rel]
    pad = 0.3 * SMALL
    for r_index, row in enumerate(rows):
        role = "heiti" if r_index < table.header_rows else "fangsong"
        cells = []
        for j in range(ncol):
            text = row[j] if j < len(row) else ""
            cells.append(break_lines(glyphs(text, role, SMALL, 0.0), widths[j] - 2 * pad) if text else [[]])
        height = max(len(c) for c in cells)
        if L.line + height > L.line_limit and L.line > 0:
            L.new_page()
        first = L.line
        L.line = min(L.line + height, L.line_limit)
        top = L.line_top(first)
        bottom = L.line_top(L.line)
        x = X0
        for j, lines in enumerate(cells):
            L.op(RectBox(x, bottom, widths[j], top - bottom, 0.5))
            for k, ln in enumerate(lines):
                if first + k < L.line_limit and ln:
                    L.op(text_line(ln, x + pad, L.baseline(first + k, SMALL)))
            x += widths[j]


def draw_image(L: Layout, block: Image) -> None:
    try:
        iw, ih = ImageReader(io.BytesIO(block.data)).getSize()
    except Exception:
        return
    w = min(block.width_mm * mm, BLOCK_W)
    h = block.height_mm * mm if block.height_mm else w * ih / max(iw, 1)
    h = min(h, BLOCK_H)
    n = math.ceil(h / L.pitch)
    if L.line + n > L.line_limit:
        L.new_page()
    first = L.line
    L.line += n
    x = X0 + (BLOCK_W - w) / 2
    y = L.line_top(first) - h
    L.op(PictureBox(block.data, x, y, w, h))


def draw_attachments(L: Layout) -> None:
    items = L.doc.attachments
    if not items:
        return
    L.skip(1)
    label = glyphs("附件：", "fangsong")
    label_w = _width(label)
    if len(items) == 1:
        gs = label + glyphs(items[0], "fangsong")
        L.text_block(gs, indent=2 * CHAR + label_w, first_indent=2 * CHAR)
        return
    for n, name in enumerate(items, 1):
        num = glyphs(f"{n}. ", "fangsong")
        head = (label if n == 1 else []) + num
        gs = head + glyphs(name, "fangsong")
        ind = 2 * CHAR + label_w
        L.text_block(gs, indent=ind + _width(num), first_indent=2 * CHAR if n == 1 else ind)


def draw_signature(L: Layout) -> None:
    doc = L.doc
    date = cn_date(doc.date)
    sigs = doc.signatures
    if doc.variant == "minutes":
        return
    if doc.variant == "order":
        L.skip(2)
        i = L.take_line()
        name = glyphs(doc.signed_by_name or (sigs[0].organ if sigs else ""), "kaiti")
        title = glyphs(doc.signed_by_title, "fangsong")
        x_name = X1 - 4 * CHAR - _natural(name)
        L.op(text_line(name, x_name, L.baseline(i)))
        if title:
            x_t = x_name - 2 * CHAR - _natural(title)
            L.op(text_line(title, x_t, L.baseline(i)))
        # the issuer's seal presses on the signature (its name and the date below)
        cx = x_name + _natural(name) / 2
        cy = L.line_bottom(i) + 0.05 * L.pitch
        box = (cx - SEAL_D / 2, cy - SEAL_D / 2, cx + SEAL_D / 2, cy + SEAL_D / 2)
        for s in sigs[:1]:
            L.seal_boxes.append(SealBox(L.page, box, s.organ))
            if s.picture:
                L.op(PictureBox(s.picture, box[0], box[1], SEAL_D, SEAL_D))
        L.skip(1)
        if date:
            j = L.take_line()
            dg = glyphs(date, "fangsong")
            L.op(text_line(dg, X1 - 4 * CHAR - _natural(dg), L.baseline(j)))
        return
    if not sigs:
        if date:
            L.skip(1)
            j = L.take_line()
            dg = glyphs(date, "fangsong")
            L.op(text_line(dg, X1 - 4 * CHAR - _natural(dg), L.baseline(j)))
        return

    if not doc.seal_layout:
        # 不加盖印章: 署名 one blank line under the body, right-indented 2
        L.skip(1)
        for s in sigs:
            i = L.take_line()
            gs = glyphs(s.organ, "fangsong")
            L.op(text_line(gs, X1 - 2 * CHAR - _natural(gs), L.baseline(i)))
        if date:
            j = L.take_line()
            dg = glyphs(date, "fangsong")
            L.op(text_line(dg, X1 - 2 * CHAR - _natural(dg), L.baseline(j)))
        return

    rows = [sigs[k:k + 3] for k in range(0, len(sigs), 3)]
    need = 2 + 5 * (len(rows) - 1) + 2  # blank lines + 署名 rows + date
    if doc.note.strip():  # the 附注 stays with the date
        need += math.ceil((len(doc.note.strip()) + 2) / (CHARS - 2))
    if L.line + need > L.line_limit and L.allow_squeeze and L.line > 0:
        # §7.3.5.1: when the space left cannot hold the seal and the date, tighten the page's line
        # spacing so that they fit, rather than pushing text on to the next page
        more = L.squeeze.get(L.page, 0) + L.line + need - L.line_limit
        i0, y0 = L.anchor
        if (y0 - Y_BOT) / (L.line_limit + L.line + need - L.line_limit - i0) >= MIN_PITCH:
            raise _Squeeze(L.page, more)
    if L.line + need > L.line_limit:
        # the seal may not stand alone on a page: carry the last two text lines along
        if L.break_before is None and L.last_text and L.last_text[0] == L.page and L.last_text[1] >= 2:
            raise _PullBack((L.page, L.last_text[1] - 1))
        L.new_page()
    date_g = glyphs(date, "fangsong") if date else []
    date_w = _natural(date_g) if date_g else 8 * CHAR
    date_right = X1 - 4 * CHAR
    date_mid = date_right - date_w / 2
    name_line = L.line + 2
    for r, row in enumerate(rows):
        if len(rows) == 1 and len(row) == 1:
            centres = [date_mid]
        else:
            slot = BLOCK_W / len(row)
            centres = [X0 + slot * (k + 0.5) for k in range(len(row))]
        for s, cx in zip(row, centres):
            gs = glyphs(s.organ, "fangsong")
            x = cx - _natural(gs) / 2
            L.op(text_line(gs, x, L.baseline(name_line)))
            # seal: 署名 and date a little below its centre; top within one line of the body
            cy = L.line_bottom(name_line) + L.pitch + 0.05 * L.pitch
            box = (cx - SEAL_D / 2, cy - SEAL_D / 2, cx + SEAL_D / 2, cy + SEAL_D / 2)
            L.seal_boxes.append(SealBox(L.page, box, s.organ))
            if s.picture:
                L.op(PictureBox(s.picture, box[0], box[1], box[2] - box[0], box[3] - box[1]))
        if r < len(rows) - 1:
            name_line += 5
    L.line = name_line + 1
    if date_g:
        j = L.take_line()
        L.op(text_line(date_g, date_right - date_w, L.baseline(j)))


def draw_note(L: Layout) -> None:
    note = L.doc.note.strip()
    if not note:
        return
    if not note.startswith("（"):
        note = "（" + note.strip("()（）") + "）"
    L.text_block(glyphs(note, "fangsong"), indent=2 * CHAR, first_indent=2 * CHAR)


def draw_attendees(L: Layout) -> None:
    if L.doc.variant != "minutes" or not L.doc.attendees:
        return
    L.skip(1)
    for label, names in L.doc.attendees:
        lab = glyphs(label.rstrip("：:") + "：", "heiti")
        L.text_block(lab + glyphs(names, "fangsong"), indent=2 * CHAR + _width(lab), first_indent=2 * CHAR)


def imprint_rows(doc: RenderDoc) -> list[tuple[str, list]]:
    """The 版记 rows: ("cc", lines) and ("print", [glyph line])."""
    rows = []
    inner = BLOCK_W - 2 * SMALL
    if doc.cc:
        text = "抄送：" + "，".join(doc.cc)
        if not text.endswith("。"):
            text += "。"
        lab_w = stringWidth("抄送：", fonts.font_name("fangsong"), SMALL)
        gs = glyphs(text, "fangsong", SMALL, 0.0)
        rows.append(("cc", break_lines(gs, inner - lab_w, inner), lab_w))
    if (doc.printer or doc.print_date) and doc.variant != "letter":  # a letter has no 印发 line (§10.1)
        rows.append(("print", None, 0))
    return rows


def draw_imprint(L: Layout) -> None:
    """版记 at the bottom of the last page, last rule on the 版心's bottom edge."""
    doc = L.doc
    rows = imprint_rows(doc)
    if not rows:
        return
    n = sum(len(r[1]) if r[0] == "cc" else 1 for r in rows)
    if L.line > L.line_limit - n:  # no room: the 版记 goes on a page of its own
        L.new_page()
    start = L.line_limit - n
    page_ops = []
    i = start
    rule_ys = [L.line_top(start)]
    widths = [0.35 * mm]
    for kind, lines, lab_w in rows:
        if kind == "cc":
            for k, ln in enumerate(lines):
                x = X0 + SMALL + (0 if k == 0 else lab_w)
                page_ops.append(text_line(ln, x, L.baseline(i, SMALL)))
                i += 1
        else:
            left = glyphs(doc.printer, "fangsong", SMALL, 0.0)
            right = glyphs(cn_date(doc.print_date) + "印发", "fangsong", SMALL, 0.0) if doc.print_date else []
            if left:
                page_ops.append(text_line(left, X0 + SMALL, L.baseline(i, SMALL)))
            if right:
                xr = X1 - SMALL - _natural(right)
                page_ops.append(text_line(right, xr, L.baseline(i, SMALL)))
            i += 1
        rule_ys.append(L.line_top(i))
        widths.append(0.25 * mm)
    widths[-1] = 0.35 * mm
    if doc.variant == "letter":  # a letter's 版记 has no rules (§10.1)
        rule_ys = []
    for y, w in zip(rule_ys, widths):
        page_ops.append(RuleBox(X0, X1, y + (w / 2 if y <= Y_BOT + 0.01 else 0), w))
    for box in page_ops:
        L.op(box, content=False)
    L.line = L.line_limit


def number_pages(L: Layout) -> None:
    """页码 on every page holding something besides the 版记 (a letter's first page excepted)."""
    for p in range(len(L.pages)):
        if p not in L.body_pages:
            continue  # blank or 版记-only page
        if p == 0 and L.first_page_no_number:
            continue
        number = p + 1
        L.numbered.append(number)
        gs = glyphs(f"— {number} —", "songti", SMALL, 0.0)
        w = _natural(gs)
        y = Y_BOT - 7 * mm - ASC * SMALL
        x = X1 - SMALL - w if number % 2 == 1 else X0 + SMALL
        L.pages[p].append(text_line(gs, x, y))


class _PullBack(Exception):
    def __init__(self, at: tuple[int, int]):
        self.at = at


class _Squeeze(Exception):
    def __init__(self, page: int, lines: int):
        self.page, self.lines = page, lines


MIN_PITCH = 0.65 * LINE  # a squeezed page keeps at least 6.6 mm (18.8 pt) per line of 16 pt text; beyond, text moves on


def layout(doc: RenderDoc) -> Layout:
    """Lay `doc` out once; the writers (pdf.py, ofd.py) draw the boxes of the result."""
    fonts.register()
    squeeze: dict[int, int] = {}
    break_before = None
    for _attempt in range(8):
        try:
            L = _layout(doc, break_before, squeeze)
        except _Squeeze as sq:
            squeeze = {**squeeze, sq.page: sq.lines}
            continue
        except _PullBack as pb:
            break_before, squeeze = pb.at, {}
            L = _layout(doc, break_before, squeeze)
        number_pages(L)
        return L
    L = _layout(doc, None, {}, allow_squeeze=False)
    number_pages(L)
    return L


def _layout(doc: RenderDoc, break_before, squeeze, *, allow_squeeze: bool = True) -> Layout:
    L = Layout(doc, squeeze)
    L.break_before = break_before
    L.allow_squeeze = allow_squeeze and break_before is None
    draw_header(L)
    L.reanchor()
    draw_title(L)
    draw_recipients(L)
    draw_body(L)
    draw_attachments(L)
    draw_signature(L)
    draw_note(L)
    draw_attendees(L)
    draw_imprint(L)
    return L
