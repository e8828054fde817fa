"""人工催办 (the automatic reminders live in documents.reminders)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from documents import rules
from documents.actions.common import _ev, _require_post, _text, MAX_NOTE
from documents.actions.receiving import _receipt_changed
from documents.models import Assignment, Document, OPEN_RECEIPT_STATES, Receipt, Reminder, ReminderKind
from documents.queries.visibility import get_receipt
from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import Post


def reminder_people(receipt, kind):
    """Secretaries and assignees of the recipient unit; for an escalation, its leaders."""
    if kind == ReminderKind.ESCALATE:
        return sorted(set(Post.objects.active().filter(unit_id=receipt.unit_id, is_leader=True)
                          .values_list("person_id", flat=True)))
    people = set(Post.objects.active().filter(unit_id=receipt.unit_id, is_secretary=True).values_list("person_id", flat=True))
    people.update(Assignment.objects.filter(receipt_id=receipt.id, done_at__isnull=True, person__isnull=False)
                  .values_list("person_id", flat=True))
    return sorted(people)


@transaction.atomic
def do_remind(*, person, post, receipt_id, message, ip=None):
    """人工催办 by the sender's secretary, with a message."""
    receipt = get_receipt(person, receipt_id, lock=True)
    acting = _require_post(person, receipt.document.unit, post, include_office=True, what=_("催办"))
    message = _text(message, _("催办内容"), MAX_NOTE, required=True)
    rules.check_unclassified(**{str(_("催办内容")): message})
    if receipt.state not in OPEN_RECEIPT_STATES:
        raise ActionError(_("该文已%(s)s，无需催办。") % {"s": receipt.get_state_display().lstrip("已")}, status=409)
    people = reminder_people(receipt, ReminderKind.MANUAL)
    r = Reminder.objects.create(receipt=receipt, kind=ReminderKind.MANUAL, message=message, people=people, sent_by=person)
    audit.record("receipt.remind", person=person, post=acting, obj=receipt, ip=ip, data={"message": message})
    send_event(_ev("reminder", receipt.document_id, receipt=receipt.id, kind="manual"), people=people)
    _receipt_changed(receipt, "reminded")
    return r


@transaction.atomic
def do_remind_all(*, person, post, doc, message, only_overdue=False, ip=None):
    """人工催办 of every recipient that has not finished (or only the overdue ones), with one message."""
    doc = Document.objects.select_for_update(of=("self",)).select_related("unit").get(id=doc.id)
    acting = _require_post(person, doc.unit, post, include_office=True, what=_("催办"))
    message = _text(message, _("催办内容"), MAX_NOTE, required=True)
    rules.check_unclassified(**{str(_("催办内容")): message})
    receipts = Receipt.objects.filter(document_id=doc.id, state__in=OPEN_RECEIPT_STATES)
    if only_overdue:
        receipts = receipts.filter(deadline__lt=timezone.now())
    receipts = list(receipts.only("id", "unit_id"))
    if not receipts:
        raise ActionError(_("没有需要催办的收文单位。"), status=409)
    secretaries = {}
    for unit_id, person_id in Post.objects.active().filter(unit_id__in={r.unit_id for r in receipts},
                                                           is_secretary=True).values_list("unit_id", "person_id"):
        secretaries.setdefault(unit_id, set()).add(person_id)
    now = timezone.now()
    Reminder.objects.bulk_create([
        Reminder(receipt_id=r.id, kind=ReminderKind.MANUAL, message=message, sent_by=person, sent_at=now,
                 people=sorted(secretaries.get(r.unit_id, ()))) for r in receipts], batch_size=1000)
    audit.record("document.remind_all", person=person, post=acting, obj=doc, ip=ip,
                 data={"message": message, "receipts": len(receipts), "only_overdue": only_overdue})
    people = sorted({p for ids in secretaries.values() for p in ids})
    send_event(_ev("reminder", doc.id, kind="manual"), people=people)
    send_event(_ev("receipt", doc.id, op2="reminded"), units=[doc.unit_id])
    return len(receipts)
