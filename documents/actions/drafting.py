"""起草 and 修改: fields, body, recipients (行文规则), attachments."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from documents import rules
from documents.actions.common import (
    BODY_KINDS,
    MAX_BLOCK,
    MAX_BLOCKS,
    MAX_BODY,
    MAX_RECIPIENT_SPECS,
    MAX_TITLE,
    _ev,
    _family_ids,
    _notify_active_steps,
    _parse_dt,
    _secretary_post,
    _text,
)
from documents.models import (
    Attachment,
    Disclosure,
    DocState,
    DocType,
    Document,
    DocumentVersion,
    Forward,
    Receipt,
    ReceiptState,
    Step,
    StepKind,
    StepState,
    Urgency,
    flatten_body,
)
from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import Unit, UnitKind


def check_body(blocks):
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        raise ActionError(_("正文格式不正确：应为段落列表。"))
    if len(blocks) > MAX_BLOCKS:
        raise ActionError(_("正文段落过多（最多%(n)d段）。") % {"n": MAX_BLOCKS})
    clean, total = [], 0
    for i, block in enumerate(blocks, 1):
        if not isinstance(block, dict) or block.get("kind") not in BODY_KINDS:
            raise ActionError(_("正文第%(i)d段的类型不正确（可用：p、h1–h4、table）。") % {"i": i})
        if block["kind"] == "table":
            rows = block.get("rows")
            if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
                raise ActionError(_("正文第%(i)d段的表格没有行。") % {"i": i})
            rows = [[_text(c, _("表格单元格"), 1000) for c in r] for r in rows[:500]]
            total += sum(len(c) for r in rows for c in r)
            clean.append({"kind": "table", "rows": rows})
        else:
            text = _text(block.get("text"), _("正文第%(i)d段") % {"i": i}, MAX_BLOCK)
            if not text:
                continue
            total += len(text)
            clean.append({"kind": block["kind"], "text": text})
    if total > MAX_BODY:
        raise ActionError(_("正文过长（最多%(n)d字）。") % {"n": MAX_BODY})
    return clean


def check_document_fields(data, *, partial=False):
    """Validate the editable elements; returns the cleaned dict (only keys given when partial)."""
    out = {}
    if not partial or "title" in data:
        out["title"] = _text(data.get("title"), _("标题"), MAX_TITLE, required=True)
    if not partial or "doc_type" in data:
        doc_type = data.get("doc_type")
        if doc_type not in DocType.values:
            raise ActionError(_("文种不正确：%(t)s（应为15种法定文种之一）。") % {"t": str(doc_type)[:20]})
        out["doc_type"] = doc_type
    if "urgency" in data or not partial:
        urgency = data.get("urgency") or ""
        if urgency not in Urgency.values:
            raise ActionError(_("紧急程度只能是特急、加急或不标注。"))
        out["urgency"] = urgency
    if "disclosure" in data or not partial:
        disclosure = data.get("disclosure") or Disclosure.ACTIVE
        if disclosure not in Disclosure.values:
            raise ActionError(_("公开属性只能是主动公开、依申请公开或不予公开。"))
        out["disclosure"] = disclosure
    if "body" in data or not partial:
        out["body"] = check_body(data.get("body"))
    if "remark" in data or not partial:
        out["remark"] = _text(data.get("remark"), _("附注"), 300)
    if "main_recipients_label" in data:
        out["main_recipients_label"] = _text(data.get("main_recipients_label"), _("主送机关表述"), 300)
    if "attachment_notes" in data or not partial:
        notes = data.get("attachment_notes") or []
        if not isinstance(notes, list) or len(notes) > 30:
            raise ActionError(_("附件说明最多30项。"))
        out["attachment_notes"] = [n for n in (_text(x, _("附件名称"), 200) for x in notes) if n]
    if "response_deadline" in data:
        deadline = data.get("response_deadline")
        if deadline is not None:
            if isinstance(deadline, str):
                deadline = _parse_dt(deadline)
            if timezone.is_naive(deadline):
                deadline = timezone.make_aware(deadline)
            if deadline <= timezone.now():
                raise ActionError(_("办理时限不能早于现在。"))
        out["response_deadline"] = deadline
    rules.check_unclassified(
        data.get("classification") or "",
        **{str(_("标题")): out.get("title", ""), str(_("附注")): out.get("remark", ""),
           str(_("附件说明")): out.get("attachment_notes", []),
           str(_("正文")): [b.get("text", "") for b in out.get("body", [])]
           + [c for b in out.get("body", []) if b["kind"] == "table" for r in b["rows"] for c in r]})
    return out


def suggest_title(unit, doc_type, subject):
    """发文机关 + 关于 + 事由 + 的 + 文种."""
    subject = (subject or "").strip() or "……"
    return f"{unit.name}关于{subject}的{doc_type}"


def resolve_recipients(main_spec, cc_spec):
    if len(main_spec or []) + len(cc_spec or []) > MAX_RECIPIENT_SPECS:
        raise ActionError(_("收文单位过多，请改用“某单位下的所有镇（街道）/村（社区）”等范围。"))
    main, label = rules.expand_scopes(main_spec or [])
    cc, _cc_label = rules.expand_scopes(cc_spec or [])
    main_ids = {u.id for u in main}
    cc = [u for u in cc if u.id not in main_ids]
    return main, cc, label


def check_routing_for(doc_unit, doc_type, main, cc, co_issuers=(), title="", body_text="", add_skipped_cc=False):
    """Apply the routing rules (at draft, edit, 送审, 签发, 登记 and 核发); with add_skipped_cc, the
    governments a permitted 越级 skips are added to 抄送 first."""
    org = rules.Org([doc_unit, *main, *cc, *co_issuers])
    if add_skipped_cc:
        listed = {u.id for u in main} | {u.id for u in cc}
        for u in rules.skipped_units(org, doc_unit, main, doc_type):
            if u.id not in listed:
                cc.append(u)
                listed.add(u.id)
    rules.check_routing(sender=doc_unit, doc_type=doc_type, main=main, cc=cc, co_issuers=co_issuers, title=title,
                        body_text=body_text, org=org)
    return cc


def check_document_routing(doc):
    """The routing rules over a saved document's recipients, as they are now (rechecked at every
    stage: a document made legal and then edited, or whose units moved, is checked again)."""
    main, cc = list(doc.main_recipients.all()), list(doc.cc_recipients.all())
    check_routing_for(doc.unit, doc.doc_type, main, cc, list(doc.co_issuers.all()), doc.title, doc.body_text)
    return main, cc


def _snapshot(doc):
    return {
        "title": doc.title, "doc_type": doc.doc_type, "urgency": doc.urgency, "disclosure": doc.disclosure,
        "body": doc.body, "remark": doc.remark, "attachment_notes": doc.attachment_notes,
        "main_recipients": sorted(doc.main_recipients.values_list("id", flat=True)),
        "cc_recipients": sorted(doc.cc_recipients.values_list("id", flat=True)),
        "main_recipients_label": doc.main_recipients_label,
    }


def _save_version(doc, person, reason="", final=False):
    no = (doc.versions.order_by("-no").values_list("no", flat=True).first() or 0) + 1
    DocumentVersion.objects.create(document=doc, no=no, snapshot=_snapshot(doc), is_final=final,
                                   created_by=person, reason=reason[:200])
    doc.version = no


def _check_drafting_post(person, post):
    if post is None or post.person_id != person.id or not post.active:
        raise ActionError(_("您当前没有可用的岗位，不能起草公文。"), status=403)
    if not (post.is_secretary or post.is_handler or post.is_leader):
        raise ActionError(_("您的岗位不能起草公文。"), status=403)


def _co_issuers(ids):
    ids = [int(i) for i in (ids or [])]
    units = list(Unit.objects.filter(id__in=ids, dissolved_at__isnull=True))
    if len(units) != len(set(ids)):
        raise ActionError(_("联合发文机关不存在或已撤销。"))
    return units


def _link_sources(person, post, data):
    """The received document a new document answers (答复) or forwards (转发), by receipt id."""
    reply_receipt = forward_receipt = None
    for key in ("reply_to_receipt", "forward_receipt"):
        rid = data.get(key)
        if not rid:
            continue
        receipt = Receipt.objects.select_related("document", "unit").filter(id=rid).first()
        if receipt is None or receipt.unit_id != post.unit_id and receipt.unit_id not in _family_ids(post.unit):
            raise ActionError(_("没有找到该收文，或它不是本单位的收文。"), status=404)
        if receipt.state == ReceiptState.RETURNED:
            raise ActionError(_("已退文的公文不能答复或转发。"), status=409)
        if key == "reply_to_receipt":
            reply_receipt = receipt
        else:
            forward_receipt = receipt
    return reply_receipt, forward_receipt


@transaction.atomic
def do_create_document(*, person, post, data, ip=None):
    """起草. data: title, doc_type, urgency, disclosure, body, remark, attachment_notes, main, cc,
    co_issuers, response_deadline, classification, add_skipped_cc, reply_to_receipt, forward_receipt,
    forward_view."""
    _check_drafting_post(person, post)
    fields = check_document_fields(data)
    main, cc, label = resolve_recipients(data.get("main"), data.get("cc"))
    co = _co_issuers(data.get("co_issuers"))
    reply_receipt, forward_receipt = _link_sources(person, post, data)
    unit = post.unit
    if reply_receipt is not None:
        rules.check_approval(fields["doc_type"], reply_receipt.document.doc_type)
        if not main:
            main = [reply_receipt.document.unit]
    elif fields["doc_type"] == DocType.APPROVAL:
        rules.check_approval(fields["doc_type"], None)
    view = _text(data.get("forward_view"), _("转报意见"), 5000)
    if forward_receipt is not None:
        org = rules.Org([unit, forward_receipt.document.unit, *main])
        direction = "up" if main and all(org.relation(unit, m) == "up" or
                                         (m.kind != UnitKind.DEPARTMENT and m.id == org.government(unit).parent_id)
                                         for m in main) else "down"
        rules.check_forward_view(forward_receipt.document.doc_type, direction, view)
        rules.check_unclassified(**{str(_("转报意见")): view})
    if main or cc:
        cc = check_routing_for(unit, fields["doc_type"], main, cc, co, fields["title"], flatten_body(fields["body"]),
                               add_skipped_cc=bool(data.get("add_skipped_cc")))
    doc = Document.objects.create(
        unit=unit, drafted_by=person, drafted_post=post, body_text=flatten_body(fields["body"]),
        main_recipients_label=label if not data.get("main_recipients_label") else
        _text(data.get("main_recipients_label"), _("主送机关表述"), 300),
        recipient_spec={"main": [str(x) for x in (data.get("main") or [])][:200],
                        "cc": [str(x) for x in (data.get("cc") or [])][:200]},
        reply_to=reply_receipt.document if reply_receipt else None, reply_receipt=reply_receipt,
        forward_of=forward_receipt.document if forward_receipt else None, forward_receipt=forward_receipt,
        forward_view=view, response_deadline=fields.get("response_deadline"),
        **{k: v for k, v in fields.items() if k not in ("response_deadline", "main_recipients_label")},
    )
    _set_recipients(doc, main, cc)
    if co:
        doc.co_issuers.set(co)
    if forward_receipt is not None:
        Forward.objects.create(original=forward_receipt.document, cover=doc, receipt=forward_receipt, unit=unit, view=view)
    _save_version(doc, person, reason=_("起草"))
    doc.save(update_fields=["version"])
    audit.record("document.create", person=person, post=post, obj=doc, ip=ip,
                 data={"title": doc.title, "doc_type": doc.doc_type, "main": len(main), "cc": len(cc)})
    send_event(_ev("created", doc.id), units=[unit.id])
    return doc


def _set_recipients(doc, main, cc):
    through_main = Document.main_recipients.through
    through_cc = Document.cc_recipients.through
    through_main.objects.filter(document_id=doc.id).delete()
    through_cc.objects.filter(document_id=doc.id).delete()
    through_main.objects.bulk_create([through_main(document_id=doc.id, unit_id=u.id) for u in main], batch_size=2000)
    through_cc.objects.bulk_create([through_cc(document_id=doc.id, unit_id=u.id) for u in cc], batch_size=2000)


def check_can_edit(person, post, doc):
    if doc.state in (DocState.REGISTERED, DocState.DISPATCHED):
        raise ActionError(_("公文已登记编号，不能再修改；如确需修改，请先作废字号。"), status=409)
    if doc.state == DocState.CANCELLED:
        raise ActionError(_("公文已作废。"), status=409)
    if doc.state in (DocState.REVIEW, DocState.COUNTERSIGN, DocState.SIGNOFF):
        raise ActionError(_("公文正在%(s)s，办理完毕或退回后才能修改。") % {"s": doc.get_state_display()}, status=409)
    if doc.drafted_by_id != person.id and _secretary_post(person, doc.unit, post, include_office=True) is None:
        raise ActionError(_("只有起草人或本单位秘书可以修改此公文。"), status=403)


@transaction.atomic
def do_update_document(*, person, post, doc, data, ip=None):
    """修改. After 签发 (定稿) a change sends the document back to its signers."""
    doc = Document.objects.select_for_update().get(id=doc.id)
    check_can_edit(person, post, doc)
    fields = check_document_fields(data, partial=True)
    for k, v in fields.items():
        setattr(doc, k, v)
    if "body" in fields:
        doc.body_text = flatten_body(doc.body)
    if "main" in data or "cc" in data:
        main, cc, label = resolve_recipients(
            data.get("main") if "main" in data else list(doc.main_recipients.values_list("id", flat=True)),
            data.get("cc") if "cc" in data else list(doc.cc_recipients.values_list("id", flat=True)))
        if "main" in data:
            doc.main_recipients_label = label
            doc.recipient_spec = {**doc.recipient_spec, "main": [str(x) for x in data["main"]][:200]}
    else:
        main, cc = list(doc.main_recipients.all()), list(doc.cc_recipients.all())
    if main or cc:
        cc = check_routing_for(doc.unit, doc.doc_type, main, cc, list(doc.co_issuers.all()), doc.title, doc.body_text,
                               add_skipped_cc=bool(data.get("add_skipped_cc")))
    _set_recipients(doc, main, cc)
    was_signed = doc.state == DocState.SIGNED
    doc.updated_at = timezone.now()
    _save_version(doc, person, reason=_("签发后修改，退回签发人") if was_signed else _("修改"))
    if was_signed:
        # A change to the 定稿 goes back to the signers (复核).
        signers = list(doc.steps.filter(round=doc.round, kind=StepKind.SIGNOFF, state=StepState.DONE))
        doc.round += 1
        for s in signers:
            Step.objects.create(document=doc, round=doc.round, order=1, kind=StepKind.SIGNOFF, post_id=s.post_id)
        doc.state = DocState.SIGNOFF
        doc.signer_names = []
        doc.signed_at = None
        _notify_active_steps(doc)
    doc.save()
    audit.record("document.update", person=person, post=post, obj=doc, ip=ip,
                 data={"fields": sorted(fields), "back_to_signer": was_signed})
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return doc


def check_attachment(name, size):
    from django.conf import settings

    name = _text(name, _("附件名称"), 200, required=True)
    rules.check_unclassified(**{str(_("附件名称")): name})
    if size > settings.YW_MAX_UPLOAD_BYTES:
        raise ActionError(_("附件过大（最大%(n)d MB）。") % {"n": settings.YW_MAX_UPLOAD_BYTES // (1024 * 1024)})
    if size == 0:
        raise ActionError(_("附件是空文件。"))
    return name


def _check_file_unclassified(upload, name):
    """The file's own 密级 place and properties (documents.classified, when installed)."""
    import importlib

    try:
        classified = importlib.import_module("documents.classified")
    except ModuleNotFoundError:
        return
    classified.check_not_classified(upload, name)  # read in place, not copied into memory


@transaction.atomic
def do_add_attachment(*, person, post, doc, upload, ip=None):
    doc = Document.objects.select_for_update().get(id=doc.id)
    check_can_edit(person, post, doc)
    name = check_attachment(upload.name, upload.size)
    _check_file_unclassified(upload, name)
    order = doc.attachments.count() + 1
    att = Attachment(document=doc, name=name, size=upload.size, content_type=(upload.content_type or "")[:100],
                     order=order, uploaded_by=person)
    att.file.save(f"{order}-{name}"[-150:], upload, save=False)
    att.save()
    if name not in doc.attachment_notes:
        doc.attachment_notes = [*doc.attachment_notes, name.rsplit(".", 1)[0]]
        doc.save(update_fields=["attachment_notes"])
    audit.record("document.attach", person=person, post=post, obj=doc, ip=ip, data={"name": name, "size": upload.size})
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return att
