"""待办 and 待阅 of the 公文 flow for a person across all their posts (office.todo provider)."""
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from documents.models import (
    Assignment,
    Circulation,
    DocState,
    Document,
    Receipt,
    ReceiptState,
    Step,
    StepKind,
    StepState,
)
from office import todo
from office.models import Delegation

LIMIT = 100


def _sources(person):
    posts = person.active_posts()
    now = timezone.now()
    delegated = list(Delegation.objects.filter(to_post__in=[p.id for p in posts], starts_at__lte=now, ends_at__gt=now,
                                               revoked_at__isnull=True).values_list("from_post_id", flat=True))
    return posts, delegated


def _querysets(person):
    posts, delegated = _sources(person)
    unit_ids = [p.unit_id for p in posts]
    sec_units = [p.unit_id for p in posts if p.is_secretary]
    # An office secretary also registers and sends for its government.
    sec_units += [p.unit.parent_id for p in posts if p.is_secretary and p.unit.is_office and p.unit.parent_id]
    lead_units = [p.unit_id for p in posts if p.is_leader]
    cs_units = [p.unit_id for p in posts if p.is_leader or p.is_secretary]
    post_ids = [p.id for p in posts] + delegated

    earlier = Step.objects.filter(document_id=OuterRef("document_id"), round=OuterRef("round"),
                                  state=StepState.PENDING, order__lt=OuterRef("order"))
    steps = (Step.objects.filter(Q(post_id__in=post_ids) | Q(unit_id__in=cs_units, post__isnull=True),
                                 state=StepState.PENDING)
             .exclude(Exists(earlier)).select_related("document__unit", "document__drafted_by"))
    returned = Document.objects.filter(drafted_by_id=person.id, state=DocState.RETURNED).select_related("unit")
    outgoing = Document.objects.filter(unit_id__in=sec_units, state__in=(DocState.SIGNED, DocState.REGISTERED)) \
        .select_related("unit", "drafted_by")
    incoming = Receipt.objects.filter(unit_id__in=sec_units, state__in=(ReceiptState.DELIVERED, ReceiptState.SIGNED,
                                                                        ReceiptState.REGISTERED)) \
        .select_related("document__unit", "unit")
    to_instruct = Receipt.objects.filter(unit_id__in=lead_units, state=ReceiptState.REGISTERED).exclude(proposal="") \
        .filter(instruction="").select_related("document__unit", "unit")
    assignments = Assignment.objects.filter(Q(person_id=person.id) | Q(unit_id__in=unit_ids, person__isnull=True),
                                            done_at__isnull=True).select_related("receipt__document__unit", "receipt__unit")
    before = Circulation.objects.filter(receipt_id=OuterRef("receipt_id"), read_at__isnull=True, order__lt=OuterRef("order"))
    to_read = Circulation.objects.filter(person_id=person.id, read_at__isnull=True).exclude(Exists(before)) \
        .select_related("receipt__document__unit", "receipt__unit")
    return steps, returned, outgoing, incoming, to_instruct, assignments, to_read


# Whole sentences with the document's title as a placeholder (translated when the list is built).
STEP_TITLE = {StepKind.REVIEW: gettext_noop("待审核：%(title)s"), StepKind.COUNTERSIGN: gettext_noop("待会签：%(title)s"),
              StepKind.SIGNOFF: gettext_noop("待签发：%(title)s")}
STEP_ACTION = {StepKind.REVIEW: gettext_noop("审核"), StepKind.COUNTERSIGN: gettext_noop("会签"),
               StepKind.SIGNOFF: gettext_noop("签发")}
INCOMING_ACTION = {ReceiptState.DELIVERED: gettext_noop("签收"), ReceiptState.SIGNED: gettext_noop("登记"),
                   ReceiptState.REGISTERED: gettext_noop("拟办")}
INCOMING_TITLE = {ReceiptState.DELIVERED: gettext_noop("待签收：%(title)s"),
                  ReceiptState.SIGNED: gettext_noop("待登记：%(title)s"),
                  ReceiptState.REGISTERED: gettext_noop("待拟办/交办：%(title)s")}


def _doc(d, **row):
    """The common fields of a workbench row about document d."""
    row.setdefault("panel", "todo")
    return {"doc_type": d.get_doc_type_display(), "urgency": d.urgency, "urgency_label": d.get_urgency_display(),
            "subject": d.title, **row}


def items(person):
    steps, returned, outgoing, incoming, to_instruct, assignments, to_read = _querysets(person)
    out = []
    for s in steps[:LIMIT]:
        d = s.document
        out.append(_doc(d, kind=f"documents.{s.kind}", title=_(STEP_TITLE[s.kind]) % {"title": d.title},
                        url=f"/documents/{s.document_id}/", since=s.created_at, unit=d.unit.name,
                        action=_(STEP_ACTION[s.kind]), sender=d.drafted_by.display_name, deadline=None))
    for d in returned[:LIMIT]:
        out.append(_doc(d, kind="documents.returned", title=_("退回修改：%(title)s") % {"title": d.title},
                        url=f"/documents/{d.id}/", since=d.updated_at, unit=d.unit.name, action=_("修改"),
                        sender=d.unit.name, deadline=None))
    for d in outgoing[:LIMIT]:
        signed = d.state == DocState.SIGNED
        title = (_("待登记编号：%(title)s") if signed else _("待分发：%(title)s")) % {"title": d.title}
        out.append(_doc(d, kind="documents.outgoing", title=title, url=f"/documents/{d.id}/",
                        since=d.updated_at, unit=d.unit.name, action=_("编号") if signed else _("分发"),
                        sender=d.drafted_by.display_name, deadline=None))
    for r in incoming[:LIMIT]:
        d = r.document
        out.append(_doc(d, kind="documents.incoming", title=_(INCOMING_TITLE[r.state]) % {"title": d.title},
                        url=f"/documents/{r.document_id}/?receipt={r.id}", since=r.delivered_at, unit=r.unit.name,
                        action=_(INCOMING_ACTION[r.state]), sender=d.unit.name, deadline=r.deadline,
                        number=d.number))
    for r in to_instruct[:LIMIT]:
        d = r.document
        out.append(_doc(d, kind="documents.instruct", title=_("待批办：%(title)s") % {"title": d.title},
                        url=f"/documents/{r.document_id}/?receipt={r.id}", since=r.proposal_at, unit=r.unit.name,
                        action=_("批办"), sender=d.unit.name, deadline=r.deadline, number=d.number))
    for a in assignments[:LIMIT]:
        d = a.receipt.document
        out.append(_doc(d, kind="documents.assignment", title=_("待承办：%(title)s") % {"title": d.title},
                        url=f"/documents/{d.id}/?receipt={a.receipt_id}", since=a.assigned_at,
                        unit=a.receipt.unit.name, action=_("办理"), sender=d.unit.name, deadline=a.deadline,
                        number=d.number))
    for c in to_read[:LIMIT]:
        d = c.receipt.document
        out.append(_doc(d, kind="documents.read", title=_("待阅：%(title)s") % {"title": d.title},
                        url=f"/documents/{d.id}/?receipt={c.receipt_id}", since=c.sent_at, unit=c.receipt.unit.name,
                        action=_("阅知"), sender=d.unit.name, deadline=c.receipt.deadline, number=d.number,
                        panel="read"))
    return out


def count(person):
    return sum(min(qs.count(), LIMIT) for qs in _querysets(person))


DONE_LIMIT = 8
NOTICE_TYPES = ("通知", "公告", "通告", "通报")


def done(person):
    """已办: what the person did lately (decided steps, 签收, finished 承办, read 传阅), newest first."""
    rows = []
    for s in (Step.objects.filter(acted_by_id=person.id).exclude(state=StepState.PENDING)
              .select_related("document__unit").order_by("-acted_at")[:DONE_LIMIT]):
        rows.append(_doc(s.document, kind="documents.done", panel="done", since=s.acted_at,
                         title=s.document.title, action=_(STEP_ACTION[s.kind]), sender=s.document.unit.name,
                         url=f"/documents/{s.document_id}/", unit=s.document.unit.name, deadline=None))
    for r in (Receipt.objects.filter(signed_by_id=person.id).select_related("document__unit")
              .order_by("-signed_at")[:DONE_LIMIT]):
        rows.append(_doc(r.document, kind="documents.done", panel="done", since=r.signed_at,
                         title=r.document.title, action=_("签收"), sender=r.document.unit.name,
                         url=f"/documents/{r.document_id}/?receipt={r.id}", unit=r.document.unit.name, deadline=None))
    for a in (Assignment.objects.filter(person_id=person.id, done_at__isnull=False)
              .select_related("receipt__document__unit").order_by("-done_at")[:DONE_LIMIT]):
        d = a.receipt.document
        rows.append(_doc(d, kind="documents.done", panel="done", since=a.done_at, title=d.title, action=_("办理"),
                         sender=d.unit.name, url=f"/documents/{d.id}/?receipt={a.receipt_id}", unit=d.unit.name,
                         deadline=None))
    for c in (Circulation.objects.filter(person_id=person.id, read_at__isnull=False)
              .select_related("receipt__document__unit").order_by("-read_at")[:DONE_LIMIT]):
        d = c.receipt.document
        rows.append(_doc(d, kind="documents.done", panel="done", since=c.read_at, title=d.title, action=_("阅知"),
                         sender=d.unit.name, url=f"/documents/{d.id}/?receipt={c.receipt_id}", unit=d.unit.name,
                         deadline=None))
    rows.sort(key=lambda r: r["since"] or timezone.now(), reverse=True)
    return rows[:DONE_LIMIT]


def notices(person):
    """通知公告: the latest 通知, 公告, 通告 and 通报 received by the person's units."""
    unit_ids = [p.unit_id for p in person.active_posts()]
    rows = []
    for r in (Receipt.objects.filter(unit_id__in=unit_ids, document__doc_type__in=NOTICE_TYPES)
              .exclude(state=ReceiptState.RETURNED).select_related("document__unit")
              .order_by("-delivered_at")[:DONE_LIMIT]):
        d = r.document
        rows.append(_doc(d, kind="documents.notice", panel="notice", since=r.delivered_at, title=d.title,
                         action=_("查看"), sender=d.unit.name, url=f"/documents/{d.id}/?receipt={r.id}",
                         unit=r.unit.name, deadline=None, number=d.number))
    return rows


todo.register(items, count)
todo.register(done, actionable=False)
todo.register(notices, actionable=False)
