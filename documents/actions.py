"""The only writers of documents: check_* validates input and permission, do_* changes state in
one transaction, writes the audit log and sends events after commit.
"""
import datetime as dt

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents import rules
from documents.models import (
    OPEN_RECEIPT_STATES,
    Assignment,
    Attachment,
    Circulation,
    Decision,
    Disclosure,
    Dispatch,
    DocState,
    DocType,
    Document,
    DocumentVersion,
    Forward,
    NumberSequence,
    Receipt,
    ReceiptState,
    RecipientRole,
    Reminder,
    ReminderKind,
    Reply,
    Step,
    StepKind,
    StepState,
    Urgency,
    VoidedNumber,
    flatten_body,
)
from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import Delegation, Person, Post, Unit, UnitKind

MAX_TITLE = 200
MAX_BLOCK = 20000
MAX_BLOCKS = 500
MAX_BODY = 200000
MAX_NOTE = 500
MAX_OPINION = 2000
MAX_RECIPIENT_SPECS = 5000
BODY_KINDS = ("p", "h1", "h2", "h3", "h4", "table")
# 办理时限 by 紧急程度 when the sender gives none.
DEFAULT_DEADLINES = {Urgency.EXTRA_URGENT: dt.timedelta(days=1), Urgency.URGENT: dt.timedelta(days=3),
                     Urgency.NONE: dt.timedelta(days=7)}


def default_deadline(urgency, start=None):
    return (start or timezone.now()) + DEFAULT_DEADLINES.get(urgency or "", DEFAULT_DEADLINES[Urgency.NONE])


def _name(person):
    return person.display_name or person.username


def _ev(op, document_id, **extra):
    return {"type": "documents", "op": op, "document": document_id, **extra}


# --- who may see what ---------------------------------------------------------------------
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


def _secretary_post(person, unit, prefer=None, roles=("secretary",), include_office=False):
    """An active post of `person` in `unit` with one of `roles` (or the unit's 办公室 when asked)."""
    unit_ids = {unit.id}
    if include_office:
        office = _office_of(unit)
        if office is not None:
            unit_ids.add(office.id)
        if unit.kind == UnitKind.DEPARTMENT and unit.is_office and unit.parent_id:
            unit_ids.add(unit.parent_id)
    posts = [p for p in person_posts(person) if p.unit_id in unit_ids and any(p.has_role(r) for r in roles)]
    if not posts:
        return None
    if prefer is not None:
        for p in posts:
            if p.id == prefer.id:
                return p
    return posts[0]


def _roles_phrase(roles):
    """Who may act, as one translatable phrase per combination of roles (not glued with “或”)."""
    key = frozenset(roles)
    phrases = {
        frozenset({"secretary"}): _("秘书/文书"),
        frozenset({"leader"}): _("领导"),
        frozenset({"handler"}): _("承办人"),
        frozenset({"secretary", "handler"}): _("秘书/文书或承办人"),
        frozenset({"secretary", "leader"}): _("秘书/文书或领导"),
        frozenset({"leader", "handler"}): _("领导或承办人"),
        frozenset({"secretary", "handler", "leader"}): _("秘书/文书、承办人或领导"),
    }
    return phrases[key]


def _require_post(person, unit, prefer=None, roles=("secretary",), include_office=False, what=""):
    post = _secretary_post(person, unit, prefer, roles, include_office)
    if post is None:
        raise ActionError(_("只有%(unit)s的%(roles)s可以%(what)s。") % {
            "unit": unit.name, "roles": _roles_phrase(roles), "what": what}, status=403)
    return post


# --- drafting -----------------------------------------------------------------------------
def _text(value, label, limit, required=False):
    value = "" if value is None else str(value)
    value = value.strip()
    if required and not value:
        raise ActionError(_("%(label)s不能为空。") % {"label": label})
    if len(value) > limit:
        raise ActionError(_("%(label)s不能超过%(n)d个字（现有%(m)d个）。") % {"label": label, "n": limit, "m": len(value)})
    return value


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


def _parse_dt(value):
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ActionError(_("日期时间格式不正确：%(v)s") % {"v": str(value)[:40]}) from None
    return parsed


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
    """Apply the routing rules; with add_skipped_cc, skipped governments are added to 抄送 first."""
    org = rules.Org([doc_unit, *main, *cc, *co_issuers])
    if add_skipped_cc:
        listed = {u.id for u in main} | {u.id for u in cc}
        for u in rules.skipped_units(org, doc_unit, main):
            if u.id not in listed:
                cc.append(u)
                listed.add(u.id)
    rules.check_routing(sender=doc_unit, doc_type=doc_type, main=main, cc=cc, co_issuers=co_issuers, title=title,
                        body_text=body_text, org=org)
    return cc


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


def _family_ids(unit):
    """A government and its own departments (an office secretary acts for its government)."""
    gov = unit.government
    return set(Unit.objects.filter(Q(id=gov.id) | Q(parent_id=gov.id, kind=UnitKind.DEPARTMENT)).values_list("id", flat=True))


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


# --- review, 会签, 签发 ----------------------------------------------------------------------
def _leader_posts_of(unit):
    gov = unit.government
    return Post.objects.active().filter(Q(unit_id=gov.id) | Q(unit__parent_id=gov.id), is_leader=True)


def check_submit(person, post, doc, *, reviewers, countersign, signers):
    if doc.state not in (DocState.DRAFT, DocState.RETURNED):
        raise ActionError(_("公文当前状态为“%(s)s”，不能送审。") % {"s": doc.get_state_display()}, status=409)
    if doc.drafted_by_id != person.id and _secretary_post(person, doc.unit, post, include_office=True) is None:
        raise ActionError(_("只有起草人或本单位秘书可以送审。"), status=403)
    if not doc.main_recipients.exists():
        raise ActionError(_("请先选择主送机关。"))
    main, cc = list(doc.main_recipients.all()), list(doc.cc_recipients.all())
    co = list(doc.co_issuers.all())
    check_routing_for(doc.unit, doc.doc_type, main, cc, co, doc.title, doc.body_text)
    if not doc.body:
        raise ActionError(_("正文不能为空。"))
    if not signers:
        raise ActionError(_("请选择签发人。"))
    signer_posts = list(Post.objects.active().filter(id__in=signers).select_related("unit", "person"))
    if len(signer_posts) != len(set(signers)):
        raise ActionError(_("签发人不存在或已离岗。"))
    issuers = [doc.unit.government, *[u.government for u in co]]
    for p in signer_posts:
        if not p.is_leader:
            raise ActionError(_("%(n)s不是领导岗位，不能签发。") % {"n": _name(p.person)})
        if p.unit.government.id not in {u.id for u in issuers}:
            raise ActionError(_("%(n)s不是发文机关的领导，不能签发。") % {"n": _name(p.person)})
    missing = [u for u in issuers if u.id not in {p.unit.government.id for p in signer_posts}]
    if missing:
        raise ActionError(_("联合行文须由每个发文机关的负责人签发，缺少：%(u)s") % {"u": "、".join(u.name for u in missing)})
    reviewer_posts = list(Post.objects.active().filter(id__in=reviewers or []).select_related("unit", "person"))
    if len(reviewer_posts) != len(set(reviewers or [])):
        raise ActionError(_("审核人不存在或已离岗。"))
    for p in reviewer_posts:
        if p.unit.government.id != doc.unit.government.id:
            raise ActionError(_("审核人须是本机关的人员。"))
    cs_units = list(Unit.objects.filter(id__in=countersign or [], dissolved_at__isnull=True))
    if len(cs_units) != len(set(countersign or [])):
        raise ActionError(_("会签单位不存在或已撤销。"))
    for u in cs_units:
        if u.id == doc.unit_id:
            raise ActionError(_("会签单位不能是起草单位本身。"))
    return signer_posts, reviewer_posts, cs_units


@transaction.atomic
def do_submit(*, person, post, doc, reviewers=(), countersign=(), countersign_mode="parallel", signers=(), ip=None):
    """送审: lay out this round's steps (审核 → 会签 → 签发) and start the first."""
    doc = Document.objects.select_for_update().get(id=doc.id)
    if countersign_mode not in ("parallel", "sequential"):
        raise ActionError(_("会签方式只能是并行或依次。"))
    signer_posts, reviewer_posts, cs_units = check_submit(person, post, doc, reviewers=list(reviewers),
                                                          countersign=list(countersign), signers=list(signers))
    doc.round += 1
    order = 0
    steps = []
    if reviewer_posts:
        order += 1
        steps += [Step(document=doc, round=doc.round, order=order, kind=StepKind.REVIEW, post=p) for p in reviewer_posts]
    if cs_units:
        if countersign_mode == "parallel":
            order += 1
        for u in cs_units:
            if countersign_mode == "sequential":
                order += 1
            steps.append(Step(document=doc, round=doc.round, order=order, kind=StepKind.COUNTERSIGN, unit=u))
    order += 1
    steps += [Step(document=doc, round=doc.round, order=order, kind=StepKind.SIGNOFF, post=p) for p in signer_posts]
    Step.objects.bulk_create(steps)
    doc.state = _state_for(steps[0].kind)
    doc.updated_at = timezone.now()
    doc.save(update_fields=["round", "state", "updated_at"])
    audit.record("document.submit", person=person, post=post, obj=doc, ip=ip,
                 data={"round": doc.round, "reviewers": [p.id for p in reviewer_posts],
                       "countersign": [u.id for u in cs_units], "signers": [p.id for p in signer_posts]})
    _notify_active_steps(doc)
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return doc


def _state_for(kind):
    return {StepKind.REVIEW: DocState.REVIEW, StepKind.COUNTERSIGN: DocState.COUNTERSIGN,
            StepKind.SIGNOFF: DocState.SIGNOFF}[kind]


def active_steps(doc):
    pending = list(doc.steps.filter(round=doc.round, state=StepState.PENDING).select_related("post__person", "unit"))
    if not pending:
        return []
    low = min(s.order for s in pending)
    return [s for s in pending if s.order == low]


def _step_people(step):
    if step.post_id:
        people = {step.post.person_id}
        people.update(Delegation.objects.filter(from_post_id=step.post_id, starts_at__lte=timezone.now(),
                                                ends_at__gt=timezone.now(), revoked_at__isnull=True)
                      .values_list("to_post__person_id", flat=True))
        return people
    return set(Post.objects.active().filter(Q(is_leader=True) | Q(is_secretary=True), unit_id=step.unit_id)
               .values_list("person_id", flat=True))


def _notify_active_steps(doc):
    people = set()
    for s in active_steps(doc):
        people |= _step_people(s)
    if people:
        send_event(_ev("todo", doc.id), people=people)


def check_step_actor(person, step):
    """Returns (acting post, post acted for or None)."""
    posts = person_posts(person)
    if step.post_id:
        mine = next((p for p in posts if p.id == step.post_id), None)
        if mine is not None:
            return mine, None
        delegation = Delegation.objects.filter(
            from_post_id=step.post_id, to_post__in=[p.id for p in posts], starts_at__lte=timezone.now(),
            ends_at__gt=timezone.now(), revoked_at__isnull=True).select_related("to_post", "from_post__person").first()
        if delegation is not None:
            return delegation.to_post, delegation.from_post
        raise ActionError(_("这一环节不由您办理。"), status=403)
    mine = next((p for p in posts if p.unit_id == step.unit_id and (p.is_leader or p.is_secretary)), None)
    if mine is None:
        raise ActionError(_("只有%(u)s的负责人或秘书可以会签。") % {"u": step.unit.name}, status=403)
    return mine, None


@transaction.atomic
def do_decide(*, person, step_id, decision, opinion="", ip=None):
    """审核 / 会签 / 签发: agree, agree with an opinion, or return for changes."""
    step = Step.objects.select_related("document", "post__person", "unit").filter(id=step_id).first()
    if step is None:
        raise ActionError(_("没有找到该办理环节。"), status=404)
    check_can_view(person, step.document)
    doc = Document.objects.select_for_update().get(id=step.document_id)
    step = Step.objects.select_for_update(of=("self",)).select_related("post__person", "unit").get(id=step.id)
    acting_post, for_post = check_step_actor(person, step)
    if decision not in Decision.values:
        raise ActionError(_("办理意见只能是同意、原则同意（附意见）或退回修改。"))
    opinion = _text(opinion, _("意见"), MAX_OPINION)
    rules.check_unclassified(**{str(_("意见")): opinion})
    if step.state != StepState.PENDING or step.round != doc.round:
        raise ActionError(_("这一环节已经办理过了。"), status=409)
    if step.id not in {s.id for s in active_steps(doc)}:
        raise ActionError(_("还没有轮到这一环节，请等前面的环节办理完毕。"), status=409)
    if decision in (Decision.RETURN, Decision.AGREE_WITH_OPINION) and not opinion:
        raise ActionError(_("退回或附意见时请填写意见。"))
    now = timezone.now()
    step.decision = decision
    step.opinion = opinion or (_("同意") if decision == Decision.AGREE else "")
    step.acted_by = person
    step.acted_post = acting_post
    step.acted_name = _name(person)
    step.acted_at = now
    if for_post is not None:
        step.acted_for_post = for_post
        step.acted_for_name = _name(for_post.person)
    if decision == Decision.RETURN:
        step.state = StepState.RETURNED
        step.save()
        doc.steps.filter(round=doc.round, state=StepState.PENDING).update(state=StepState.CANCELLED)
        doc.state = DocState.RETURNED
        send_event(_ev("returned", doc.id), people=[doc.drafted_by_id])
    else:
        step.state = StepState.DONE
        step.save()
        remaining = active_steps(doc)
        if remaining:
            doc.state = _state_for(remaining[0].kind)
            _notify_active_steps(doc)
        else:
            _finalise(doc, person)
            send_event(_ev("signed", doc.id), people=[doc.drafted_by_id])
    doc.updated_at = now
    doc.save()
    audit.record(f"document.{step.kind}", person=person, post=acting_post, obj=doc, ip=ip,
                 data={"step": step.id, "decision": decision, "opinion": step.opinion,
                       "acting_for": for_post.id if for_post else None})
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return step


def _finalise(doc, person):
    """签发 complete: the text is frozen as the 定稿; 成文日期 is the last signature's date."""
    signoffs = list(doc.steps.filter(round=doc.round, kind=StepKind.SIGNOFF, state=StepState.DONE)
                    .order_by("acted_at"))
    doc.signer_names = [
        (f"{s.acted_name}（代{s.acted_for_name}）" if s.acted_for_name else s.acted_name) for s in signoffs]
    doc.signed_at = timezone.localdate(signoffs[-1].acted_at)
    doc.state = DocState.SIGNED
    _save_version(doc, person, reason=_("签发定稿"), final=True)


# --- 登记 (numbering) ----------------------------------------------------------------------
def default_prefix(doc):
    base = doc.unit.doc_prefix or doc.unit.short_name or doc.unit.name[:8]
    return base + ("函" if doc.doc_type == DocType.LETTER else "发")


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
    main, cc = list(doc.main_recipients.all()), list(doc.cc_recipients.all())
    if not main:
        raise ActionError(_("请先选择主送机关。"))
    check_routing_for(doc.unit, doc.doc_type, main, cc, list(doc.co_issuers.all()), doc.title, doc.body_text)
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
    seq = NumberSequence.objects.get(kind=NumberSequence.SEND, prefix=doc.number_prefix, year=doc.number_year)
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


# --- 核发 ---------------------------------------------------------------------------------
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


# --- 收文 ---------------------------------------------------------------------------------
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


def circulation_holder(receipt):
    """Where the document is now in 传阅: the first leader who has not read it (None: all read)."""
    return receipt.circulations.filter(read_at__isnull=True).select_related("person", "post__unit").order_by("order").first()


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


# --- 催办 ---------------------------------------------------------------------------------
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
