"""Attendance (出勤) of a meeting or training, per invited unit: who attended, who missed, minutes.

Read-only: builds plain dicts for the HTML page, the CSV, the PDF and the SVG chart.
Minutes present are the union of a person's join→leave intervals (two tabs do not count
twice), an open interval counting up to now (or to the meeting's end), clipped to the
meeting's window: time in the room before the scheduled start does not count (people wait
early; a host may open the room early), time after the scheduled end does count up to the
moment the meeting really ends (trainings often overrun).
"""
import io
from collections import defaultdict
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.html import escape as html_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from office import csvsafe
from office.models import Post

from meetings.actions import departments_of
from meetings.models import Attendance, CheckIn, Invitation, MediaMode, MeetingKind


def _merged_seconds(intervals):
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def counted_interval(row, meeting, now):
    """The part of one attendance interval that counts: from the scheduled start (not earlier)
    to the person's leaving, an open interval to the meeting's end or now."""
    end_of_meeting = meeting.ended_at or now
    start = max(row.joined_at, meeting.starts_at)
    end = min(row.left_at or end_of_meeting, end_of_meeting)
    return start, max(start, end)


def person_summaries(meeting, now=None, person_ids=None):
    """person id → {"minutes", "first_join", "last_leave", "mode", "online"} from the intervals
    (of everyone, or of the people in person_ids: one page of a large roster)."""
    now = now or timezone.now()
    by_person = defaultdict(list)
    rows = Attendance.objects.filter(meeting_id=meeting.id)
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    for row in rows.only("person_id", "joined_at", "left_at", "media_mode"):
        by_person[row.person_id].append(row)
    out = {}
    for person_id, rows in by_person.items():
        intervals = [counted_interval(r, meeting, now) for r in rows]
        video_seconds = sum((e - s).total_seconds() for (s, e), r in zip(intervals, rows)
                            if r.media_mode != MediaMode.AUDIO)
        audio_seconds = sum((e - s).total_seconds() for (s, e), r in zip(intervals, rows)
                            if r.media_mode == MediaMode.AUDIO)
        if audio_seconds and video_seconds:
            mode = _("音视频混合")
        elif audio_seconds:
            mode = _("仅音频")
        else:
            mode = _("视频")
        out[person_id] = {
            "minutes": round(_merged_seconds(intervals) / 60.0, 1),
            "first_join": min(r.joined_at for r in rows),
            "last_leave": None if any(r.left_at is None for r in rows) else max(r.left_at for r in rows),
            "mode": mode,
            "online": any(r.left_at is None for r in rows) and meeting.ended_at is None,
            "intervals": len(rows),
        }
    return out


def attendance_report(meeting, now=None):
    """{"units": [{"name", "unit_id", "people": [...], "invited", "attended", "missed", "minutes"}], "totals"}."""
    summaries = person_summaries(meeting, now)
    checked_in = set(CheckIn.objects.filter(window__meeting_id=meeting.id).values_list("person_id", flat=True))
    invitations = list(Invitation.objects.filter(meeting_id=meeting.id).select_related("unit", "person"))
    unit_invites = [i for i in invitations if i.unit_id]
    person_invites = [i for i in invitations if i.person_id]
    invited_units = [i.unit_id for i in unit_invites]
    # An invited unit's people include those of its departments (内设机构/科室).
    owner = {uid: uid for uid in invited_units} | departments_of(invited_units)
    posts = (Post.objects.active().filter(unit_id__in=list(owner))
             .select_related("person").order_by("-is_leader", "id"))
    members = defaultdict(dict)
    for uid in invited_units:
        members[uid] = {}
    for post in sorted(posts, key=lambda p: (owner[p.unit_id], p.unit_id != owner[p.unit_id])):
        members[owner[post.unit_id]].setdefault(post.person_id, post.person)
    # People who attended for an invited unit but no longer hold a post there still count.
    for row in Attendance.objects.filter(meeting_id=meeting.id, unit_id__in=list(members) or [0]).select_related(
            "person"):
        members[row.unit_id].setdefault(row.person_id, row.person)

    def person_row(person):
        s = summaries.get(person.id)
        return {
            "person_id": person.id,
            "name": person.display_name or person.username,
            "attended": s is not None,  # joined at least once
            "minutes": s["minutes"] if s else 0.0,
            "first_join": s["first_join"] if s else None,
            "last_leave": s["last_leave"] if s else None,
            "mode": s["mode"] if s else "",
            "checked_in": person.id in checked_in,
        }

    def group(name, unit_id, people):
        rows = [person_row(p) for p in people]
        attended = sum(1 for r in rows if r["attended"])
        return {"name": name, "unit_id": unit_id, "people": rows, "invited": len(rows), "attended": attended,
                "missed": len(rows) - attended, "minutes": round(sum(r["minutes"] for r in rows), 1),
                "checked_in": sum(1 for r in rows if r["checked_in"])}

    groups = []
    for inv in sorted(unit_invites, key=lambda i: (i.unit.code or "", i.unit.name)):
        g = group(inv.unit.name, inv.unit_id, list(members[inv.unit_id].values()))
        g["path"] = inv.unit.path
        groups.append(g)
    individuals = [i.person for i in person_invites]
    hosts = [meeting.host] + list(meeting.co_hosts.all())
    seen = {i.person_id for i in person_invites}
    individuals += [h for h in hosts if h.id not in seen]
    groups.append(group(_("个人邀请及主持人"), None, individuals))
    totals = {key: sum(g[key] for g in groups) for key in ("invited", "attended", "missed", "checked_in")}
    return {"meeting": meeting, "units": groups, "totals": totals, "generated_at": timezone.now(),
            "chart": chart_bars(groups)}


MAX_BARS = 25
COMPACT_AFTER = 60  # units: beyond this the PDF lists people in one long table


def chart_bars(groups, max_bars=MAX_BARS):
    """Bars for the chart: one per invited unit, or — for a city-wide training with thousands of
    villages — rolled up to their common ancestors (towns, then counties) so that at most
    `max_bars` bars remain. People invited individually keep their own bar."""
    from office.models import Unit

    units = [g for g in groups if g["unit_id"] and g["invited"]]
    others = [g for g in groups if not g["unit_id"] and g["invited"]]
    bars = [{"name": g["name"], "attended": g["attended"], "missed": g["missed"], "invited": g["invited"],
             "units": 1} for g in units]
    if len(units) > max_bars:
        paths = [[int(x) for x in g["path"].strip("/").split("/") if x] for g in units]
        depth = max(len(p) for p in paths)
        while depth > 1 and len({tuple(p[:depth]) for p in paths}) > max_bars:
            depth -= 1
        rolled = {}
        for g, p in zip(units, paths):
            key = p[:depth][-1]
            bar = rolled.setdefault(key, {"attended": 0, "missed": 0, "invited": 0, "units": 0})
            for k in ("attended", "missed", "invited"):
                bar[k] += g[k]
            bar["units"] += 1
        names = dict(Unit.objects.filter(id__in=list(rolled)).values_list("id", "name"))
        bars = [{"name": _("%(name)s（%(n)d个单位）") % {"name": names.get(k, "?"), "n": b["units"]}, **b}
                for k, b in rolled.items()]
        bars = bars[:max_bars]  # several roots cannot happen in one tree; a guard all the same
    bars += [{"name": g["name"], "attended": g["attended"], "missed": g["missed"], "invited": g["invited"],
              "units": 0} for g in others]
    return bars


def _fmt(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M:%S") if dt else ""


# In the language of the request (lazy: translated when the report is written).
CSV_HEADER = [pgettext_lazy("attendance column", "单位"), gettext_lazy("姓名"), gettext_lazy("是否出席"),
              gettext_lazy("在线分钟"), gettext_lazy("首次入会"), gettext_lazy("最后离开"), gettext_lazy("方式"),
              pgettext_lazy("attendance column", "签到")]


def _presence(r):
    return _("出席") if r["attended"] else _("缺席")


def report_csv(report):
    """UTF-8 with BOM so that spreadsheet programs open the Chinese text correctly."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csvsafe.writer(buf)  # unit and person names are typed by people: no formulas
    writer.writerow([str(h) for h in CSV_HEADER])
    checked_in = _("已签到")
    for g in report["units"]:
        for r in g["people"]:
            writer.writerow([g["name"], r["name"], _presence(r), f"{r['minutes']:.1f}",
                             _fmt(r["first_join"]), _fmt(r["last_leave"]), r["mode"],
                             checked_in if r["checked_in"] else ""])
    return buf.getvalue()


def report_svg(report, width=720):
    """A horizontal bar chart per unit (or per town/county when there are many): attended (green)
    and missed (red) people."""
    groups = report["chart"]
    row_h, label_w, top = 28, 220, 34
    height = top + row_h * max(1, len(groups)) + 20
    most = max([g["invited"] for g in groups] or [1])
    scale = (width - label_w - 60) / most
    # Translated outside the f-strings: xgettext cannot read inside them.
    title, present, absent = html_escape(_("各单位出勤情况")), html_escape(_("出席")), html_escape(_("缺席"))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" class="attendance-chart" '
             f'font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif" font-size="13">',
             f'<title>{title}</title>',
             f'<rect x="{label_w}" y="6" width="12" height="12" fill="#15803d"/>'
             f'<text x="{label_w + 16}" y="17">{present}</text>',
             f'<rect x="{label_w + 70}" y="6" width="12" height="12" fill="#dc2626"/>'
             f'<text x="{label_w + 86}" y="17">{absent}</text>']
    for i, g in enumerate(groups):
        y = top + i * row_h
        a_w = g["attended"] * scale
        m_w = g["missed"] * scale
        name = g["name"] if len(g["name"]) <= 16 else g["name"][:15] + "…"
        parts.append(f'<g class="bar" data-unit="{html_escape(g["name"])}" data-attended="{g["attended"]}" '
                     f'data-missed="{g["missed"]}">'
                     f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{html_escape(name)}</text>'
                     f'<rect class="attended" x="{label_w}" y="{y + 4}" width="{a_w:.1f}" height="18" fill="#15803d"/>'
                     f'<rect class="missed" x="{label_w + a_w:.1f}" y="{y + 4}" width="{m_w:.1f}" height="18" fill="#dc2626"/>'
                     f'<text x="{label_w + a_w + m_w + 6:.1f}" y="{y + 17}">{g["attended"]}/{g["invited"]}</text></g>')
    parts.append("</svg>")
    # every text above went through html_escape (quotes included): the chart is inlined in pages
    return mark_safe("".join(parts))


def report_pdf(report):
    """A4 PDF with reportlab's built-in STSong-Light CID font (no font file needed)."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing
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
    buf = io.BytesIO()
    kind = MeetingKind(meeting.kind).label
    title = _("%(title)s（%(kind)s）出勤报告") % {"title": meeting.title, "kind": kind}
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=title, author=_("一网通"))
    story = [Paragraph(escape(title), title_style), Spacer(1, 4 * mm),
             Paragraph(escape(_("时间：%(start)s 至 %(end)s　主持人：%(host)s") % {
                 "start": _fmt(meeting.starts_at), "end": _fmt(meeting.ends_at),
                 "host": meeting.host.display_name}), body),
             Paragraph(escape(_("应到 %(invited)d 人，实到 %(attended)d 人，缺席 %(missed)d 人，签到 %(checked_in)d 人。")
                              % report["totals"]), body),
             Spacer(1, 4 * mm)]
    groups = report["chart"]
    if groups:
        height = 40 + 22 * len(groups)
        drawing = Drawing(170 * mm, height)
        chart = HorizontalBarChart()
        chart.x, chart.y = 60 * mm, 10
        chart.width, chart.height = 100 * mm, height - 20
        chart.data = [[g["attended"] for g in reversed(groups)], [g["missed"] for g in reversed(groups)]]
        chart.categoryAxis.categoryNames = [g["name"][:14] for g in reversed(groups)]
        chart.categoryAxis.labels.fontName = font
        chart.categoryAxis.labels.fontSize = 8
        chart.valueAxis.valueMin = 0
        most = max(g["invited"] for g in groups)
        chart.valueAxis.valueMax = most
        chart.valueAxis.valueStep = max(1, -(-most // 5))  # whole people
        chart.valueAxis.labels.fontSize = 8
        chart.categoryAxis.style = "stacked"
        chart.bars[0].fillColor = colors.HexColor("#15803d")
        chart.bars[1].fillColor = colors.HexColor("#dc2626")
        drawing.add(chart)
        legend = Legend()
        legend.x, legend.y = 60 * mm, height - 2
        legend.fontName, legend.fontSize = font, 8
        legend.alignment = "right"
        legend.columnMaximum = 1
        legend.colorNamePairs = [(colors.HexColor("#15803d"), _("出席")), (colors.HexColor("#dc2626"), _("缺席"))]
        drawing.add(legend)
        story += [drawing, Spacer(1, 4 * mm)]
    style = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f4f6")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ])

    yes = _("是")

    def cells(r):
        return [_presence(r), f"{r['minutes']:.1f}", _fmt(r["first_join"])[5:16],
                _fmt(r["last_leave"])[5:16], r["mode"], yes if r["checked_in"] else ""]

    shown = [g for g in report["units"] if g["invited"]]
    if len(shown) <= COMPACT_AFTER:
        for g in shown:  # one small table per unit, under its own heading
            story.append(Paragraph(escape(_("%(unit)s：应到 %(invited)d，实到 %(attended)d，缺席 %(missed)d") % {
                "unit": g["name"], "invited": g["invited"], "attended": g["attended"], "missed": g["missed"]}), h2))
            rows = [[_("姓名"), _("出席"), _("在线分钟"), _("首次入会"), _("最后离开"), _("方式"),
                     pgettext("attendance column", "签到")]]
            rows += [[Paragraph(escape(r["name"]), body)] + cells(r) for r in g["people"]]
            table = Table(rows, colWidths=[34 * mm, 13 * mm, 20 * mm, 28 * mm, 28 * mm, 22 * mm, 12 * mm],
                          repeatRows=1)
            table.setStyle(style)
            story.append(table)
    else:
        # City-wide: one long list with the unit as a column, in page-sized tables (fast to lay out).
        header = [pgettext("attendance column", "单位"), _("姓名"), _("出席"), _("分钟"), _("首次入会"),
                  _("最后离开"), _("方式"), pgettext("attendance column", "签到")]
        rows = [[g["name"][:16], r["name"][:10]] + cells(r) for g in shown for r in g["people"]]
        for i in range(0, len(rows), 45):
            table = Table([header] + rows[i:i + 45],
                          colWidths=[44 * mm, 20 * mm, 11 * mm, 12 * mm, 24 * mm, 24 * mm, 19 * mm, 10 * mm])
            table.setStyle(style)
            story.append(table)
    story += [Spacer(1, 6 * mm),
              Paragraph(escape(_("生成时间：%(when)s") % {"when": _fmt(report["generated_at"])}), body)]
    doc.build(story)
    return buf.getvalue()
