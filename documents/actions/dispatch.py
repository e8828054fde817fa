"""核发: one Receipt per recipient unit."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.actions.common import _ev, _name, _require_post, default_deadline
from documents.actions.drafting import check_document_routing
from documents.models import Dispatch, DocState, Document, Receipt, RecipientRole, Reply
from office import audit
from office.errors import ActionError
from office.events import send_event


@transaction.atomic
def do_dispatch(*, person, post, doc, ip=None):
    """核发: one Receipt per recipient unit, all in this transaction; recipients hear it live."""
    doc = Document.objects.select_for_update(of=("self",)).select_related("unit").get(id=doc.id)
    acting = _require_post(person, doc.unit, post, include_office=True, what=_("分发公文"))
    if doc.state == DocState.DISPATCHED:
        raise ActionError(_("该公文已于%(t)s分发，不能重复分发。") % {
            "t": timezone.localtime(doc.dispatched_at).strftime("%Y-%m-%d %H:%M")}, status=409)
    if doc.state != DocState.REGISTERED:
        raise ActionError(_("公文须先登记编号才能分发（当前：%(s)s）。") % {"s": doc.get_state_display()}, status=409)
    main = list(doc.main_recipients.all())
    cc = [u for u in doc.cc_recipients.all() if u.id not in {m.id for m in main}]
    dissolved = [u for u in main + cc if u.dissolved_at is not None]
    if dissolved:
        raise ActionError(_("收文单位已撤销：%(u)s") % {"u": "、".join(u.name for u in dissolved[:5])})
    check_document_routing(doc)
    now = timezone.now()
    try:
        with transaction.atomic():
            dispatch = Dispatch.objects.create(document=doc, sent_by=person, sent_post=acting, sent_at=now,
                                               recipient_count=len(main) + len(cc))
    except IntegrityError:
        raise ActionError(_("该公文已分发，不能重复分发。"), status=409) from None
    deadline = doc.response_deadline or default_deadline(doc.urgency, now)
    receipts = [Receipt(dispatch=dispatch, document=doc, unit_id=u.id, role=RecipientRole.MAIN, delivered_at=now,
                        deadline=deadline, updated_at=now) for u in main]
    receipts += [Receipt(dispatch=dispatch, document=doc, unit_id=u.id, role=RecipientRole.CC, delivered_at=now,
                         deadline=None, updated_at=now) for u in cc]
    Receipt.objects.bulk_create(receipts, batch_size=1000)
    doc.state = DocState.DISPATCHED
    doc.dispatched_at = now
    doc.save(update_fields=["state", "dispatched_at"])
    if doc.reply_to_id:
        Reply.objects.create(document_id=doc.reply_to_id, receipt=doc.reply_receipt, unit=doc.unit, reply_document=doc,
                             text=doc.title, created_by=person, created_name=_name(person))
        send_event(_ev("replied", doc.reply_to_id), units=[doc.reply_to.unit_id])
    audit.record("document.dispatch", person=person, post=acting, obj=doc, ip=ip,
                 data={"number": doc.number, "main": len(main), "cc": len(cc)})
    send_event(_ev("arrived", doc.id), units=[u.id for u in main + cc])
    send_event(_ev("dispatched", doc.id), units=[doc.unit_id])
    return dispatch
