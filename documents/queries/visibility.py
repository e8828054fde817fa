"""Who may see what: the read side of the 公文 flow's permissions (visibility, the sender's side,
receipts, where a document is now). Pure queries; the writers in documents.actions use them."""

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.models import Assignment, Circulation, Document, Forward, Receipt, Step, StepState
from office.errors import ActionError
from office.models import Delegation, Post, Unit

# The read side's names, re-exported by documents.queries and documents.actions (both import this
# list, so a query added here reaches both).
__all__ = [
    "_assigned_or_circulated", "_office_of", "acting_for_post_ids", "active_steps", "check_can_view",
    "circulation_holder", "get_document", "get_receipt", "is_sender_side", "person_posts", "person_unit_ids",
    "visibility_q", "visible_documents",
]


def person_posts(person):
    return list(Post.objects.active().filter(person_id=person.id).select_related("unit"))


def person_unit_ids(person, posts=None):
    posts = person_posts(person) if posts is None else posts
    return sorted({p.unit_id for p in posts})


def acting_for_post_ids(person, when=None):
    """Posts whose holders have delegated sign-off to one of `person`'s posts, now."""
    when = when or timezone.now()
    return list(Delegation.objects.filter(to_post__person_id=person.id, to_post__active=True, starts_at__lte=when,
                                          ends_at__gt=when, revoked_at__isnull=True).values_list("from_post_id", flat=True))


def visibility_q(person, unit_ids=None):
    """A Q over Document: written in one of the person's units (or co-issued; a government's
    办公室 handles its government's documents), sent to one of them, forwarded to one of them
    (the original travels with the cover), circulated or assigned to the person, or waiting on
    one of their steps."""
    posts = person_posts(person)
    unit_ids = sorted({p.unit_id for p in posts}) if unit_ids is None else unit_ids
    own = set(unit_ids) | {p.unit.parent_id for p in posts if p.unit.is_office and p.unit.parent_id}
    delegated = acting_for_post_ids(person)
    # Uncorrelated IN-subqueries: the database computes each set once (a hashed subplan) instead
    # of probing every document row, which keeps a search over 100,000 documents fast.
    receipts = Receipt.objects.filter(unit_id__in=unit_ids).values("document_id")
    co = Document.co_issuers.through.objects.filter(unit_id__in=unit_ids).values("document_id")
    circ = Circulation.objects.filter(person_id=person.id).values("receipt__document_id")
    assigned = Assignment.objects.filter(Q(person_id=person.id) | Q(unit_id__in=unit_ids)).values("receipt__document_id")
    steps = Step.objects.filter(Q(post__person_id=person.id) | Q(unit_id__in=unit_ids) | Q(post_id__in=delegated)) \
        .values("document_id")
    fwd1 = Forward.objects.filter(cover__receipts__unit_id__in=unit_ids).values("original_id")
    fwd2 = Forward.objects.filter(cover__forwarded_as__cover__receipts__unit_id__in=unit_ids).values("original_id")
    return (Q(unit_id__in=sorted(own)) | Q(id__in=co) | Q(id__in=receipts) | Q(id__in=circ) | Q(id__in=assigned)
            | Q(id__in=steps) | Q(id__in=fwd1) | Q(id__in=fwd2))


def visible_documents(person):
    return Document.objects.filter(visibility_q(person))


def check_can_view(person, document):
    """Raise ActionError(404) unless `person` may see `document` (nothing is said about why)."""
    if person is None or not getattr(person, "is_authenticated", False):
        raise ActionError(_("没有找到该公文，或您无权查看。"), status=404)
    doc_id = getattr(document, "id", document)
    if not Document.objects.filter(visibility_q(person), id=doc_id).exists():
        raise ActionError(_("没有找到该公文，或您无权查看。"), status=404)


def get_document(person, doc_id):
    try:
        doc_id = int(doc_id)
    except (TypeError, ValueError):
        raise ActionError(_("没有找到该公文，或您无权查看。"), status=404) from None
    doc = Document.objects.filter(visibility_q(person), id=doc_id).select_related("unit", "drafted_by").first()
    if doc is None:
        raise ActionError(_("没有找到该公文，或您无权查看。"), status=404)
    return doc


def is_sender_side(person, document, unit_ids=None):
    """The drafting unit (and co-issuers) see the approval steps and the tracking."""
    unit_ids = set(person_unit_ids(person) if unit_ids is None else unit_ids)
    if document.unit_id in unit_ids:
        return True
    if any(u in unit_ids for u in document.co_issuers.values_list("id", flat=True)):
        return True
    if _office_of(document.unit) and _office_of(document.unit).id in unit_ids:
        return True
    return Step.objects.filter(Q(post__person_id=person.id) | Q(unit_id__in=unit_ids), document_id=document.id).exists()


def _office_of(unit):
    gov = unit.government
    return Unit.objects.filter(parent_id=gov.id, is_office=True, dissolved_at__isnull=True).first()


def get_receipt(person, receipt_id, *, lock=False):
    """A receipt of one of the person's units (or the sender's view of it)."""
    try:
        receipt_id = int(receipt_id)
    except (TypeError, ValueError):
        raise ActionError(_("没有找到该收文。"), status=404) from None
    qs = Receipt.objects.select_related("document", "document__unit", "unit")
    if lock:
        qs = qs.select_for_update(of=("self",))
    receipt = qs.filter(id=receipt_id).first()
    unit_ids = set(person_unit_ids(person))
    if receipt is None:
        raise ActionError(_("没有找到该收文。"), status=404)
    if receipt.unit_id not in unit_ids and not _assigned_or_circulated(person, receipt) \
            and not is_sender_side(person, receipt.document, unit_ids):
        raise ActionError(_("没有找到该收文。"), status=404)
    return receipt


def _assigned_or_circulated(person, receipt):
    return (Circulation.objects.filter(receipt_id=receipt.id, person_id=person.id).exists()
            or Assignment.objects.filter(receipt_id=receipt.id, person_id=person.id).exists())


def active_steps(doc):
    pending = list(doc.steps.filter(round=doc.round, state=StepState.PENDING).select_related("post__person", "unit"))
    if not pending:
        return []
    low = min(s.order for s in pending)
    return [s for s in pending if s.order == low]


def circulation_holder(receipt):
    """Where the document is now in 传阅: the first leader who has not read it (None: all read)."""
    return receipt.circulations.filter(read_at__isnull=True).select_related("person", "post__unit").order_by("order").first()
