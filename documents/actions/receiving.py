"""收文: 签收, 退文, 登记, 拟办, 批办, 承办, 传阅, 办结, 答复."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents import rules
from documents.actions.common import (
    MAX_NOTE,
    MAX_OPINION,
    _ev,
    _name,
    _parse_dt,
    _require_post,
    _text,
    default_deadline,
)
from documents.actions.numbering import take_number
from documents.models import Assignment, Circulation, NumberSequence, Receipt, ReceiptState, Reply
from documents.queries.visibility import check_can_view, circulation_holder, get_receipt, person_unit_ids
from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import Person, Post, Unit


def _receipt_changed(receipt, op):
    send_event(_ev("receipt", receipt.document_id, receipt=receipt.id, op2=op, state=receipt.state),
               units=[receipt.document.unit_id, receipt.unit_id])


def _receipt_action(person, post, receipt_id, roles, what):
    receipt = get_receipt(person, receipt_id, lock=True)
    acting = _require_post(person, receipt.unit, post, roles=roles, what=what)
    return receipt, acting


@transaction.atomic
def do_sign(*, person, post, receipt_id, ip=None):
    """签收: the first secretary signs; a second one is told who already did."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary",), _("签收"))
    if receipt.state != ReceiptState.DELIVERED:
        if receipt.signed_at:
            raise ActionError(_("该文已由%(n)s于%(t)s签收。") % {
                "n": receipt.signed_name, "t": timezone.localtime(receipt.signed_at).strftime("%Y-%m-%d %H:%M")}, status=409)
        raise ActionError(_("该文当前状态为“%(s)s”，不能签收。") % {"s": receipt.get_state_display()}, status=409)
    now = timezone.now()
    receipt.state = ReceiptState.SIGNED
    receipt.signed_at = now
    receipt.signed_by = person
    receipt.signed_name = _name(person)
    receipt.updated_at = now
    receipt.save()
    audit.record("receipt.sign", person=person, post=acting, obj=receipt, ip=ip, data={"document": receipt.document_id})
    _receipt_changed(receipt, "signed")
    return receipt


@transaction.atomic
def do_return(*, person, post, receipt_id, reason, ip=None):
    """退文: back to the sender with the reasons (visible there)."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary",), _("退文"))
    reason = _text(reason, _("退文理由"), MAX_NOTE, required=True)
    if receipt.state not in (ReceiptState.DELIVERED, ReceiptState.SIGNED, ReceiptState.REGISTERED):
        raise ActionError(_("该文当前状态为“%(s)s”，不能退文。") % {"s": receipt.get_state_display()}, status=409)
    receipt.state = ReceiptState.RETURNED
    receipt.returned_at = timezone.now()
    receipt.return_reason = reason
    receipt.updated_at = receipt.returned_at
    receipt.save()
    audit.record("receipt.return", person=person, post=acting, obj=receipt, ip=ip, data={"reason": reason})
    _receipt_changed(receipt, "returned")
    return receipt


@transaction.atomic
def do_register_receipt(*, person, post, receipt_id, ip=None):
    """登记 of an incoming document with the unit's own 收文号."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary",), _("登记收文"))
    if receipt.state == ReceiptState.DELIVERED:
        raise ActionError(_("请先签收再登记。"), status=409)
    if receipt.state != ReceiptState.SIGNED:
        raise ActionError(_("该文当前状态为“%(s)s”，不能登记。") % {"s": receipt.get_state_display()}, status=409)
    year = timezone.localdate().year
    _seq, n = take_number(NumberSequence.RECEIVE, f"unit:{receipt.unit_id}", year)
    receipt.registered_no = f"收〔{year}〕{n}号"
    receipt.registered_at = timezone.now()
    receipt.state = ReceiptState.REGISTERED
    receipt.updated_at = receipt.registered_at
    receipt.save()
    audit.record("receipt.register", person=person, post=acting, obj=receipt, ip=ip, data={"no": receipt.registered_no})
    _receipt_changed(receipt, "registered")
    return receipt


def _require_open(receipt, what):
    if receipt.state in (ReceiptState.DONE, ReceiptState.RETURNED):
        raise ActionError(_("该文已%(s)s，不能再%(w)s。") % {"s": receipt.get_state_display().lstrip("已"), "w": what},
                          status=409)
    if receipt.state in (ReceiptState.DELIVERED, ReceiptState.SIGNED):
        raise ActionError(_("请先签收并登记，再%(w)s。") % {"w": what}, status=409)


@transaction.atomic
def do_propose(*, person, post, receipt_id, text, ip=None):
    """拟办: a proposed handling, by the office."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary", "handler"), _("提出拟办意见"))
    _require_open(receipt, _("拟办"))
    text = _text(text, _("拟办意见"), MAX_OPINION, required=True)
    rules.check_unclassified(**{str(_("拟办意见")): text})
    receipt.proposal, receipt.proposal_by, receipt.proposal_at = text, _name(person), timezone.now()
    receipt.updated_at = receipt.proposal_at
    receipt.save()
    audit.record("receipt.propose", person=person, post=acting, obj=receipt, ip=ip, data={"text": text})
    leaders = Post.objects.active().filter(unit_id=receipt.unit_id, is_leader=True).values_list("person_id", flat=True)
    send_event(_ev("todo", receipt.document_id), people=list(leaders))
    _receipt_changed(receipt, "proposed")
    return receipt


@transaction.atomic
def do_instruct(*, person, post, receipt_id, text, ip=None):
    """批办: a leader's instruction."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("leader",), _("批办"))
    _require_open(receipt, _("批办"))
    text = _text(text, _("批办意见"), MAX_OPINION, required=True)
    rules.check_unclassified(**{str(_("批办意见")): text})
    receipt.instruction, receipt.instruction_by, receipt.instruction_at = text, _name(person), timezone.now()
    receipt.state = ReceiptState.HANDLING
    receipt.updated_at = receipt.instruction_at
    receipt.save()
    audit.record("receipt.instruct", person=person, post=acting, obj=receipt, ip=ip, data={"text": text})
    _receipt_changed(receipt, "instructed")
    return receipt


def check_assignment_target(receipt, unit_id=None, person_id=None):
    family = Unit.objects.filter(Q(id=receipt.unit_id) | Q(parent_id=receipt.unit_id), dissolved_at__isnull=True)
    if bool(unit_id) == bool(person_id):
        raise ActionError(_("承办须指定一个部门或一个人。"))
    if unit_id:
        target = family.filter(id=unit_id).first()
        if target is None:
            raise ActionError(_("承办部门须是本单位或本单位的内设部门。"))
        return target, None
    person = Person.objects.filter(id=person_id, is_active=True).first()
    if person is None or not Post.objects.active().filter(person_id=person.id, unit__in=family).exists():
        raise ActionError(_("承办人须是本单位的在岗人员。"))
    return None, person


@transaction.atomic
def do_assign(*, person, post, receipt_id, unit_id=None, person_id=None, deadline=None, note="", ip=None):
    """承办: to a department or a person, with a deadline (default by 紧急程度, never past the receipt's)."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary", "leader"), _("交办"))
    _require_open(receipt, _("交办"))
    target_unit, target_person = check_assignment_target(receipt, unit_id, person_id)
    note = _text(note, _("交办说明"), MAX_NOTE)
    rules.check_unclassified(**{str(_("交办说明")): note})
    now = timezone.now()
    if deadline:
        if isinstance(deadline, str):
            deadline = _parse_dt(deadline)
        if timezone.is_naive(deadline):
            deadline = timezone.make_aware(deadline)
        if deadline <= now:
            raise ActionError(_("办理期限不能早于现在。"))
    else:
        deadline = default_deadline(receipt.document.urgency, now)
        if receipt.deadline and receipt.deadline > now:
            deadline = min(deadline, receipt.deadline)
    a = Assignment.objects.create(receipt=receipt, unit=target_unit, person=target_person, deadline=deadline, note=note,
                                  assigned_by=person, assigned_at=now)
    receipt.state = ReceiptState.HANDLING
    receipt.updated_at = now
    receipt.save(update_fields=["state", "updated_at"])
    audit.record("receipt.assign", person=person, post=acting, obj=receipt, ip=ip,
                 data={"assignment": a.id, "unit": unit_id, "person": person_id, "deadline": deadline})
    if target_person:
        send_event(_ev("todo", receipt.document_id), people=[target_person.id])
    else:
        send_event(_ev("todo", receipt.document_id), units=[target_unit.id])
    _receipt_changed(receipt, "assigned")
    return a


@transaction.atomic
def do_complete_assignment(*, person, post, assignment_id, result, ip=None):
    a = Assignment.objects.select_for_update(of=("self",)).select_related("receipt__document").filter(id=assignment_id).first()
    if a is None:
        raise ActionError(_("没有找到该承办事项。"), status=404)
    mine = a.person_id == person.id or (a.unit_id and a.unit_id in person_unit_ids(person))
    if not mine:
        check_can_view(person, a.receipt.document)
        raise ActionError(_("这项承办不是交给您的。"), status=403)
    if a.done_at:
        raise ActionError(_("这项承办已经办结。"), status=409)
    a.result = _text(result, _("办理结果"), MAX_OPINION, required=True)
    rules.check_unclassified(**{str(_("办理结果")): a.result})
    a.done_at = timezone.now()
    a.save()
    audit.record("assignment.complete", person=person, post=post, obj=a, ip=ip, data={"result": a.result})
    _receipt_changed(a.receipt, "assignment_done")
    return a


@transaction.atomic
def do_circulate(*, person, post, receipt_id, post_ids, ip=None):
    """传阅 among the unit's leaders, in the given order."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary",), _("送传阅"))
    _require_open(receipt, _("传阅"))
    post_ids = [int(p) for p in post_ids or []]
    if not post_ids:
        raise ActionError(_("请选择传阅的领导。"))
    posts = {p.id: p for p in Post.objects.active().filter(id__in=post_ids, is_leader=True).select_related("person")
             .filter(Q(unit_id=receipt.unit_id) | Q(unit__parent_id=receipt.unit_id))}
    if len(posts) != len(set(post_ids)):
        raise ActionError(_("传阅对象须是本单位的在岗领导。"))
    already = set(receipt.circulations.filter(read_at__isnull=True).values_list("post_id", flat=True))
    start = (receipt.circulations.order_by("-order").values_list("order", flat=True).first() or 0)
    rows = [Circulation(receipt=receipt, person=posts[pid].person, post=posts[pid], order=start + i + 1)
            for i, pid in enumerate(dict.fromkeys(post_ids)) if pid not in already]
    Circulation.objects.bulk_create(rows)
    audit.record("receipt.circulate", person=person, post=acting, obj=receipt, ip=ip, data={"posts": post_ids})
    holder = circulation_holder(receipt)
    if holder is not None:
        send_event(_ev("todo", receipt.document_id), people=[holder.person_id])
    _receipt_changed(receipt, "circulating")
    return rows


@transaction.atomic
def do_mark_read(*, person, circulation_id, note="", ip=None):
    c = Circulation.objects.select_related("receipt__document").filter(id=circulation_id).first()
    if c is None or c.person_id != person.id:
        raise ActionError(_("没有找到该传阅事项。"), status=404)
    receipt = Receipt.objects.select_for_update().get(id=c.receipt_id)
    c = Circulation.objects.select_related("receipt__document", "receipt__unit").get(id=c.id)
    if c.read_at:
        raise ActionError(_("您已阅过此文。"), status=409)
    holder = circulation_holder(receipt)
    if holder is None or holder.id != c.id:
        raise ActionError(_("此文现在在%(n)s处传阅，还没有传到您。") % {"n": _name(holder.person) if holder else "—"},
                          status=409)
    c.note = _text(note, _("阅示意见"), MAX_NOTE)
    rules.check_unclassified(**{str(_("阅示意见")): c.note})
    c.read_at = timezone.now()
    c.save()
    audit.record("circulation.read", person=person, obj=c.receipt, ip=ip, data={"circulation": c.id, "note": c.note})
    nxt = circulation_holder(receipt)
    if nxt is not None:
        send_event(_ev("todo", receipt.document_id), people=[nxt.person_id])
    _receipt_changed(c.receipt, "read")
    return c


@transaction.atomic
def do_finish(*, person, post, receipt_id, note="", ip=None):
    """办结."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary",), _("办结"))
    if receipt.state == ReceiptState.DONE:
        raise ActionError(_("该文已办结。"), status=409)
    if receipt.state in (ReceiptState.DELIVERED, ReceiptState.RETURNED):
        raise ActionError(_("该文当前状态为“%(s)s”，不能办结。") % {"s": receipt.get_state_display()}, status=409)
    if receipt.assignments.filter(done_at__isnull=True).exists():
        raise ActionError(_("还有承办事项没有完成，不能办结。"), status=409)
    receipt.done_note = _text(note, _("办结说明"), MAX_NOTE)
    rules.check_unclassified(**{str(_("办结说明")): receipt.done_note})
    receipt.state = ReceiptState.DONE
    receipt.done_at = timezone.now()
    receipt.done_by = _name(person)
    receipt.updated_at = receipt.done_at
    receipt.save()
    audit.record("receipt.finish", person=person, post=acting, obj=receipt, ip=ip, data={"note": receipt.done_note})
    _receipt_changed(receipt, "done")
    return receipt


@transaction.atomic
def do_reply(*, person, post, receipt_id, text, ip=None):
    """答复 with a text (a formal reply, e.g. a 批复, is a document created with reply_to_receipt)."""
    receipt, acting = _receipt_action(person, post, receipt_id, ("secretary", "handler", "leader"), _("答复"))
    if receipt.state == ReceiptState.RETURNED:
        raise ActionError(_("已退文的公文不能答复。"), status=409)
    if receipt.state == ReceiptState.DELIVERED:
        raise ActionError(_("请先签收再答复。"), status=409)
    text = _text(text, _("答复内容"), MAX_OPINION, required=True)
    rules.check_unclassified(**{str(_("答复内容")): text})
    reply = Reply.objects.create(document=receipt.document, receipt=receipt, unit=receipt.unit, text=text,
                                 created_by=person, created_name=_name(person))
    receipt.updated_at = reply.created_at
    receipt.save(update_fields=["updated_at"])
    audit.record("receipt.reply", person=person, post=acting, obj=receipt, ip=ip, data={"reply": reply.id})
    _receipt_changed(receipt, "replied")
    return reply
