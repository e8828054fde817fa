"""Reading the 公文 flow: what is due for filing, the 件's components in DA/T 22 order, the DA/T 46
metadata, the suggested 保管期限 and 机构. Nothing here writes; the flow never imports this.
"""
from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.archive import pdfs
from documents.archive.models import (
    ComponentRole,
    Direction,
    Fonds,
    Item,
    ItemState,
    OrgCode,
    Retention,
    RetentionRule,
    UnitSetting,
)
from documents.models import Attachment, DocState, Document, Receipt, ReceiptState, Reply, Step, StepState
from office.models import AuditEntry, Unit, UnitKind

# --------------------------------------------------------------------- 全宗 and 机构


def fonds_for(unit) -> Fonds | None:
    """The 全宗 a unit's records go into: its own setting, else its own 全宗 (by 全宗号), else a
    village's town (代管) or a department's government."""
    u = unit
    for _hop in range(8):
        if u is None:
            return None
        setting = UnitSetting.objects.filter(unit_id=u.id, fonds__isnull=False).select_related("fonds").first()
        if setting is not None:
            return setting.fonds
        own = Fonds.objects.filter(unit_id=u.id).first()
        if own is None and u.fonds_no:
            own = Fonds.objects.filter(code=u.fonds_no).first()
        if own is not None:
            return own
        if u.kind in (UnitKind.VILLAGE, UnitKind.DEPARTMENT):
            u = u.parent
            continue
        return None
    return None


def ensure_fonds(units=None) -> int:
    """Create a 全宗 for every unit that carries a 全宗号 (the highest unit holding a code is its
    立档单位). Returns how many were created."""
    qs = Unit.objects.exclude(fonds_no="").order_by("depth", "id")
    if units is not None:
        qs = qs.filter(id__in=[u.id for u in units])
    made = 0
    known = set(Fonds.objects.values_list("code", flat=True))
    for u in qs:
        if u.fonds_no in known:
            continue
        Fonds.objects.create(code=u.fonds_no, name=u.name, unit=u)
        known.add(u.fonds_no)
        made += 1
    return made


def filer_unit_ids(post) -> set[int]:
    """Units whose records this post's holder files: its unit, and for a government's 办公室 the
    government itself (and the other way round)."""
    unit = post.unit
    ids = {unit.id}
    if unit.is_office and unit.parent_id:
        ids.add(unit.parent_id)
    if unit.kind != UnitKind.DEPARTMENT:
        ids |= set(Unit.objects.filter(parent_id=unit.id, is_office=True).values_list("id", flat=True))
    return ids


def org_for(fonds, unit, *, lead_unit=None) -> tuple[str, str]:
    """机构(问题) of a 件: the department that handled it, else the 办公室. Codes come from the
    全宗's 机构 table (created on first use: 办公室 → BGS, others JG01, JG02 …)."""
    dept = None
    for cand in (lead_unit, unit):
        if cand is not None and cand.kind == UnitKind.DEPARTMENT and cand.parent_id in (fonds.unit_id, unit.id):
            dept = cand
            break
    if dept is None:
        gov = fonds.unit if fonds.unit.kind != UnitKind.DEPARTMENT else fonds.unit
        dept = Unit.objects.filter(parent_id=gov.id, is_office=True).first()
    if dept is None:
        row = OrgCode.objects.filter(fonds=fonds, unit__isnull=True).first()
        if row is None:
            row, _created = OrgCode.objects.get_or_create(fonds=fonds, code="ZH", defaults={"name": _("综合")})
        return row.code, row.name
    row = OrgCode.objects.filter(fonds=fonds, unit=dept).first()
    if row is None:
        code = "BGS" if dept.is_office else f"JG{OrgCode.objects.filter(fonds=fonds).count() + 1:02d}"
        while OrgCode.objects.filter(fonds=fonds, code=code).exists():
            code = code + "A"
        row = OrgCode.objects.create(fonds=fonds, unit=dept, code=code, name=dept.short_name or dept.name)
    return row.code, row.name


# --------------------------------------------------------------------- 保管期限

DEFAULT_RULES = [
    # (doc_type, direction, sender_level, keyword, retention, note) — 国家档案局令第8号, in outline
    ("", "", None, "规划", Retention.PERMANENT, "本机关的规划、计划中的重要者"),
    ("决定", Direction.SENT, None, "", Retention.PERMANENT, "本机关的决定"),
    ("决议", Direction.SENT, None, "", Retention.PERMANENT, ""),
    ("命令", Direction.SENT, None, "", Retention.PERMANENT, ""),
    ("意见", Direction.SENT, None, "", Retention.PERMANENT, ""),
    ("请示", Direction.SENT, None, "", Retention.PERMANENT, "本机关的请示与上级的批复"),
    ("报告", Direction.SENT, None, "", Retention.PERMANENT, "本机关的工作报告"),
    ("批复", Direction.RECEIVED, None, "", Retention.PERMANENT, "上级机关对本机关的批复"),
    ("纪要", Direction.SENT, None, "", Retention.D30, ""),
    ("通知", Direction.SENT, None, "", Retention.D30, "本机关的一般性通知"),
    ("通报", Direction.SENT, None, "", Retention.D30, ""),
    ("函", Direction.SENT, None, "", Retention.D10, ""),
    ("", Direction.RECEIVED, 1, "", Retention.D30, "市级来文需要本机关办理的"),
    ("", Direction.RECEIVED, None, "", Retention.D10, "其他来文"),
    ("", "", None, "", Retention.D10, "其他"),
]


def ensure_default_rules() -> None:
    if not RetentionRule.objects.filter(fonds__isnull=True).exists():
        RetentionRule.objects.bulk_create([
            RetentionRule(fonds=None, order=(i + 1) * 10, doc_type=t, direction=d, sender_level=lv, keyword=k,
                          retention=r, note=n) for i, (t, d, lv, k, r, n) in enumerate(DEFAULT_RULES)])


def rules_for(fonds) -> list[RetentionRule]:
    own = list(RetentionRule.objects.filter(fonds=fonds)) if fonds is not None else []
    if own:
        return own
    ensure_default_rules()
    return list(RetentionRule.objects.filter(fonds__isnull=True))


def suggest_retention(fonds, *, doc_type, direction, sender_level, title) -> tuple[str, RetentionRule | None]:
    for rule in rules_for(fonds):
        if rule.doc_type and rule.doc_type != doc_type:
            continue
        if rule.direction and rule.direction != direction:
            continue
        if rule.sender_level and rule.sender_level != sender_level:
            continue
        if rule.keyword and rule.keyword not in (title or ""):
            continue
        return rule.retention, rule
    return Retention.D10, None


# --------------------------------------------------------------------- what is due

def request_with_reply(unit) -> bool:
    s = UnitSetting.objects.filter(unit_id=unit.id).first()
    return True if s is None else s.request_with_reply


def _reply_waits_for_request(receipt) -> bool:
    """A received 批复 goes into its 请示's 件 (unit setting): it is not due on its own while that
    请示 is unfiled, nor once the 请示's 件 holds it."""
    doc = receipt.document
    if doc.doc_type != "批复" or not doc.reply_to_id or doc.reply_to.unit_id != receipt.unit_id:
        return False
    if not request_with_reply(receipt.unit):
        return False
    item = Item.objects.filter(document_id=doc.reply_to_id, direction=Direction.SENT).first()
    if item is None:
        return True
    return item.components.filter(role=ComponentRole.REPLY, source=f"document:{doc.id}").exists()


def pending(unit_ids, limit=200) -> list[dict]:
    """待归档: sent documents once dispatched, received ones once 办结, not yet filed."""
    filed_sent = Item.objects.filter(direction=Direction.SENT).values("document_id")
    sent = (Document.objects.filter(unit_id__in=unit_ids, state=DocState.DISPATCHED)
            .exclude(id__in=filed_sent).select_related("unit").order_by("-dispatched_at")[:limit])
    rows = []
    for d in sent:
        reason = _("发文已核发（%(t)s）") % {"t": timezone.localtime(d.dispatched_at).strftime("%Y-%m-%d %H:%M")}
        if d.doc_type == "请示" and request_with_reply(d.unit) and not _reply_of(d):
            reason += _("；批复到达后可与批复合为一件")
        rows.append({"kind": "sent", "id": d.id, "title": d.title, "number": d.number, "unit": d.unit.name,
                     "doc_type": d.doc_type, "at": d.dispatched_at, "reason": reason})
    filed = Item.objects.filter(direction=Direction.RECEIVED, unit_id__in=unit_ids).values("receipt_id")
    received = (Receipt.objects.filter(unit_id__in=unit_ids, state=ReceiptState.DONE).exclude(id__in=filed)
                .select_related("document__unit", "document__reply_to", "unit").order_by("-done_at")[:limit])
    for r in received:
        if _reply_waits_for_request(r):
            continue
        reason = _("收文已办结（%(t)s）") % {"t": timezone.localtime(r.done_at or r.updated_at).strftime("%Y-%m-%d %H:%M")}
        rows.append({"kind": "received", "id": r.id, "title": r.document.title, "number": r.document.number,
                     "unit": r.unit.name, "doc_type": r.document.doc_type, "at": r.done_at, "reason": reason,
                     "sender": r.document.unit.name, "registered_no": r.registered_no})
    rows.sort(key=lambda x: x["at"] or timezone.now(), reverse=True)
    return rows


def _reply_of(doc):
    """The 批复 answering a 请示, once it has been dispatched."""
    reply = Reply.objects.filter(document=doc, reply_document__isnull=False,
                                 reply_document__state=DocState.DISPATCHED).select_related("reply_document").first()
    if reply is not None:
        return reply.reply_document
    return Document.objects.filter(reply_to=doc, doc_type="批复", state=DocState.DISPATCHED).first()


# --------------------------------------------------------------------- components

@dataclass
class Part:
    role: str
    name: str
    data: bytes
    signed: bool = False
    source: str = ""
    mime: str = "application/pdf"


@dataclass
class Assembly:
    unit: object
    direction: str
    document: object
    receipt: object | None
    parts: list[Part] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    lead_unit: object | None = None


def _when(t):
    return timezone.localtime(t).strftime("%Y-%m-%d %H:%M") if t else ""


def _document_pdf(person, doc) -> tuple[bytes, bool]:
    """The issued file (sealed, byte for byte) if there is one, else a PDF/A rendering of the text."""
    from documents.files.actions import document_pdf
    from documents.render.pdfa import to_pdfa

    data, sealed = document_pdf(person, doc)
    if not sealed:
        data = to_pdfa(data, title=doc.title, author=doc.unit.name, subject=doc.number or "")
    return data, sealed


def _document_ofd(person, doc, role, name) -> list[Part]:
    """The issued OFD with its SM2 seals (GB/T 33190, GB/T 38540), byte for byte, when the
    document was sealed as OFD too; nothing otherwise (an unsealed OFD is only another rendering
    of the same text)."""
    from documents.archive.ofd import MIME
    from documents.files.actions import document_ofd, ofd_current

    if not ofd_current(doc):
        return []
    data, sealed = document_ofd(person, doc)
    if not sealed:
        return []
    return [Part(role, name, data, signed=True, source=f"document:{doc.id}:ofd", mime=MIME)]


def _attachments(doc, prefix=""):
    parts = []
    for att in Attachment.objects.filter(document=doc).order_by("order", "id"):
        with att.file.open("rb") as fh:
            data = fh.read()
        mime = att.content_type or mimetypes.guess_type(att.name)[0] or "application/octet-stream"
        parts.append(Part(ComponentRole.ATTACHMENT, f"{prefix}{att.name}", data, source=f"attachment:{att.id}",
                          mime=mime))
    return parts


def _steps(doc):
    return list(Step.objects.filter(document=doc, state__in=(StepState.DONE, StepState.RETURNED))
                .order_by("round", "order", "id"))


def _sending_form(doc) -> bytes:
    """发文稿纸: the 签发 record that goes with the 定稿."""
    rows = [(_("标题"), doc.title), (_("发文字号"), doc.number or ""), (_("文种"), doc.doc_type),
            (_("拟稿"), f"{doc.drafted_by.display_name}　{_when(doc.created_at)}")]
    for s in _steps(doc):
        who = s.acted_name + (_("（代%(n)s）") % {"n": s.acted_for_name} if s.acted_for_name else "")
        rows.append((s.get_kind_display(), f"{s.opinion or s.get_decision_display()}　{who}　{_when(s.acted_at)}"))
    rows += [(_("签发人"), "、".join(doc.signer_names or [])),
             (_("成文日期"), doc.signed_at.isoformat() if doc.signed_at else ""),
             (_("登记"), _when(doc.registered_at)), (_("份数"), str(doc.copies or "")),
             (_("核发"), _when(doc.dispatched_at))]
    return pdfs.form_pdf(_("发文稿纸"), rows, author=doc.unit.name)


def _handling_form(receipt) -> bytes:
    """收文处理单 (DA/T 22: first in a received 件)."""
    doc = receipt.document
    rows = [(_("收文号"), receipt.registered_no), (_("来文单位"), doc.unit.name), (_("文号"), doc.number or ""),
            (_("标题"), doc.title), (_("收文时间"), _when(receipt.delivered_at)),
            (_("签收"), f"{receipt.signed_name}　{_when(receipt.signed_at)}"),
            (_("拟办意见"), f"{receipt.proposal}　{receipt.proposal_by}　{_when(receipt.proposal_at)}"),
            (_("批办意见"), f"{receipt.instruction}　{receipt.instruction_by}　{_when(receipt.instruction_at)}")]
    for a in receipt.assignments.select_related("unit", "person").all():
        who = a.unit.name if a.unit_id else (a.person.display_name if a.person_id else "")
        rows.append((_("承办"), f"{who}：{a.result or a.note}　{_when(a.done_at)}"))
    for c in receipt.circulations.select_related("person").all():
        rows.append((_("传阅"), f"{c.person.display_name}　{_when(c.read_at) or _('未阅')}　{c.note}"))
    rows.append((_("办结"), f"{receipt.done_note}　{receipt.done_by}　{_when(receipt.done_at)}"))
    return pdfs.form_pdf(_("收文处理单"), rows, author=receipt.unit.name)


def assemble_sent(person, doc) -> Assembly:
    a = Assembly(unit=doc.unit, direction=Direction.SENT, document=doc, receipt=None)
    original, sealed = _document_pdf(person, doc)
    a.parts.append(Part(ComponentRole.ORIGINAL, _("正本.pdf"), original, signed=sealed, source=f"document:{doc.id}"))
    a.parts += _document_ofd(person, doc, ComponentRole.OFD, _("正本.ofd"))
    from documents.render.adapter import to_render_doc
    from documents.render.pdf import render_pdf

    final = pdfs.merge([_sending_form(doc), render_pdf(to_render_doc(doc)).pdf], title=doc.title)
    a.parts.append(Part(ComponentRole.FINAL, _("定稿及发文稿纸.pdf"), final, source=f"document:{doc.id}:final"))
    a.parts += _attachments(doc)
    if doc.forward_of_id:  # 转发: the forwarded document travels with the cover (one 件)
        fwd, fsealed = _document_pdf(person, doc.forward_of)
        a.parts.append(Part(ComponentRole.FORWARDED, _("被转发文件.pdf"), fwd, signed=fsealed,
                            source=f"document:{doc.forward_of_id}"))
        a.parts += _document_ofd(person, doc.forward_of, ComponentRole.OFD, _("被转发文件.ofd"))
        a.parts += _attachments(doc.forward_of, prefix=_("被转发文件附件-"))
    if doc.doc_type == "请示" and request_with_reply(doc.unit):
        reply = _reply_of(doc)
        if reply is not None:
            data, rsealed = _document_pdf(person, reply)
            a.parts.append(Part(ComponentRole.REPLY, _("批复.pdf"), data, signed=rsealed, source=f"document:{reply.id}"))
            a.parts += _document_ofd(person, reply, ComponentRole.OFD, _("批复.ofd"))
            a.parts += _attachments(reply, prefix=_("批复附件-"))
    a.metadata = metadata_for(a)
    return a


def assemble_received(person, receipt) -> Assembly:
    doc = receipt.document
    a = Assembly(unit=receipt.unit, direction=Direction.RECEIVED, document=doc, receipt=receipt)
    lead = receipt.assignments.filter(unit__isnull=False).select_related("unit").first()
    a.lead_unit = lead.unit if lead else None
    a.parts.append(Part(ComponentRole.FORM, _("收文处理单.pdf"), _handling_form(receipt),
                        source=f"receipt:{receipt.id}"))
    data, sealed = _document_pdf(person, doc)
    a.parts.append(Part(ComponentRole.DOCUMENT, _("来文.pdf"), data, signed=sealed, source=f"document:{doc.id}"))
    a.parts += _document_ofd(person, doc, ComponentRole.OFD, _("来文.ofd"))
    a.parts += _attachments(doc)
    if doc.forward_of_id:
        fwd, fsealed = _document_pdf(person, doc.forward_of)
        a.parts.append(Part(ComponentRole.FORWARDED, _("被转发文件.pdf"), fwd, signed=fsealed,
                            source=f"document:{doc.forward_of_id}"))
        a.parts += _document_ofd(person, doc.forward_of, ComponentRole.OFD, _("被转发文件.ofd"))
        a.parts += _attachments(doc.forward_of, prefix=_("被转发文件附件-"))
    a.metadata = metadata_for(a)
    return a


# --------------------------------------------------------------------- DA/T 46 metadata

def _agent(kind, name, unit="", post=""):
    return {"type": kind, "name": name, "unit": unit, "post": post}


def metadata_for(a: Assembly) -> dict:
    """The four DA/T 46-2009 entities, captured from the flow's records (not typed again)."""
    doc = a.document
    agents: dict[tuple, dict] = {}
    business: list[dict] = []

    def act(action, when, who, unit, result=""):
        if not when:
            return
        business.append({"action": action, "at": timezone.localtime(when).isoformat(), "agent": who,
                         "unit": unit, "result": result})
        if who:
            agents.setdefault(("person", who, unit), _agent("person", who, unit))
        if unit:
            agents.setdefault(("unit", unit), _agent("unit", unit))

    sender = doc.unit.name
    act(_("起草"), doc.created_at, doc.drafted_by.display_name, sender)
    for s in _steps(doc):
        post_unit = s.unit.name if s.unit_id else sender
        act(s.get_kind_display(), s.acted_at, s.acted_name, post_unit,
            (s.opinion or s.get_decision_display()) + (f"（代{s.acted_for_name}）" if s.acted_for_name else ""))
    for e in AuditEntry.objects.filter(action="document.seal", object_type="documents.document",
                                       object_id=str(doc.id)).order_by("id"):
        act(_("用印"), e.at, e.person_name, e.unit_name or sender, e.data.get("sha256", ""))
    if doc.registered_at:
        act(_("登记"), doc.registered_at, "", sender, doc.number or "")
    dispatch = getattr(doc, "dispatch", None) if doc.state == DocState.DISPATCHED else None
    if dispatch is not None:
        act(_("分发"), dispatch.sent_at, dispatch.sent_by.display_name, sender,
            _("%(n)d个单位") % {"n": dispatch.recipient_count})
    r = a.receipt
    if r is not None:
        here = r.unit.name
        act(_("签收"), r.signed_at, r.signed_name, here)
        act(_("登记"), r.registered_at, "", here, r.registered_no)
        act(_("拟办"), r.proposal_at, r.proposal_by, here, r.proposal)
        act(_("批办"), r.instruction_at, r.instruction_by, here, r.instruction)
        for asg in r.assignments.select_related("unit", "person").all():
            who = asg.person.display_name if asg.person_id else ""
            act(_("承办"), asg.done_at or asg.assigned_at, who, asg.unit.name if asg.unit_id else here,
                asg.result or asg.note)
        for c in r.circulations.select_related("person").all():
            act(_("传阅"), c.read_at, c.person.display_name, here, c.note)
        act(_("办结"), r.done_at, r.done_by, here, r.done_note)
    relations = []
    if doc.reply_to_id:
        relations.append({"type": _("答复"), "target": f"{doc.reply_to.number} {doc.reply_to.title}".strip()})
    if doc.forward_of_id:
        relations.append({"type": _("转发"), "target": f"{doc.forward_of.number} {doc.forward_of.title}".strip()})
    for d in Document.objects.filter(Q(reply_to=doc) | Q(forward_of=doc), state=DocState.DISPATCHED):
        relations.append({"type": _("被答复") if d.reply_to_id == doc.id else _("被转发"),
                          "target": f"{d.number} {d.title}".strip()})
    final = doc.versions.filter(is_final=True).order_by("-no").first()
    if final is not None:
        relations.append({"type": _("版本"), "target": _("定稿第%(n)d版") % {"n": final.no}})
    responsible = "、".join([doc.unit.name] + [u.name for u in doc.co_issuers.all().order_by("id")])
    return {
        "file": {"level": _("件"), "title": doc.title, "number": doc.number or "", "responsible": responsible,
                 "date": (doc.signed_at or timezone.localdate(doc.dispatched_at or doc.created_at)).isoformat(),
                 "doc_type": doc.doc_type, "urgency": doc.urgency or "", "classification": _("非涉密"),
                 "format": "PDF/A-2b" + ("、OFD" if any(p.role == ComponentRole.OFD for p in a.parts) else ""),
                 "direction": a.direction,
                 "registered_no": a.receipt.registered_no if a.receipt else ""},
        "agents": list(agents.values()),
        "business": sorted(business, key=lambda b: b["at"]),
        "relations": relations,
    }


def sender_level(doc) -> int | None:
    return doc.unit.government.level if doc.unit_id else None


def is_filed(direction, document_id, unit_id) -> Item | None:
    return Item.objects.filter(direction=direction, document_id=document_id, unit_id=unit_id).first()


ITEM_OPEN = (ItemState.SUBMITTED, ItemState.RETURNED)
