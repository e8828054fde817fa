"""Read side of the 公文 flow: lists, search, the detail view's data, tracking and its exports."""
import datetime as dt
import io

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from documents.models import (
    OPEN_RECEIPT_STATES,
    DocState,
    Document,
    Forward,
    Receipt,
    ReceiptState,
    Reply,
)
from documents.queries.reminders import reminder_text
from documents.queries.visibility import *  # noqa: F401,F403 (the read side's permissions: visibility.__all__)
from office import csvsafe
from office.errors import ActionError
from office.models import Unit

# Lazy: the labels are read in the language of each request, not the one of the import.
TRACK_STATES = {"delivered": gettext_lazy("已送达"), "signed": gettext_lazy("已签收"), "returned": gettext_lazy("已退文"),
                "overdue": gettext_lazy("已逾期"),
                "done": gettext_lazy("已办结")}


def _parse_date(value, label):
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ActionError(_("%(l)s格式不正确，应为 YYYY-MM-DD。") % {"l": label}) from None


def apply_filters(qs, *, prefix="", q="", number="", doc_type="", sender=None, date_from=None, date_to=None):
    """Filters over Document fields; `prefix` is "document__" when qs is over receipts."""
    q = (q or "").strip()[:100]
    if q:
        for word in q.split()[:5]:
            qs = qs.filter(Q(**{f"{prefix}title__icontains": word}) | Q(**{f"{prefix}body_text__icontains": word}))
    number = (number or "").strip()[:60]
    if number:
        qs = qs.filter(**{f"{prefix}number__icontains": number})
    if doc_type:
        qs = qs.filter(**{f"{prefix}doc_type": doc_type})
    if sender:
        try:
            qs = qs.filter(**{f"{prefix}unit_id": int(sender)})
        except (TypeError, ValueError):
            raise ActionError(_("发文单位不正确。")) from None
    start, end = _parse_date(date_from, _("开始日期")), _parse_date(date_to, _("结束日期"))
    if start and end and end < start:
        raise ActionError(_("结束日期不能早于开始日期。"))
    field = f"{prefix}created_at" if not prefix else "delivered_at"
    if start:
        qs = qs.filter(**{f"{field}__gte": timezone.make_aware(dt.datetime.combine(start, dt.time.min))})
    if end:
        qs = qs.filter(**{f"{field}__lt": timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))})
    return qs


def inbox(unit_ids, *, state="", **filters):
    qs = Receipt.objects.filter(unit_id__in=unit_ids).select_related("document", "document__unit", "unit")
    qs = apply_filters(qs, prefix="document__", **filters)
    now = timezone.now()
    if state == "overdue":
        qs = qs.filter(state__in=OPEN_RECEIPT_STATES, deadline__lt=now)
    elif state == "open":
        qs = qs.filter(state__in=OPEN_RECEIPT_STATES)
    elif state:
        if state not in ReceiptState.values:
            raise ActionError(_("状态不正确：%(s)s") % {"s": state[:20]})
        qs = qs.filter(state=state)
    return qs.order_by("-delivered_at", "-id")


def outbox(unit_ids, *, state="", **filters):
    qs = Document.objects.filter(unit_id__in=unit_ids).select_related("unit")
    qs = apply_filters(qs, **filters)
    if state:
        if state not in DocState.values:
            raise ActionError(_("状态不正确：%(s)s") % {"s": state[:20]})
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-id")


def search(person, *, state="", **filters):
    qs = visible_documents(person).select_related("unit")
    qs = apply_filters(qs, **filters)
    if state:
        if state not in DocState.values:
            raise ActionError(_("状态不正确：%(s)s") % {"s": state[:20]})
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-id")


def receipt_row(r, now=None):
    d = r.document
    return {
        "receipt_id": r.id, "document_id": d.id, "title": d.title, "number": d.number, "doc_type": d.doc_type,
        "doc_type_label": d.get_doc_type_display(), "urgency": d.urgency, "sender": d.unit.name, "unit": r.unit.name, "role": r.role, "state": r.state,
        "state_label": r.get_state_display(), "display_state": r.display_state(now),
        "delivered_at": r.delivered_at, "deadline": r.deadline, "registered_no": r.registered_no,
    }


def document_row(d):
    return {"id": d.id, "title": d.title, "number": d.number, "doc_type": d.doc_type,
            "doc_type_label": d.get_doc_type_display(), "urgency": d.urgency,
            "unit": d.unit.name, "state": d.state, "state_label": d.get_state_display(), "created_at": d.created_at,
            "dispatched_at": d.dispatched_at}


def _unit(u):
    return {"id": u.id, "name": u.name} if u is not None else None


def _step(s):
    return {"id": s.id, "round": s.round, "order": s.order, "kind": s.kind, "kind_label": s.get_kind_display(),
            "post_id": s.post_id, "assignee": (s.post.person.display_name if s.post_id else (s.unit.name if s.unit_id else "")),
            "unit": s.post.unit.name if s.post_id else (s.unit.name if s.unit_id else ""),
            "state": s.state, "state_label": s.get_state_display(), "decision": s.decision,
            "decision_label": s.get_decision_display() if s.decision else "", "opinion": s.opinion,
            "acted_name": s.acted_name, "acted_for_name": s.acted_for_name, "acted_at": s.acted_at}


def receipt_detail(r, person):
    holder = circulation_holder(r)
    circ = list(r.circulations.select_related("person", "post__unit"))
    return {
        "id": r.id, "unit": _unit(r.unit), "role": r.role, "state": r.state, "state_label": r.get_state_display(),
        "display_state": r.display_state(), "delivered_at": r.delivered_at, "deadline": r.deadline,
        "signed_at": r.signed_at, "signed_name": r.signed_name, "returned_at": r.returned_at,
        "return_reason": r.return_reason, "registered_no": r.registered_no, "registered_at": r.registered_at,
        "proposal": r.proposal, "proposal_by": r.proposal_by, "instruction": r.instruction,
        "instruction_by": r.instruction_by, "done_at": r.done_at, "done_note": r.done_note,
        "assignments": [{"id": a.id, "unit": a.unit.name if a.unit_id else "", "person": a.person.display_name if a.person_id else "",
                         "person_id": a.person_id, "unit_id": a.unit_id, "deadline": a.deadline, "note": a.note,
                         "done_at": a.done_at, "result": a.result}
                        for a in r.assignments.select_related("unit", "person")],
        "circulations": [{"id": c.id, "person": c.person.display_name, "person_id": c.person_id, "order": c.order,
                          "read_at": c.read_at, "note": c.note} for c in circ],
        "where_now": (holder.person.display_name if holder else ""),
        "replies": [{"id": x.id, "text": x.text, "by": x.created_name, "at": x.created_at,
                     "reply_document_id": x.reply_document_id} for x in r.replies.all()],
        "reminders": [{"kind": x.kind, "message": reminder_text(x, r), "at": x.sent_at} for x in r.reminders.all()],
    }


def document_detail(doc, person):
    """Everything the detail page and GET /api/documents/{id} show to this person."""
    unit_ids = person_unit_ids(person)
    sender_side = is_sender_side(person, doc, unit_ids)
    main = list(doc.main_recipients.all()[:500])
    cc = list(doc.cc_recipients.all()[:500])
    data = {
        "id": doc.id, "title": doc.title, "doc_type": doc.doc_type, "doc_type_label": doc.get_doc_type_display(),
        "urgency": doc.urgency,
        "disclosure": doc.disclosure, "state": doc.state, "state_label": doc.get_state_display(),
        "number": doc.number, "unit": _unit(doc.unit), "co_issuers": [_unit(u) for u in doc.co_issuers.all()],
        "drafted_by": doc.drafted_by.display_name, "created_at": doc.created_at, "version": doc.version,
        "main_recipients": [_unit(u) for u in main], "main_count": doc.main_recipients.count(),
        "cc_recipients": [_unit(u) for u in cc], "cc_count": doc.cc_recipients.count(),
        "main_recipients_label": doc.main_recipients_label, "body": doc.body,
        "attachment_notes": doc.attachment_notes, "remark": doc.remark, "signer_names": doc.signer_names,
        "signed_at": doc.signed_at, "issued_by": doc.issued_by.name if doc.issued_by_id else "",
        "issued_on": doc.issued_on, "dispatched_at": doc.dispatched_at, "response_deadline": doc.response_deadline,
        "attachments": [{"id": a.id, "name": a.name, "size": a.size} for a in doc.attachments.all()],
        "reply_to": ({"id": doc.reply_to_id, "title": doc.reply_to.title, "number": doc.reply_to.number}
                     if doc.reply_to_id else None),
        "forward_of": ({"id": doc.forward_of_id, "title": doc.forward_of.title, "number": doc.forward_of.number,
                        "unit": doc.forward_of.unit.name} if doc.forward_of_id else None),
        "forward_view": doc.forward_view,
        "forwarded_by": [{"cover_id": f.cover_id, "unit": f.unit.name, "title": f.cover.title, "number": f.cover.number,
                          "state": f.cover.state, "recipients": f.cover.dispatch.recipient_count
                          if f.cover.state == DocState.DISPATCHED else 0, "view": f.view,
                          "to": f.cover.main_recipients_label or "、".join(
                              u.name for u in f.cover.main_recipients.all()[:10])}
                         for f in Forward.objects.filter(original_id=doc.id).select_related("unit", "cover__dispatch")],
        # a 请示 shows its 批复 (and any other formal answer)
        "answered_by": [{"id": x.reply_document_id, "title": x.reply_document.title, "number": x.reply_document.number,
                         "doc_type": x.reply_document.doc_type, "unit": x.unit.name}
                        for x in Reply.objects.filter(document_id=doc.id, reply_document__isnull=False)
                        .select_related("reply_document", "unit")],
        "sender_side": sender_side,
        "steps": [], "active_step_ids": [], "receipts": [],
    }
    if sender_side:
        data["steps"] = [_step(s) for s in doc.steps.select_related("post__person", "post__unit", "unit")]
        data["active_step_ids"] = [s.id for s in active_steps(doc)]
        data["replies"] = [{"unit": x.unit.name, "text": x.text, "by": x.created_name, "at": x.created_at,
                            "reply_document_id": x.reply_document_id}
                           for x in Reply.objects.filter(document_id=doc.id).select_related("unit")[:500]]
        data["voided_numbers"] = [{"number": v.number, "reason": v.reason, "at": v.voided_at}
                                  for v in doc.voided_numbers.all()]
    mine = Receipt.objects.filter(document_id=doc.id, unit_id__in=unit_ids).select_related("unit", "document")
    extra = Receipt.objects.filter(Q(circulations__person_id=person.id) | Q(assignments__person_id=person.id),
                                   document_id=doc.id).select_related("unit", "document").distinct()
    seen = {}
    for r in list(mine) + list(extra):
        seen.setdefault(r.id, r)
    data["receipts"] = [receipt_detail(r, person) for r in seen.values()]
    return data


# --- tracking -----------------------------------------------------------------------------
def check_tracking(person, doc):
    if not is_sender_side(person, doc):
        raise ActionError(_("没有找到该公文，或您无权查看。"), status=404)


def tracking(doc):
    """Every recipient's state, and the tree of the recipients with their ancestors up to the sender's."""
    now = timezone.now()
    receipts = list(Receipt.objects.filter(document_id=doc.id).select_related("unit")
                    .annotate(reply_count=Count("replies")).order_by("unit__path"))
    summary = {k: 0 for k in TRACK_STATES}
    rows = []
    for r in receipts:
        st = r.display_state(now)
        summary[st] += 1
        rows.append({"receipt_id": r.id, "unit_id": r.unit_id, "unit": r.unit.name, "role": r.role,
                     "state": st, "state_label": str(TRACK_STATES[st]), "signed_at": r.signed_at,
                     "signed_name": r.signed_name, "registered_no": r.registered_no, "deadline": r.deadline,
                     "done_at": r.done_at, "return_reason": r.return_reason, "replies": r.reply_count})
    ids = set()
    for r in receipts:
        ids.update(int(x) for x in r.unit.path.strip("/").split("/") if x)
    state_of = {r.unit_id: r.display_state(now) for r in receipts}
    tree = [{"id": u.id, "parent": u.parent_id, "name": u.short_name or u.name, "kind": u.kind,
             "state": state_of.get(u.id, "")}
            for u in Unit.objects.filter(id__in=ids).only("id", "parent_id", "name", "short_name", "kind", "path")
            .order_by("path")]
    return {"document": {"id": doc.id, "title": doc.title, "number": doc.number, "unit": doc.unit.name,
                         "dispatched_at": doc.dispatched_at},
            "summary": summary, "labels": {k: str(v) for k, v in TRACK_STATES.items()}, "rows": rows, "tree": tree}


def _fmt(value):
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


# In the reader's language (lazy: translated when the export is written).
EXPORT_HEADER = [gettext_lazy("收文单位"), gettext_lazy("主送/抄送"), gettext_lazy("状态"), gettext_lazy("签收人"),
                 gettext_lazy("签收时间"), gettext_lazy("收文号"), gettext_lazy("办理期限"), gettext_lazy("办结时间"),
                 gettext_lazy("退文理由"), gettext_lazy("答复数")]


def _export_rows(data):
    main, cc = _("主送"), _("抄送")
    for r in data["rows"]:
        yield [r["unit"], main if r["role"] == "main" else cc, r["state_label"], r["signed_name"],
               _fmt(r["signed_at"]), r["registered_no"], _fmt(r["deadline"]), _fmt(r["done_at"]), r["return_reason"],
               str(r["replies"])]


def tracking_csv(data):
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel reads UTF-8 with a BOM
    w = csvsafe.writer(buf)  # titles and reasons are typed by people: no formulas
    w.writerow([f"{data['document']['number']} {data['document']['title']}"])
    w.writerow([str(h) for h in EXPORT_HEADER])
    for row in _export_rows(data):
        w.writerow(row)
    return buf.getvalue().encode("utf-8")


def tracking_pdf(data):
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from documents.render import fonts

    font = fonts.font_name("songti")  # an embedded TrueType subset: the text stays extractable
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=landscape(A4), initialFontName=font, initialFontSize=8,
                            leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=_("公文分发跟踪"))
    title = ParagraphStyle("t", fontName=font, bulletFontName=font, fontSize=14, leading=20)
    cell = ParagraphStyle("c", fontName=font, bulletFontName=font, fontSize=8, leading=10)
    d = data["document"]
    summary = pgettext("list separator", "，").join(_("%(state)s %(n)s") % {"state": data["labels"][k], "n": v}
                                                 for k, v in data["summary"].items())
    rows = [[Paragraph(str(h), cell) for h in EXPORT_HEADER]]
    rows += [[Paragraph(str(c).replace("&", "&amp;").replace("<", "&lt;"), cell) for c in r] for r in _export_rows(data)]
    table = Table(rows, repeatRows=1, colWidths=[x * mm for x in (55, 16, 16, 20, 28, 26, 28, 28, 42, 12)])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f4f6")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    heading = _("公文分发跟踪：%(number)s %(title)s") % {"number": d["number"], "title": d["title"]}
    line = _("发文机关：%(unit)s　分发时间：%(when)s　%(summary)s") % {
        "unit": d["unit"], "when": _fmt(d["dispatched_at"]), "summary": summary}
    story = [Paragraph(heading.replace("&", "&amp;").replace("<", "&lt;"), title),
             Paragraph(line.replace("&", "&amp;").replace("<", "&lt;"), cell),
             Spacer(1, 4 * mm), table]
    pdf.build(story)
    return buf.getvalue()


def archive(unit_ids):
    """办结 documents of the units: received and done, or sent and fully done."""
    return Receipt.objects.filter(unit_id__in=unit_ids, state=ReceiptState.DONE) \
        .select_related("document", "document__unit", "unit").order_by("-done_at")

