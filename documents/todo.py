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
from office.models import Delegation, Post

LIMIT = 100


def _sources(person):
    posts = list(Post.objects.active().filter(person_id=person.id).select_related("unit"))
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
             .exclude(Exists(earlier)).select_related("document__unit"))
    returned = Document.objects.filter(drafted_by_id=person.id, state=DocState.RETURNED).select_related("unit")
    outgoing = Document.objects.filter(unit_id__in=sec_units, state__in=(DocState.SIGNED, DocState.REGISTERED)) \
        .select_related("unit")
    incoming = Receipt.objects.filter(unit_id__in=sec_units, state__in=(ReceiptState.DELIVERED, ReceiptState.SIGNED,
                                                                        ReceiptState.REGISTERED)) \
        .select_related("document", "unit")
    to_instruct = Receipt.objects.filter(unit_id__in=lead_units, state=ReceiptState.REGISTERED).exclude(proposal="") \
        .filter(instruction="").select_related("document", "unit")
    assignments = Assignment.objects.filter(Q(person_id=person.id) | Q(unit_id__in=unit_ids, person__isnull=True),
                                            done_at__isnull=True).select_related("receipt__document", "receipt__unit")
    before = Circulation.objects.filter(receipt_id=OuterRef("receipt_id"), read_at__isnull=True, order__lt=OuterRef("order"))
    to_read = Circulation.objects.filter(person_id=person.id, read_at__isnull=True).exclude(Exists(before)) \
        .select_related("receipt__document", "receipt__unit")
    return steps, returned, outgoing, incoming, to_instruct, assignments, to_read


# Whole sentences with the document's title as a placeholder (translated when the list is built).
STEP_TITLE = {StepKind.REVIEW: gettext_noop("待审核：%(title)s"), StepKind.COUNTERSIGN: gettext_noop("待会签：%(title)s"),
              StepKind.SIGNOFF: gettext_noop("待签发：%(title)s")}
INCOMING_TITLE = {ReceiptState.DELIVERED: gettext_noop("待签收：%(title)s"),
                  ReceiptState.SIGNED: gettext_noop("待登记：%(title)s"),
                  ReceiptState.REGISTERED: gettext_noop("待拟办/交办：%(title)s")}


def items(person):
    steps, returned, outgoing, incoming, to_instruct, assignments, to_read = _querysets(person)
    out = []
    for s in steps[:LIMIT]:
        out.append({"kind": f"documents.{s.kind}", "title": _(STEP_TITLE[s.kind]) % {"title": s.document.title},
                    "url": f"/documents/{s.document_id}/", "since": s.created_at, "unit": s.document.unit.name})
    for d in returned[:LIMIT]:
        out.append({"kind": "documents.returned", "title": _("退回修改：%(title)s") % {"title": d.title},
                    "url": f"/documents/{d.id}/", "since": d.updated_at, "unit": d.unit.name})
    for d in outgoing[:LIMIT]:
        title = (_("待登记编号：%(title)s") if d.state == DocState.SIGNED else _("待分发：%(title)s")) % {"title": d.title}
        out.append({"kind": "documents.outgoing", "title": title, "url": f"/documents/{d.id}/",
                    "since": d.updated_at, "unit": d.unit.name})
    for r in incoming[:LIMIT]:
        out.append({"kind": "documents.incoming", "title": _(INCOMING_TITLE[r.state]) % {"title": r.document.title},
                    "url": f"/documents/{r.document_id}/?receipt={r.id}", "since": r.delivered_at, "unit": r.unit.name})
    for r in to_instruct[:LIMIT]:
        out.append({"kind": "documents.instruct", "title": _("待批办：%(title)s") % {"title": r.document.title},
                    "url": f"/documents/{r.document_id}/?receipt={r.id}", "since": r.proposal_at, "unit": r.unit.name})
    for a in assignments[:LIMIT]:
        out.append({"kind": "documents.assignment", "title": _("待承办：%(title)s") % {"title": a.receipt.document.title},
                    "url": f"/documents/{a.receipt.document_id}/?receipt={a.receipt_id}", "since": a.assigned_at,
                    "unit": a.receipt.unit.name})
    for c in to_read[:LIMIT]:
        out.append({"kind": "documents.read", "title": _("待阅：%(title)s") % {"title": c.receipt.document.title},
                    "url": f"/documents/{c.receipt.document_id}/?receipt={c.receipt_id}", "since": c.sent_at,
                    "unit": c.receipt.unit.name})
    return out


def count(person):
    return sum(min(qs.count(), LIMIT) for qs in _querysets(person))


todo.register(items, count)
