"""The only writers of the archive: check_* validates input and permission, do_* changes state
in one transaction, writes the audit log and sends events after commit.
"""
from __future__ import annotations

import datetime as dt
import threading

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.archive import assemble, checks, pdfs, search, store
from documents.archive import ofd as archive_ofd
from documents.archive.models import (
    CATEGORY,
    CODE_RE,
    RETENTION_YEARS,
    AccessRequest,
    CheckStage,
    ClassSequence,
    Component,
    ComponentRole,
    DecisionState,
    DestructionEntry,
    Direction,
    Disposal,
    Fonds,
    Item,
    ItemState,
    ItemVersion,
    OrgCode,
    Retention,
    RetentionRule,
    UnitSetting,
)
from office import audit
from office.actions import is_system_admin
from office.errors import ActionError
from office.events import send_event
from office.models import Post

MAX_REASON = 500
CORRECTABLE = ("title", "doc_number", "responsible", "doc_date", "remark")
_ACCEPT_LOCK = threading.Lock()  # SQLite: SELECT … FOR UPDATE is a no-op; one process serialises here


def _name(person):
    return person.display_name or person.username


def _ev(op, item, **extra):
    return {"type": "archive", "op": op, "item": item.id if item else None, **extra}


def _reason(text, what):
    text = (text or "").strip()
    if not text:
        raise ActionError(_("请填写%(w)s。") % {"w": what})
    if len(text) > MAX_REASON:
        raise ActionError(_("%(w)s不能超过%(n)d个字。") % {"w": what, "n": MAX_REASON})
    return text


def archival_code(fonds_code, year, retention, org_code, seq) -> str:
    """档号 (DA/T 22-2015 6.1): 全宗号-WS·年度-保管期限-机构代码-件号, e.g. Z109-WS·2026-Y-BGS-0001."""
    return f"{fonds_code}-{CATEGORY}\u00b7{year}-{retention}-{org_code}-{seq:04d}"


# --------------------------------------------------------------------- who may do what

def posts(person):
    if person is None or not getattr(person, "is_authenticated", False):
        return []
    return list(Post.objects.active().filter(person_id=person.id).select_related("unit", "unit__parent"))


def fonds_of_post(post):
    return assemble.fonds_for(post.unit)


def archivist_fonds_ids(person) -> set[int]:
    out = set()
    for p in posts(person):
        if p.is_archivist:
            f = fonds_of_post(p)
            if f is not None and _in_fonds_unit(p, f):
                out.add(f.id)
    return out


def _in_fonds_unit(post, fonds) -> bool:
    """The post is in the 全宗's 立档单位 itself (or one of its departments)."""
    return post.unit_id == fonds.unit_id or post.unit.parent_id == fonds.unit_id


def leader_fonds_ids(person) -> set[int]:
    out = set()
    for p in posts(person):
        if p.is_leader:
            f = fonds_of_post(p)
            if f is not None and _in_fonds_unit(p, f):
                out.add(f.id)
    return out


def member_fonds_ids(person) -> set[int]:
    """全宗 whose holdings the person sees as one of the unit's people (no 借阅 needed)."""
    out = set()
    for p in posts(person):
        f = fonds_of_post(p)
        if f is not None:
            out.add(f.id)
    return out


def filer_unit_ids(person, post=None) -> set[int]:
    out = set()
    for p in ([post] if post is not None else posts(person)):
        if p is not None and (p.is_secretary or p.is_archivist):
            out |= assemble.filer_unit_ids(p)
    return out


def _filer_post(person, post, unit):
    for p in ([post] if post is not None else []) + posts(person):
        if p is not None and p.person_id == person.id and (p.is_secretary or p.is_archivist) \
                and unit.id in assemble.filer_unit_ids(p):
            return p
    raise ActionError(_("只有本单位的文书、秘书或档案员可以归档。"), status=403)


def _archivist_post(person, post, fonds):
    for p in ([post] if post is not None else []) + posts(person):
        if p is not None and p.person_id == person.id and p.is_archivist and fonds_of_post(p) == fonds \
                and _in_fonds_unit(p, fonds):
            return p
    raise ActionError(_("只有本全宗的档案员可以办理。"), status=403)


def _leader_post(person, fonds):
    for p in posts(person):
        if p.is_leader and fonds_of_post(p) == fonds and _in_fonds_unit(p, fonds):
            return p
    raise ActionError(_("只有立档单位的领导可以审批。"), status=403)


MAX_ID = 2 ** 63 - 1


def row_id(value):
    """An id from a path or form, or 0 (nothing has it) when it is not a number the database holds."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 0
    return value if 0 < value <= MAX_ID else 0


def get_item(person, item_id, *, lock=False) -> Item:
    item_id = row_id(item_id)
    if not item_id:
        raise ActionError(_("没有找到该件，或您无权查看。"), status=404)
    qs = Item.objects.select_related("fonds", "unit", "document")
    if lock:
        qs = qs.select_for_update(of=("self",))
    item = qs.filter(id=item_id).first()
    if item is None or not can_see_item(person, item):
        raise ActionError(_("没有找到该件，或您无权查看。"), status=404)
    return item


def approved_access(person, item) -> AccessRequest | None:
    return AccessRequest.objects.filter(item=item, person_id=person.id, state=DecisionState.APPROVED,
                                        until__gte=timezone.localdate()).first()


def can_see_item(person, item) -> bool:
    """The 全宗's people see its holdings; the filer sees what they filed; others need a 借阅."""
    if person is None or not getattr(person, "is_authenticated", False):
        return False
    if item.fonds_id in member_fonds_ids(person):
        return True
    if item.filed_by_id == person.id or item.unit_id in filer_unit_ids(person):
        return True
    return approved_access(person, item) is not None


def is_member(person, item) -> bool:
    return item.fonds_id in member_fonds_ids(person) or item.unit_id in filer_unit_ids(person)


def visible_items(person):
    fonds_ids = member_fonds_ids(person)
    units = filer_unit_ids(person)
    borrowed = AccessRequest.objects.filter(person_id=person.id, state=DecisionState.APPROVED,
                                            until__gte=timezone.localdate()).values("item_id")
    return Item.objects.filter(Q(fonds_id__in=fonds_ids) | Q(unit_id__in=units) | Q(id__in=borrowed))


def check_mutable(item):
    if item.frozen:
        raise ActionError(_("已归档的件不可修改；更正请提交新的元数据版本。"), status=409)


# --------------------------------------------------------------------- filing (归档)

def _source(person, post, *, document_id=None, receipt_id=None):
    from documents.models import DocState, Document, Receipt, ReceiptState

    if receipt_id is not None:
        receipt = Receipt.objects.select_related("document__unit", "unit").filter(id=receipt_id).first()
        if receipt is None:
            raise ActionError(_("没有找到该收文。"), status=404)
        acting = _filer_post(person, post, receipt.unit)
        if receipt.state != ReceiptState.DONE:
            raise ActionError(_("收文办结后才能归档。"), status=409)
        return acting, receipt.unit, Direction.RECEIVED, receipt.document, receipt
    doc = Document.objects.select_related("unit").filter(id=document_id).first()
    if doc is None:
        raise ActionError(_("没有找到该公文。"), status=404)
    acting = _filer_post(person, post, doc.unit)
    if doc.state != DocState.DISPATCHED:
        raise ActionError(_("发文核发后才能归档。"), status=409)
    return acting, doc.unit, Direction.SENT, doc, None


def do_file(*, person, post=None, document_id=None, receipt_id=None, retention=None, ip=None) -> Item:
    """归档: assemble the 件 from the flow, check it (四性 at filing), store it, hand it to the
    档案员. A returned 件 is assembled again from the flow and handed in again."""
    acting, unit, direction, doc, receipt = _source(person, post, document_id=document_id, receipt_id=receipt_id)
    fonds = assemble.fonds_for(unit)
    if fonds is None:
        assemble.ensure_fonds([u for u in [unit, unit.parent] if u is not None])
        fonds = assemble.fonds_for(unit)
    if fonds is None:
        raise ActionError(_("%(u)s尚未设立全宗，请联系档案员。") % {"u": unit.name}, status=409)
    existing = Item.objects.filter(unit=unit, document=doc, direction=direction).first()
    if existing is not None and existing.state != ItemState.RETURNED:
        raise ActionError(_("该文件已归档（%(s)s）。") % {"s": existing.get_state_display()}, status=409)
    if retention is not None and retention not in Retention.values:
        raise ActionError(_("保管期限只能是永久、定期30年或定期10年。"))
    a = assemble.assemble_sent(person, doc) if direction == Direction.SENT else assemble.assemble_received(person, receipt)
    report = checks.check_parts(a, title=doc.title, number=doc.number or "")
    failed = [r for r in report if not r["ok"]]
    if failed:
        lines = "；".join(f"{r['component'] or ''} {_(checks.CHECKS[r['check']])}：{r['reason']}".strip()
                         for r in failed[:5])
        raise ActionError(_("四性检测未通过，不能归档：%(x)s") % {"x": lines}, status=422)
    suggested, rule = assemble.suggest_retention(fonds, doc_type=doc.doc_type, direction=direction,
                                                 sender_level=assemble.sender_level(doc), title=doc.title)
    org_code, org_name = assemble.org_for(fonds, unit, lead_unit=a.lead_unit or acting.unit)
    meta = a.metadata
    doc_date = dt.date.fromisoformat(meta["file"]["date"])
    stored = []
    try:
        with transaction.atomic():
            fields = dict(
                fonds=fonds, unit=unit, direction=direction, document=doc, receipt=receipt,
                state=ItemState.SUBMITTED, year=doc_date.year, retention=retention or suggested,
                org_code=org_code, org_name=org_name, title=doc.title, doc_number=doc.number or "",
                responsible=meta["file"]["responsible"], doc_date=doc_date, doc_type=doc.doc_type,
                urgency=doc.urgency or "", reason_due=(rule.note if rule else ""), metadata=meta,
                filed_by=person, filed_name=_name(person), filed_at=timezone.now(), return_reason="",
            )
            if existing is not None:
                item = Item.objects.select_for_update().get(id=existing.id)
                if item.state != ItemState.RETURNED:
                    raise ActionError(_("该文件已归档。"), status=409)
                old = list(item.components.all())
                for c in old:
                    store.delete(c.storage_name)
                item.components.all().delete()
                for k, v in fields.items():
                    setattr(item, k, v)
                item.save()
            else:
                item = Item.objects.create(**fields)
            pages = 0
            comps = []
            for n, part in enumerate(a.parts, 1):
                name = store.put(f"archive/{fonds.code}/{item.id}/{n:02d}-{_file_name(part.name)}", part.data)
                stored.append(name)
                sha, sm = store.digests(part.data)
                if part.mime == "application/pdf":
                    count = pdfs.page_count(part.data)
                    pages += count
                else:  # an OFD repeats the PDF's pages: the 件's 页数 counts them once
                    count = archive_ofd.page_count(part.data) if part.mime == archive_ofd.MIME else 0
                comps.append(Component(item=item, order=n, role=part.role, name=part.name, storage_name=name,
                                       size=len(part.data), sha256=sha, sm3=sm, mime=part.mime, pages=count,
                                       signed=part.signed, source=part.source))
            Component.objects.bulk_create(comps)
            meta["file"]["pages"] = pages
            meta["components"] = [{"name": c.name, "role": c.role, "size": c.size, "sha256": c.sha256,
                                   "sm3": c.sm3, "signed": c.signed, "pages": c.pages} for c in comps]
            Item.objects.filter(id=item.id).update(pages=pages, metadata=meta)
            item.pages, item.metadata = pages, meta
            checks.save_item_check(item, CheckStage.FILING, True, report)
            audit.record("archive.file", person=person, post=acting, obj=item, ip=ip,
                         data={"document": doc.id, "receipt": receipt.id if receipt else None,
                               "components": [[c.name, c.sha256] for c in comps]})
            transaction.on_commit(lambda: send_event(_ev("filed", item), units=[fonds.unit_id, unit.id]))
    except BaseException:
        for name in stored:
            store.delete(name)
        raise
    return item


def _file_name(name):
    keep = "".join(ch for ch in name if ch not in '\\/:*?"<>|\r\n\t')
    return (keep or "file")[:80]


def check_can_edit_pending(person, post, item):
    check_mutable(item)
    _archivist_post(person, post, item.fonds)


def do_update_pending(*, person, post=None, item_id, retention=None, org_code=None, ip=None) -> Item:
    """Before acceptance the 档案员 may set the 保管期限 and 机构 of a 件; afterwards never."""
    with transaction.atomic():
        item = get_item(person, item_id, lock=True)
        check_mutable(item)
        acting = _archivist_post(person, post, item.fonds)
        changes = {}
        if retention is not None:
            if retention not in Retention.values:
                raise ActionError(_("保管期限只能是永久、定期30年或定期10年。"))
            changes["retention"] = retention
        if org_code is not None:
            row = OrgCode.objects.filter(fonds=item.fonds, code=org_code).first()
            if row is None:
                raise ActionError(_("本全宗没有机构代码 %(c)s。") % {"c": org_code})
            changes.update(org_code=row.code, org_name=row.name)
        for k, v in changes.items():
            setattr(item, k, v)
        item.save()
        audit.record("archive.update", person=person, post=acting, obj=item, ip=ip, data=changes)
    return item


# --------------------------------------------------------------------- acceptance (接收)

def do_accept(*, person, post=None, item_id, ip=None) -> Item:
    """接收: the 档案员 checks the 件 again, assigns the next 件号 of its class (gapless: the class
    row is locked until commit, as 发文字号 are) and puts the 归档章 on an archival rendition."""
    from contextlib import nullcontext

    from django.db import connection

    with (_ACCEPT_LOCK if connection.vendor == "sqlite" else nullcontext()), transaction.atomic():
        item = get_item(person, item_id, lock=True)
        acting = _archivist_post(person, post, item.fonds)
        if item.state != ItemState.SUBMITTED:
            if item.frozen:
                raise ActionError(_("该件已归档，档号 %(c)s。") % {"c": item.archival_code}, status=409)
            raise ActionError(_("该件已退回，须由文书重新归档。"), status=409)
        ok, results = checks.check_item(item, deep=False)
        # the 件号 sequence is checked after numbering; here only what the filer handed in
        bad = [r for r in results if not r["ok"] and r["check"] not in ("sequence", "audit", "metadata")]
        if bad:
            raise ActionError(_("四性检测未通过，不能接收：%(x)s") % {
                "x": "；".join(f"{r['component']} {_(checks.CHECKS[r['check']])}：{r['reason']}" for r in bad[:5])},
                status=422)
        key = dict(fonds=item.fonds, year=item.year, retention=item.retention, org_code=item.org_code)
        ClassSequence.objects.get_or_create(**key)
        seq_row = ClassSequence.objects.select_for_update().get(**key)
        seq_row.last += 1
        seq_row.save(update_fields=["last"])
        code = archival_code(item.fonds.code, item.year, item.retention, item.org_code, seq_row.last)
        first = item.components.order_by("order").first()
        fields = {"fonds": item.fonds.code, "year": item.year, "seq": f"{seq_row.last:04d}",
                  "org": item.org_name, "retention": item.get_retention_display(), "pages": item.pages}
        rendition = pdfs.archival_rendition(store.read(first.storage_name), fields, title=item.title)
        name = store.put(f"archive/{item.fonds.code}/{item.id}/00-{_('归档版本')}.pdf", rendition)
        try:
            sha, sm = store.digests(rendition)
            order = (item.components.order_by("-order").values_list("order", flat=True).first() or 0) + 1
            Component.objects.create(item=item, order=order, role=ComponentRole.RENDITION, name=_("归档版本（首页）.pdf"),
                                     storage_name=name, size=len(rendition), sha256=sha, sm3=sm, pages=1,
                                     source=f"component:{first.id}")
            now = timezone.now()
            Item.objects.filter(id=item.id, state=ItemState.SUBMITTED).update(
                state=ItemState.ACCEPTED, seq=seq_row.last, archival_code=code, accepted_by=person,
                accepted_name=_name(person), accepted_at=now)
            item.refresh_from_db()
            search.index(item)
            audit.record("archive.accept", person=person, post=acting, obj=item, ip=ip,
                         data={"code": code, "rendition_sha256": sha})
            transaction.on_commit(lambda: send_event(_ev("accepted", item), units=[item.fonds.unit_id, item.unit_id]))
        except BaseException:
            store.delete(name)
            raise
    return item


def do_return(*, person, post=None, item_id, reason, ip=None) -> Item:
    reason = _reason(reason, _("退回理由"))
    with transaction.atomic():
        item = get_item(person, item_id, lock=True)
        acting = _archivist_post(person, post, item.fonds)
        check_mutable(item)
        if item.state != ItemState.SUBMITTED:
            raise ActionError(_("该件已退回。"), status=409)
        Item.objects.filter(id=item.id).update(state=ItemState.RETURNED, return_reason=reason,
                                               returned_name=_name(person), returned_at=timezone.now())
        item.refresh_from_db()
        audit.record("archive.return", person=person, post=acting, obj=item, ip=ip, data={"reason": reason})
        transaction.on_commit(lambda: send_event(_ev("returned", item), units=[item.unit_id], people=[item.filed_by_id]))
    return item


# --------------------------------------------------------------------- corrections

def effective(item) -> dict:
    """The 件's descriptive metadata with every correction applied, in order."""
    out = {"title": item.title, "doc_number": item.doc_number, "responsible": item.responsible,
           "doc_date": item.doc_date.isoformat(), "remark": "", "retention": item.retention}
    for v in sorted(item.versions.all(), key=lambda v: v.no):  # prefetch-friendly
        for k, (_old, new) in v.changes.items():
            out[k] = new
    return out


def do_correct(*, person, post=None, item_id, changes: dict, reason, ip=None) -> ItemVersion:
    """A metadata correction of an accepted 件: a new version with who, when and why."""
    reason = _reason(reason, _("更正理由"))
    with transaction.atomic():
        item = get_item(person, item_id, lock=True)
        acting = _archivist_post(person, post, item.fonds)
        if item.state != ItemState.ACCEPTED:
            raise ActionError(_("只有已归档的件才能更正元数据；未归档的件可直接修改。"), status=409)
        if not isinstance(changes, dict) or not changes:
            raise ActionError(_("请填写要更正的内容。"))
        unknown = [k for k in changes if k not in CORRECTABLE]
        if unknown:
            raise ActionError(_("这些项不能更正：%(x)s（档号与组件不可更改）。") % {"x": "、".join(map(str, unknown))},
                              status=409)
        now = effective(item)
        diff = {}
        for k, v in changes.items():
            v = str(v).strip()[:300]
            if k == "doc_date":
                try:
                    dt.date.fromisoformat(v)
                except ValueError:
                    raise ActionError(_("日期格式应为 YYYY-MM-DD。")) from None
            if k in ("title", "responsible") and not v:
                raise ActionError(_("题名和责任者不能为空。"))
            if now.get(k) != v:
                diff[k] = [now.get(k), v]
        if not diff:
            raise ActionError(_("没有需要更正的内容。"))
        no = (item.versions.order_by("-no").values_list("no", flat=True).first() or 0) + 1
        version = ItemVersion.objects.create(item=item, no=no, changes=diff, reason=reason, by=person,
                                             by_name=_name(person))
        audit.record("archive.correct", person=person, post=acting, obj=item, ip=ip,
                     data={"version": no, "changes": diff, "reason": reason})
        search.index(item)
    return version


# --------------------------------------------------------------------- settings

def _code(value, what):
    value = (value or "").strip()
    if not CODE_RE.match(value):
        raise ActionError(_("%(w)s只能由英文字母和数字组成（1–20位）。") % {"w": what})
    return value


def do_create_fonds(*, person, unit, code, name="", ip=None) -> Fonds:
    from office import actions as office_actions

    office_actions.check_system_admin(person, message=_("只有系统管理员可以建立全宗。"))
    code = _code(code, _("全宗号"))
    if Fonds.objects.filter(Q(code=code) | Q(unit=unit)).exists():
        raise ActionError(_("全宗号或立档单位已存在。"), status=409)
    with transaction.atomic():
        f = Fonds.objects.create(code=code, name=(name or unit.name)[:100], unit=unit)
        audit.record("archive.fonds", person=person, obj=f, ip=ip, data={"code": code, "unit": unit.id})
    return f


def manageable_fonds_ids(person) -> set[int] | None:
    """全宗 whose settings the person may change: an administrator all (None), a 档案员 their own."""
    return None if is_system_admin(person) else archivist_fonds_ids(person)


def check_can_manage_fonds(person, post, fonds):
    """The 全宗's settings are kept by its 档案员 or an administrator."""
    if is_system_admin(person):
        return None
    return _archivist_post(person, post, fonds)


def do_update_fonds(*, person, post=None, fonds, code=None, name=None, unit=None, ip=None) -> Fonds:
    """Edit a 全宗: its name (档案员 or administrator); its 全宗号 only while no 档号 carries it;
    its 立档单位 (administrators) only while it holds nothing."""
    acting = check_can_manage_fonds(person, post, fonds)
    changes = {}
    if name is not None:
        name = name.strip()
        if not name:
            raise ActionError(_("请填写全宗名称。"))
        if len(name) > 100:
            raise ActionError(_("全宗名称不能超过100个字。"))
        if name != fonds.name:
            changes["name"] = name
    if code is not None:
        code = _code(code, _("全宗号"))
        if code != fonds.code:
            if Item.objects.filter(fonds=fonds, archival_code__isnull=False).exists():
                raise ActionError(_("该全宗号已用于档号，不能修改。"), status=409)
            if Fonds.objects.filter(code=code).exclude(id=fonds.id).exists():
                raise ActionError(_("全宗号 %(c)s 已被其他全宗使用。") % {"c": code}, status=409)
            changes["code"] = code
    if unit is not None and unit.id != fonds.unit_id:
        if not is_system_admin(person):
            raise ActionError(_("只有系统管理员可以更改立档单位。"), status=403)
        if Item.objects.filter(fonds=fonds).exists():
            raise ActionError(_("该全宗已有归档文件，不能更改立档单位。"), status=409)
        if Fonds.objects.filter(unit=unit).exclude(id=fonds.id).exists():
            raise ActionError(_("%(u)s已有全宗。") % {"u": unit.name}, status=409)
        changes["unit"] = unit
    if not changes:
        raise ActionError(_("没有需要修改的内容。"))
    with transaction.atomic():
        Fonds.objects.filter(id=fonds.id).update(**changes)
        fonds.refresh_from_db()
        audit.record("archive.fonds", person=person, post=acting, obj=fonds, ip=ip,
                     data={k: (v.id if k == "unit" else v) for k, v in changes.items()})
    return fonds


def do_resolve_alert(*, person, post=None, alert_id, note="", ip=None):
    """The 档案员 acknowledges a fixity alert (after restoring the file or recording what happened):
    it leaves their 待办 and the management page's open list; the alert itself is kept."""
    from documents.archive.models import FixityAlert

    note = _reason(note, _("处理说明"))
    with transaction.atomic():
        alert = FixityAlert.objects.select_for_update().select_related("item__fonds", "component") \
            .filter(id=row_id(alert_id)).first()
        if alert is None or alert.item.fonds_id not in member_fonds_ids(person):
            raise ActionError(_("没有找到该告警。"), status=404)
        acting = _archivist_post(person, post, alert.item.fonds)
        if alert.resolved_at is not None:
            raise ActionError(_("该告警已处理（%(n)s）。") % {"n": alert.resolved_name}, status=409)
        FixityAlert.objects.filter(id=alert.id).update(resolved_at=timezone.now(), resolved_name=_name(person),
                                                       resolution=note)
        audit.record("archive.fixity.resolve", person=person, post=acting, obj=alert.item, ip=ip,
                     data={"alert": alert.id, "component": alert.component.name, "note": note})
        people = list(Post.objects.active().filter(is_archivist=True, unit_id=alert.item.fonds.unit_id)
                      .values_list("person_id", flat=True))
        transaction.on_commit(lambda: send_event(_ev("todo", alert.item), people=people))
        alert.refresh_from_db()
    return alert


def do_set_unit_setting(*, person, post=None, unit, fonds=None, request_with_reply=None, ip=None) -> UnitSetting:
    """Which 全宗 a unit's records go into, and 请示/批复 as one 件 or two. By the 档案员 of the
    全宗 the unit belongs to now (and, when moving it, of the target one) or an administrator."""
    current = assemble.fonds_for(unit)
    if not is_system_admin(person):
        if current is None:
            raise ActionError(_("只有系统管理员可以为尚无全宗的单位设置。"), status=403)
        _archivist_post(person, post, current)
        if fonds is not None and fonds != current:
            _archivist_post(person, None, fonds)
    if fonds is not None and Item.objects.filter(unit=unit).exclude(fonds=fonds).exists():
        pass  # filed 件 never leave their 全宗; the setting applies to what is filed from now on
    with transaction.atomic():
        setting, _created = UnitSetting.objects.get_or_create(unit=unit)
        if fonds is not None:
            setting.fonds = fonds
        if request_with_reply is not None:
            setting.request_with_reply = bool(request_with_reply)
        setting.save()
        audit.record("archive.setting", person=person, obj=unit, ip=ip,
                     data={"fonds": setting.fonds_id, "request_with_reply": setting.request_with_reply})
    return setting


def _rule_fields(data: dict) -> dict:
    """A row of the 归档范围与保管期限表 from a form or JSON, validated (Chinese refusals)."""
    from documents.models import DocType

    retention = data.get("retention")
    if retention not in Retention.values:
        raise ActionError(_("保管期限只能是永久、定期30年或定期10年。"))
    direction = data.get("direction") or ""
    if direction not in ("", *Direction.values):
        raise ActionError(_("收发只能是发文或收文。"))
    doc_type = (data.get("doc_type") or "").strip()
    if doc_type and doc_type not in DocType.values:
        raise ActionError(_("未知的文种：%(t)s") % {"t": doc_type})
    level = data.get("sender_level") or None
    try:
        level = int(level) if level not in (None, "") else None
    except (TypeError, ValueError):
        raise ActionError(_("来文机关层级应为1–4。")) from None
    if level is not None and level not in (1, 2, 3, 4):
        raise ActionError(_("来文机关层级应为1–4。"))
    try:
        order = int(data.get("order") or 5)
    except (TypeError, ValueError):
        raise ActionError(_("顺序应为数字。")) from None
    return {"order": min(max(0, order), 1000000), "doc_type": doc_type, "direction": direction, "sender_level": level,
            "keyword": (data.get("keyword") or "").strip()[:50], "retention": retention,
            "note": (data.get("note") or "").strip()[:200]}


def do_save_rule(*, person, post=None, fonds, data: dict, ip=None) -> RetentionRule:
    """归档范围与保管期限表: the 档案员 adds a row (the 全宗 gets its own copy of the defaults first)."""
    acting = _archivist_post(person, post, fonds)
    fields = _rule_fields(data)
    with transaction.atomic():
        if not RetentionRule.objects.filter(fonds=fonds).exists():
            for r in assemble.rules_for(None):
                RetentionRule.objects.create(fonds=fonds, order=r.order, doc_type=r.doc_type, direction=r.direction,
                                             sender_level=r.sender_level, keyword=r.keyword, retention=r.retention,
                                             note=r.note)
        rule = RetentionRule.objects.create(fonds=fonds, **fields)
        audit.record("archive.rule", person=person, post=acting, obj=rule, ip=ip, data={"op": "add"})
    return rule


def do_update_rule(*, person, post=None, fonds, rule_id, data: dict, ip=None) -> RetentionRule:
    """Change one row of the 全宗's own table (what is filed from now on follows it; 件 already filed
    keep their 保管期限)."""
    acting = _archivist_post(person, post, fonds)
    fields = _rule_fields(data)
    with transaction.atomic():
        rule = RetentionRule.objects.select_for_update().filter(id=row_id(rule_id), fonds=fonds).first()
        if rule is None:
            raise ActionError(_("没有找到该条目（默认表请先添加本全宗的条目）。"), status=404)
        before = {k: getattr(rule, k) for k in fields}
        RetentionRule.objects.filter(id=rule.id).update(**fields)
        rule.refresh_from_db()
        audit.record("archive.rule", person=person, post=acting, obj=rule, ip=ip,
                     data={"op": "update", "before": before, "after": fields})
    return rule


def do_delete_rule(*, person, post=None, fonds, rule_id, ip=None):
    acting = _archivist_post(person, post, fonds)
    with transaction.atomic():
        rule = RetentionRule.objects.filter(id=rule_id, fonds=fonds).first()
        if rule is None:
            raise ActionError(_("没有找到该条目（默认表请先添加本全宗的条目）。"), status=404)
        audit.record("archive.rule", person=person, post=acting, obj=rule, ip=ip, data={"op": "delete"})
        rule.delete()


def do_set_org_code(*, person, post=None, fonds, code, name, unit=None, ip=None) -> OrgCode:
    acting = _archivist_post(person, post, fonds)
    code = _code(code, _("机构代码"))
    name = (name or "").strip()[:100]
    if not name:
        raise ActionError(_("请填写机构名称。"))
    with transaction.atomic():
        row = OrgCode.objects.filter(fonds=fonds, code=code).first()
        if row is not None and Item.objects.filter(fonds=fonds, org_code=code, seq__isnull=False).exists() \
                and row.name != name:
            raise ActionError(_("该机构代码已用于档号，不能改名。"), status=409)
        if row is None:
            row = OrgCode.objects.create(fonds=fonds, code=code, name=name, unit=unit)
        else:
            row.name, row.unit = name, unit or row.unit
            row.save()
        audit.record("archive.orgcode", person=person, post=acting, obj=row, ip=ip, data={"code": code, "name": name})
    return row


# --------------------------------------------------------------------- retention and disposal

def expiry_year(item) -> int | None:
    """A 定期 period runs from 1 January after the 年度 (e.g. 2016 + 10 → due on 2027-01-01)."""
    years = RETENTION_YEARS.get(effective(item)["retention"])
    return None if years is None else item.year + years


def due_for_appraisal(fonds, today=None):
    today = today or timezone.localdate()
    out = []
    qs = Item.objects.filter(fonds=fonds, state=ItemState.ACCEPTED).exclude(retention=Retention.PERMANENT)
    for item in qs.order_by("year", "archival_code"):
        end = expiry_year(item)
        if end is not None and end < today.year:
            out.append(item)
    return out


def do_propose_disposal(*, person, post=None, item_id, action, reason, new_retention="", ip=None) -> Disposal:
    reason = _reason(reason, _("鉴定意见"))
    with transaction.atomic():
        item = get_item(person, item_id, lock=True)
        acting = _archivist_post(person, post, item.fonds)
        if item.state != ItemState.ACCEPTED:
            raise ActionError(_("只有已归档的件才能鉴定。"), status=409)
        if effective(item)["retention"] == Retention.PERMANENT:
            raise ActionError(_("永久保管的档案不能销毁，也无需到期鉴定。"), status=409)
        if action not in (Disposal.KEEP, Disposal.DESTROY):
            raise ActionError(_("鉴定结论只能是续存或销毁。"))
        end = expiry_year(item)
        if end is not None and end >= timezone.localdate().year:
            raise ActionError(_("保管期限尚未届满（%(y)d年底届满）。") % {"y": end}, status=409)
        if action == Disposal.KEEP and new_retention not in Retention.values:
            raise ActionError(_("续存须给出新的保管期限。"))
        if Disposal.objects.filter(item=item, state=DecisionState.PENDING).exists():
            raise ActionError(_("该件已有待审批的鉴定意见。"), status=409)
        d = Disposal.objects.create(item=item, action=action, new_retention=new_retention if action == "keep" else "",
                                    reason=reason, proposed_by=person, proposed_name=_name(person))
        if action == Disposal.KEEP:  # keeping needs no leader: a new metadata version with the new period
            _apply_keep(person, item, d)
        audit.record("archive.appraise", person=person, post=acting, obj=item, ip=ip,
                     data={"action": action, "new_retention": new_retention, "reason": reason})
        leaders = list(Post.objects.active().filter(is_leader=True, unit_id=item.fonds.unit_id)
                       .values_list("person_id", flat=True))
        if action == Disposal.DESTROY:
            transaction.on_commit(lambda: send_event(_ev("disposal", item), people=leaders))
    return d


def _apply_keep(person, item, d):
    no = (item.versions.order_by("-no").values_list("no", flat=True).first() or 0) + 1
    ItemVersion.objects.create(item=item, no=no, changes={"retention": [effective(item)["retention"], d.new_retention]},
                               reason=_("到期鉴定续存：%(r)s") % {"r": d.reason}, by=person, by_name=_name(person))
    Disposal.objects.filter(id=d.id).update(state=DecisionState.APPROVED, decided_name=_name(person),
                                            decided_at=timezone.now())


def do_decide_disposal(*, person, disposal_id, approve: bool, note="", ip=None) -> Disposal:
    """A leader of the 立档单位 approves or rejects a destruction. Approval deletes the content,
    keeps the metadata and writes the 销毁清册 line."""
    with transaction.atomic():
        d = Disposal.objects.select_for_update().select_related("item__fonds").filter(id=row_id(disposal_id)).first()
        if d is None:
            raise ActionError(_("没有找到该鉴定意见。"), status=404)
        item = d.item
        acting = _leader_post(person, item.fonds)
        if d.state != DecisionState.PENDING:
            raise ActionError(_("该鉴定意见已审批。"), status=409)
        if effective(item)["retention"] == Retention.PERMANENT:
            raise ActionError(_("永久保管的档案不能销毁。"), status=409)
        now = timezone.now()
        Disposal.objects.filter(id=d.id).update(state=DecisionState.APPROVED if approve else DecisionState.REJECTED,
                                                decided_name=_name(person), decided_at=now, note=(note or "")[:500])
        if approve and d.action == Disposal.DESTROY:
            names = list(item.components.values_list("storage_name", flat=True))
            DestructionEntry.objects.create(item=item, disposal=d, fonds=item.fonds, archival_code=item.archival_code,
                                            title=item.title, doc_number=item.doc_number, year=item.year,
                                            retention=item.retention, pages=item.pages, proposed_name=d.proposed_name,
                                            approved_name=_name(person), reason=d.reason, destroyed_at=now)
            item.components.update(deleted_at=now)
            Item.objects.filter(id=item.id).update(state=ItemState.DESTROYED, destroyed_at=now, search_text="")
            search.unindex(item)
            transaction.on_commit(lambda: [store.delete(n) for n in names])
        audit.record("archive.dispose", person=person, post=acting, obj=item, ip=ip,
                     data={"approve": bool(approve), "action": d.action, "note": note})
        d.refresh_from_db()
    return d


# --------------------------------------------------------------------- access (利用)

def do_request_access(*, person, post=None, item_id, reason, until, ip=None) -> AccessRequest:
    reason = _reason(reason, _("借阅理由"))
    item = Item.objects.select_related("fonds").filter(id=row_id(item_id), state=ItemState.ACCEPTED).first()
    if item is None:
        raise ActionError(_("没有找到该件。"), status=404)
    if is_member(person, item):
        raise ActionError(_("您是本全宗单位的人员，可以直接查阅。"), status=409)
    if isinstance(until, str):
        try:
            until = dt.date.fromisoformat(until)
        except ValueError:
            raise ActionError(_("借阅截止日期格式应为 YYYY-MM-DD。")) from None
    today = timezone.localdate()
    if until is None or until < today or until > today + dt.timedelta(days=365):
        raise ActionError(_("借阅截止日期应在今天到一年之内。"))
    mine = posts(person)
    acting = post or (mine[0] if mine else None)
    with transaction.atomic():
        req = AccessRequest.objects.create(item=item, person=person, person_name=_name(person),
                                           unit_name=acting.unit.name if acting else "", reason=reason, until=until)
        audit.record("archive.access.request", person=person, post=acting, obj=item, ip=ip,
                     data={"until": until.isoformat(), "reason": reason})
        leaders = list(Post.objects.active().filter(is_leader=True, unit_id=item.fonds.unit_id)
                       .values_list("person_id", flat=True))
        transaction.on_commit(lambda: send_event(_ev("access", None, request=req.id), people=leaders))
    return req


def do_decide_access(*, person, request_id, approve: bool, note="", ip=None) -> AccessRequest:
    with transaction.atomic():
        req = AccessRequest.objects.select_for_update().select_related("item__fonds").filter(id=row_id(request_id)) \
            .first()
        if req is None:
            raise ActionError(_("没有找到该借阅申请。"), status=404)
        acting = _leader_post(person, req.item.fonds)
        if req.state != DecisionState.PENDING:
            raise ActionError(_("该借阅申请已审批。"), status=409)
        AccessRequest.objects.filter(id=req.id).update(
            state=DecisionState.APPROVED if approve else DecisionState.REJECTED, decided_name=_name(person),
            decided_at=timezone.now(), note=(note or "")[:500])
        audit.record("archive.access.decide", person=person, post=acting, obj=req.item, ip=ip,
                     data={"request": req.id, "approve": bool(approve)})
        transaction.on_commit(lambda: send_event(_ev("access", None, request=req.id), people=[req.person_id]))
        req.refresh_from_db()
    return req


def component_for_view(person, item_id, component_id, *, ip=None, post=None) -> tuple[Component, bytes, bool]:
    """A component's bytes for viewing or download, audited. People of the 全宗 get the stored
    file; a borrower gets a watermarked rendition (name, unit, time on every page)."""
    item = get_item(person, item_id)
    comp = Component.objects.filter(item=item, id=row_id(component_id)).first()
    if comp is None:
        raise ActionError(_("没有找到该组件。"), status=404)
    if comp.deleted_at is not None or item.state == ItemState.DESTROYED:
        raise ActionError(_("该件已按销毁清册销毁，只保留目录信息。"), status=410)
    if not store.exists(comp.storage_name):
        raise ActionError(_("组件文件缺失，请联系档案员。"), status=409)
    data = store.read(comp.storage_name)
    borrowed = not is_member(person, item)
    if borrowed:
        mine = posts(person)
        unit = mine[0].unit.name if mine else ""
        when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        mark = _("%(n)s %(u)s %(t)s 借阅") % {"n": _name(person), "u": unit, "t": when}
        data = watermarked(comp, data, mark)
    with transaction.atomic():
        audit.record("archive.view", person=person, post=post, obj=item, ip=ip,
                     data={"component": comp.id, "name": comp.name, "watermarked": borrowed})
    return comp, data, borrowed


def borrower_can_view(comp) -> bool:
    """What an outside reader may open: PDF and OFD, each as a watermarked copy; nothing raw."""
    return comp.mime in ("application/pdf", archive_ofd.MIME)


def watermarked(comp, data, mark) -> bytes:
    """The borrower's copy of a component: a watermark on every page, or a refusal (.docx, pictures,
    anything that cannot carry one is never handed out raw to an outside reader)."""
    if comp.mime == "application/pdf":
        return pdfs.watermark(data, mark)
    if comp.mime == archive_ofd.MIME:
        from documents.signing.ofd_sign import OfdError

        try:
            return archive_ofd.watermark(data, mark)
        except OfdError as exc:
            raise ActionError(_("无法为该OFD生成借阅版本：%(e)s") % {"e": exc}, status=409) from None
    raise ActionError(_("借阅只提供加水印的PDF或OFD版本；该组件（%(n)s）只能在本单位查阅。") % {"n": comp.name},
                      status=403)


def audit_view(person, item, what, *, ip=None, post=None):
    with transaction.atomic():
        audit.record("archive.view", person=person, post=post, obj=item, ip=ip, data={"what": what})


def check_item_deletion(person, item_id):
    """Nothing deletes a 件: an accepted one is immutable, a submitted one is returned instead."""
    item = get_item(person, item_id)
    if item.frozen:
        raise ActionError(_("已归档的件不可删除或修改；到期后经鉴定和领导批准才能销毁。"), status=409)
    raise ActionError(_("待接收的件不能删除，请由档案员退回。"), status=409)
