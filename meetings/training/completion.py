"""Completion (完成情况) of a training for its organiser: who attended live, who by replay (回放,
at least TRAINING_REPLAY_PERCENT of the recordings watched), who not at all, per invited unit
and rolled up per county, town and village of the four-level tree. HTML, SVG, CSV and PDF.

Read-only. The people expected are those of the attendance report (meetings/reports.py): the
invited units' members and the people invited in person.
"""
import io
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.html import escape as html_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from office import csvsafe
from office.models import Unit, UnitKind

from meetings import reports
from meetings.training.actions import replay_share, replay_shares

LEVELS = (UnitKind.COUNTY, UnitKind.TOWN, UnitKind.VILLAGE)
MAX_CHART_BARS = 40  # per level: the least complete units are shown, the rest summed up in a note
LIVE, REPLAY, NONE = "live", "replay", "none"


def status_label(status):
    return {LIVE: _("现场参加"), REPLAY: _("观看回放"), NONE: _("未完成")}[status]


def level_label(kind):
    return {UnitKind.COUNTY: _("县(市、区)"), UnitKind.TOWN: _("镇(街道)"), UnitKind.VILLAGE: _("村(社区)")}[kind]


def _ancestor_ids(path):
    return [int(x) for x in path.strip("/").split("/") if x]


def completion_report(meeting, now=None):
    """{"units": [per invited unit, people with "status"], "levels": [{"kind", "label", "rows"}], "totals"}."""
    attendance = reports.attendance_report(meeting, now)
    required = replay_share()
    person_ids = {r["person_id"] for g in attendance["units"] for r in g["people"]}
    shares = replay_shares(meeting, person_ids)
    units = []
    for g in attendance["units"]:
        people = []
        for r in g["people"]:
            share = shares.get(r["person_id"], 0.0)
            status = LIVE if r["attended"] else (REPLAY if share >= required - 1e-9 else NONE)
            people.append({"person_id": r["person_id"], "name": r["name"], "status": status,
                           "live_minutes": r["minutes"], "replay_share": share, "checked_in": r["checked_in"]})
        counts = {k: sum(1 for p in people if p["status"] == k) for k in (LIVE, REPLAY, NONE)}
        units.append({"name": g["name"], "unit_id": g["unit_id"], "path": g.get("path", ""), "people": people,
                      "expected": len(people), "live": counts[LIVE], "replay": counts[REPLAY],
                      "missing": counts[NONE]})
    # Roll the invited units up to their county, town and village (a unit counts in each level it is under).
    ancestor_ids = {a for u in units for a in _ancestor_ids(u["path"])}
    info = {uid: (kind, name) for uid, kind, name in Unit.objects.filter(id__in=ancestor_ids).values_list(
        "id", "kind", "short_name")} if ancestor_ids else {}
    full_names = dict(Unit.objects.filter(id__in=ancestor_ids).values_list("id", "name")) if ancestor_ids else {}
    levels = []
    for kind in LEVELS:
        rows = {}
        for u in units:
            for a in _ancestor_ids(u["path"]):
                if info.get(a, (None,))[0] == kind:
                    row = rows.setdefault(a, {"unit_id": a, "name": info[a][1] or full_names.get(a, ""),
                                              "expected": 0, "live": 0, "replay": 0, "missing": 0})
                    for k in ("expected", "live", "replay", "missing"):
                        row[k] += u[k]
        ordered = sorted(rows.values(), key=lambda r: (_done_share(r), r["name"]))
        levels.append({"kind": kind, "label": level_label(kind), "rows": ordered})
    totals = {k: sum(u[k] for u in units) for k in ("expected", "live", "replay", "missing")}
    return {"meeting": meeting, "units": units, "levels": levels, "totals": totals,
            "required_percent": round(required * 100), "generated_at": timezone.now()}


def _done_share(row):
    return (row["live"] + row["replay"]) / row["expected"] if row["expected"] else 1.0


# --------------------------------------------------------------------------- SVG
COLOURS = {LIVE: "#15803d", REPLAY: "#2563eb", NONE: "#dc2626"}


def level_svg(level, width=720):
    """A horizontal stacked bar per unit of one level: live (green), replay (blue), not completed (red).
    Every text is escaped here (names are typed by people); the result is inlined in the page."""
    rows = level["rows"][:MAX_CHART_BARS]
    hidden = len(level["rows"]) - len(rows)
    row_h, label_w, top = 26, 200, 34
    height = top + row_h * max(1, len(rows)) + (24 if hidden else 8)
    most = max([r["expected"] for r in rows] or [1]) or 1
    scale = (width - label_w - 70) / most
    title = html_escape(_("%(level)s完成情况") % {"level": level["label"]})
    legend = [(LIVE, status_label(LIVE)), (REPLAY, status_label(REPLAY)), (NONE, status_label(NONE))]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" class="completion-chart" data-level="{level["kind"]}" '
             f'font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif" font-size="13">',
             f"<title>{title}</title>"]
    for i, (key, label) in enumerate(legend):
        x = label_w + i * 100
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[key]}"/>'
                     f'<text x="{x + 16}" y="17">{html_escape(label)}</text>')
    for i, r in enumerate(rows):
        y = top + i * row_h
        name = r["name"] if len(r["name"]) <= 14 else r["name"][:13] + "…"
        parts.append(f'<g class="bar" data-unit="{html_escape(r["name"])}" data-live="{r["live"]}" '
                     f'data-replay="{r["replay"]}" data-missing="{r["missing"]}">'
                     f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{html_escape(name)}</text>')
        x = float(label_w)
        for key in (LIVE, REPLAY, NONE):
            w = r["live" if key == LIVE else "replay" if key == REPLAY else "missing"] * scale
            parts.append(f'<rect class="{key}" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="17" '
                         f'fill="{COLOURS[key]}"/>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 16}">{r["live"] + r["replay"]}/{r["expected"]}</text></g>')
    if hidden:
        note = html_escape(_("另有%(n)d个单位未画出（已全部列在表中）。") % {"n": hidden})
        parts.append(f'<text x="8" y="{height - 8}">{note}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above went through html_escape


# --------------------------------------------------------------------------- CSV
def _place(path, info):
    """county, town and village names above (or at) a unit."""
    names = {kind: "" for kind in LEVELS}
    for a in _ancestor_ids(path):
        kind, name = info.get(a, (None, ""))
        if kind in names:
            names[kind] = name
    return [names[k] for k in LEVELS]


def report_csv(report):
    """UTF-8 with BOM; cells that would start a formula (=, +, -, @) are neutralised."""
    ids = {a for u in report["units"] for a in _ancestor_ids(u["path"])}
    info = {uid: (kind, name) for uid, kind, name in Unit.objects.filter(id__in=ids).values_list(
        "id", "kind", "name")} if ids else {}
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csvsafe.writer(buf)
    writer.writerow([level_label(k) for k in LEVELS] + [_("单位"), _("姓名"), _("完成方式"), _("现场分钟"),
                                                        _("回放观看比例")])
    for u in report["units"]:
        place = _place(u["path"], info) if u["unit_id"] else ["", "", ""]
        for p in u["people"]:
            writer.writerow(place + [u["name"], p["name"], status_label(p["status"]), f"{p['live_minutes']:.1f}",
                                     f"{p['replay_share'] * 100:.0f}%"])
    return buf.getvalue()


# --------------------------------------------------------------------------- PDF
def report_pdf(report):
    """A4, with the CJK font the attendance report uses (reportlab's STSong-Light)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    meeting = report["meeting"]
    title_style = ParagraphStyle("t", fontName=font, fontSize=16, leading=22, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    h2 = ParagraphStyle("h", fontName=font, fontSize=12, leading=18, spaceBefore=8)
    title = _("%(title)s 培训完成情况") % {"title": meeting.title}
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=title, author=_("一网通"))
    t = report["totals"]
    story = [Paragraph(escape(title), title_style), Spacer(1, 4 * mm),
             Paragraph(escape(_("应参加 %(expected)d 人：现场参加 %(live)d 人，观看回放 %(replay)d 人，未完成 %(missing)d 人。"
                                "回放观看达到 %(percent)d%% 计为完成。") % {**t, "percent": report["required_percent"]}),
                       body)]
    style = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f4f6")),
    ])
    for level in report["levels"]:
        if not level["rows"]:
            continue
        story.append(Paragraph(escape(_("按%(level)s") % {"level": level["label"]}), h2))
        rows = [[level["label"], _("应参加"), status_label(LIVE), status_label(REPLAY), status_label(NONE)]]
        rows += [[Paragraph(escape(r["name"]), body), r["expected"], r["live"], r["replay"], r["missing"]]
                 for r in level["rows"]]
        for i in range(1, len(rows), 45):
            table = Table([rows[0]] + rows[i:i + 45], colWidths=[70 * mm, 24 * mm, 24 * mm, 24 * mm, 24 * mm])
            table.setStyle(style)
            story.append(table)
    missing = [[u["name"][:24], p["name"][:12]] for u in report["units"] for p in u["people"] if p["status"] == NONE]
    if missing:
        story.append(Paragraph(escape(_("未完成人员")), h2))
        for i in range(0, len(missing), 45):
            table = Table([[_("单位"), _("姓名")]] + missing[i:i + 45], colWidths=[110 * mm, 56 * mm])
            table.setStyle(style)
            story.append(table)
    story += [Spacer(1, 6 * mm), Paragraph(escape(_("生成时间：%(when)s") % {
        "when": timezone.localtime(report["generated_at"]).strftime("%Y-%m-%d %H:%M:%S")}), body)]
    doc.build(story)
    return buf.getvalue()
