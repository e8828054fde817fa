"""登记: the 发文字号 or, for a 命令, the 令号 (gapless, concurrency-safe sequences) and its voiding."""

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from documents import rules
from documents.actions.common import _ev, _require_post, _text
from documents.actions.drafting import check_document_routing
from documents.models import DocState, DocType, Document, NumberSequence, VoidedNumber
from documents.queries.visibility import _office_of
from office import audit
from office.errors import ActionError
from office.events import send_event


def default_prefix(doc):
    if doc.doc_type == DocType.ORDER:
        return ""  # a 命令 is numbered 第N号 in its organ's 令号 sequence
    base = doc.unit.doc_prefix or doc.unit.short_name or doc.unit.name[:8]
    return base + ("函" if doc.doc_type == DocType.LETTER else "发")


def order_sequence(doc):
    """(kind, prefix, year) of the 令号 sequence of `doc`'s issuing organ: one per organ, no year."""
    return NumberSequence.ORDER, f"unit:{doc.unit_id}", 0


def sequence_of(doc):
    """(kind, prefix, year) of the sequence `doc`'s registered number was taken from."""
    if doc.doc_type == DocType.ORDER:
        return order_sequence(doc)
    return NumberSequence.SEND, doc.number_prefix, doc.number_year


def format_order_number(n):
    return f"第{n}号"


def take_number(kind, prefix, year):
    """The next number of (kind, prefix, year): no gap, no duplicate.

    One UPDATE … RETURNING increments the row and keeps it locked until the surrounding
    transaction ends, so concurrent registrations queue on that row and the number is
    only ever used by a committed registration (a rolled-back one gives it back).
    """
    q = connection.ops.quote_name
    sql = (f"UPDATE {q(NumberSequence._meta.db_table)} SET {q('last')} = {q('last')} + 1 "
           f"WHERE {q('kind')} = %s AND {q('prefix')} = %s AND {q('year')} = %s RETURNING {q('last')}")
    with connection.cursor() as cur:
        cur.execute(sql, [kind, prefix, year])
        found = cur.fetchone()
        if found is None:
            NumberSequence.objects.bulk_create([NumberSequence(kind=kind, prefix=prefix, year=year)],
                                               ignore_conflicts=True)
            cur.execute(sql, [kind, prefix, year])
            found = cur.fetchone()
    return None, found[0]


def format_number(prefix, year, n):
    return f"{prefix}〔{year}〕{n}号"


@transaction.atomic
def do_register(*, person, post, doc, prefix=None, copies=0, ip=None):
    """登记: fix the 发文字号 (机关代字〔年〕序号号), the distribution and the copy count."""
    doc = Document.objects.select_for_update(of=("self",)).select_related("unit").get(id=doc.id)
    acting = _require_post(person, doc.unit, post, include_office=True, what=_("登记发文"))
    if doc.state in (DocState.REGISTERED, DocState.DISPATCHED):
        raise ActionError(_("该公文已登记，字号为%(n)s。") % {"n": doc.number}, status=409)
    if doc.state != DocState.SIGNED:
        raise ActionError(_("公文须经签发定稿后才能登记（当前：%(s)s）。") % {"s": doc.get_state_display()}, status=409)
    rules.check_signers(doc.doc_type, doc.signer_names)
    if not doc.main_recipients.exists():
        raise ActionError(_("请先选择主送机关。"))
    main, cc = check_document_routing(doc)
    order = doc.doc_type == DocType.ORDER  # a 命令 carries its organ's 令号 (第N号), not a 发文字号
    if not order:
        prefix = _text(prefix, _("机关代字"), 30) or default_prefix(doc)
        if doc.unit.doc_prefix and not prefix.startswith(doc.unit.doc_prefix):
            raise ActionError(_("机关代字须以本机关代字“%(p)s”开头。") % {"p": doc.unit.doc_prefix})
        if any(ch in prefix for ch in "〔〕[]()（）0123456789"):
            raise ActionError(_("机关代字中不能有括号或数字。"))
    try:
        copies = int(copies or 0)
    except (TypeError, ValueError):
        raise ActionError(_("份数须是数字。")) from None
    if copies < 0 or copies > 100000:
        raise ActionError(_("份数不正确。"))
    year = timezone.localdate().year
    office = _office_of(doc.unit)
    # Everything above only reads; the number is taken last, so its row stays locked briefly.
    if order:
        kind, prefix, seq_year = order_sequence(doc)
        _seq, n = take_number(kind, prefix, seq_year)
        doc.number = format_order_number(n)
        doc.number_prefix, doc.number_year, doc.number_seq = f"令:{doc.unit_id}", 0, n
    else:
        _seq, n = take_number(NumberSequence.SEND, prefix, year)
        doc.number = format_number(prefix, year, n)
        doc.number_prefix, doc.number_year, doc.number_seq = prefix, year, n
    doc.copies = copies or (len(main) + len(cc))
    doc.registered_at = timezone.now()
    doc.issued_by = office or doc.unit
    doc.issued_on = timezone.localdate()
    doc.state = DocState.REGISTERED
    doc.save(update_fields=["number", "number_prefix", "number_year", "number_seq", "copies", "registered_at",
                            "issued_by", "issued_on", "state"])
    audit.record("document.register", person=person, post=acting, obj=doc, ip=ip,
                 data={"number": doc.number, "copies": doc.copies})
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return doc


@transaction.atomic
def do_void_number(*, person, post, doc, reason, ip=None):
    """作废字号: the number is recorded as voided with its reason and never reused."""
    doc = Document.objects.select_for_update(of=("self",)).select_related("unit").get(id=doc.id)
    acting = _require_post(person, doc.unit, post, include_office=True, what=_("作废字号"))
    reason = _text(reason, _("作废原因"), 300, required=True)
    if doc.state == DocState.DISPATCHED:
        raise ActionError(_("公文已分发，字号不能作废。"), status=409)
    if doc.state != DocState.REGISTERED or doc.number_seq is None:
        raise ActionError(_("该公文还没有字号。"), status=409)
    kind, prefix, year = sequence_of(doc)
    seq = NumberSequence.objects.get(kind=kind, prefix=prefix, year=year)
    VoidedNumber.objects.create(sequence=seq, seq=doc.number_seq, number=doc.number, document=doc, reason=reason,
                                voided_by=person)
    old = doc.number
    doc.number, doc.number_prefix, doc.number_year, doc.number_seq = "", "", None, None
    doc.registered_at = None
    doc.state = DocState.SIGNED
    doc.save()
    audit.record("document.void_number", person=person, post=acting, obj=doc, ip=ip, data={"number": old, "reason": reason})
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return doc
