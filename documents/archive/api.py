"""档案 JSON API, mounted by office/api.py at /api/documents/archive/."""
import datetime as dt

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Router, Schema

from documents.archive import actions, assemble, checks, exports, search
from documents.archive.models import CheckStage, Item, ItemState, Retention
from office.audit import client_ip
from office.downloads import ranged_local_file_response
from office.errors import ActionError

router = Router(tags=[gettext_lazy("档案")])
PAGE_SIZE = 50


def _item_out(item, full=False):
    eff = actions.effective(item)
    out = {"id": item.id, "state": item.state, "archival_code": item.archival_code, "fonds": item.fonds.code,
           "year": item.year, "retention": item.retention, "org_code": item.org_code, "org_name": item.org_name,
           "seq": item.seq, "title": eff["title"], "doc_number": eff["doc_number"], "responsible": eff["responsible"],
           "doc_date": eff["doc_date"], "doc_type": item.doc_type, "pages": item.pages, "direction": item.direction,
           "document_id": item.document_id, "receipt_id": item.receipt_id, "return_reason": item.return_reason}
    if full:
        out["components"] = [{"id": c.id, "order": c.order, "role": c.role, "name": c.name, "size": c.size,
                              "pages": c.pages, "sha256": c.sha256, "sm3": c.sm3, "signed": c.signed,
                              "destroyed": c.deleted_at is not None} for c in item.components.all().order_by("order")]
        out["metadata"] = item.metadata
        out["versions"] = [{"no": v.no, "changes": v.changes, "reason": v.reason, "by": v.by_name,
                            "at": v.at.isoformat()} for v in item.versions.all().order_by("no")]
        latest = item.checks.order_by("-at", "-id").first()
        out["check"] = {"ok": latest.ok, "stage": latest.stage, "at": latest.at.isoformat(),
                        "results": latest.results} if latest else None
    return out


@router.get("/pending", summary=gettext_lazy("待归档"))
def pending(request):
    units = actions.filer_unit_ids(request.user)
    rows = assemble.pending(sorted(units)) if units else []
    return {"count": len(rows), "items": [{**r, "at": r["at"].isoformat() if r["at"] else None} for r in rows]}


class FileIn(Schema):
    document_id: int | None = None
    receipt_id: int | None = None
    retention: str | None = None


@router.post("/items", response={201: dict}, summary=gettext_lazy("归档：由流转记录组成一件并提交档案员"))
def file_item(request, payload: FileIn):
    if not payload.document_id and not payload.receipt_id:
        raise ActionError(_("请给出 document_id（发文）或 receipt_id（收文）。"))
    kw = {"receipt_id": payload.receipt_id} if payload.receipt_id else {"document_id": payload.document_id}
    item = actions.do_file(person=request.user, post=request.post, retention=payload.retention, ip=client_ip(request),
                           **kw)
    return 201, _item_out(item, full=True)


@router.get("/items", summary=gettext_lazy("检索馆藏"))
def items(request, q: str = "", year: int | None = None, retention: str = "", doc_type: str = "", fonds: str = "",
          state: str = "accepted", page: int = 1):
    qs = actions.visible_items(request.user)
    if state in ItemState.values:
        qs = qs.filter(state=state)
    if q.strip():
        qs = search.filter_text(qs, q)
    if year:
        qs = qs.filter(year=year)
    if retention in Retention.values:
        qs = qs.filter(retention=retention)
    if doc_type:
        qs = qs.filter(doc_type=doc_type[:4])
    if fonds:
        qs = qs.filter(fonds__code=fonds[:20])
    if not 1 <= page <= 100000:
        raise ActionError(_("页码不正确。"))
    qs = qs.select_related("fonds").prefetch_related("versions") \
        .order_by("-year", "fonds__code", "retention", "org_code", "seq", "id")
    total = qs.count()
    if q.strip():
        actions.audit_view(request.user, None, f"search:{q[:100]}", ip=client_ip(request), post=request.post)
    return {"count": total, "page": page,
            "items": [_item_out(i) for i in qs[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]}


@router.get("/items/{item_id}", summary=gettext_lazy("一件的元数据、组件和四性检测"))
def item(request, item_id: int):
    it = actions.get_item(request.user, item_id)
    actions.audit_view(request.user, it, "api", ip=client_ip(request), post=request.post)
    return _item_out(it, full=True)


class ItemPatch(Schema):
    retention: str | None = None
    org_code: str | None = None
    title: str | None = None
    doc_number: str | None = None
    responsible: str | None = None


@router.patch("/items/{item_id}", summary=gettext_lazy("修改待接收的件（已归档的件不可修改）"))
def patch_item(request, item_id: int, payload: ItemPatch):
    it = actions.get_item(request.user, item_id)
    actions.check_mutable(it)
    if payload.title is not None or payload.doc_number is not None or payload.responsible is not None:
        raise ActionError(_("题名、文号和责任者取自流转记录，请在公文中修改后由文书重新归档。"), status=409)
    it = actions.do_update_pending(person=request.user, post=request.post, item_id=item_id,
                                   retention=payload.retention, org_code=payload.org_code, ip=client_ip(request))
    return _item_out(it)


@router.delete("/items/{item_id}", summary=gettext_lazy("删除（总是拒绝：已归档的件不可删除）"))
def delete_item(request, item_id: int):
    actions.check_item_deletion(request.user, item_id)


@router.put("/items/{item_id}/components/{component_id}", summary=gettext_lazy("替换组件（总是拒绝）"))
def replace_component(request, item_id: int, component_id: int):
    it = actions.get_item(request.user, item_id)
    actions.check_mutable(it)
    raise ActionError(_("组件取自流转记录，不能替换；请退回后由文书重新归档。"), status=409)


@router.post("/items/{item_id}/accept", summary=gettext_lazy("接收归档（档案员）：编档号、加归档章"))
def accept(request, item_id: int):
    it = actions.do_accept(person=request.user, post=request.post, item_id=item_id, ip=client_ip(request))
    return _item_out(it)


class ReasonIn(Schema):
    reason: str = ""


@router.post("/items/{item_id}/return", summary=gettext_lazy("退回（档案员）"))
def return_item(request, item_id: int, payload: ReasonIn):
    it = actions.do_return(person=request.user, post=request.post, item_id=item_id, reason=payload.reason,
                           ip=client_ip(request))
    return _item_out(it)


class CorrectionIn(Schema):
    changes: dict[str, str]
    reason: str = ""


@router.post("/items/{item_id}/corrections", response={201: dict}, summary=gettext_lazy("元数据更正（新版本）"))
def correct(request, item_id: int, payload: CorrectionIn):
    v = actions.do_correct(person=request.user, post=request.post, item_id=item_id, changes=payload.changes,
                           reason=payload.reason, ip=client_ip(request))
    return 201, {"no": v.no, "changes": v.changes, "reason": v.reason, "by": v.by_name, "at": v.at.isoformat()}


@router.post("/items/{item_id}/check", summary=gettext_lazy("四性检测（一件）"))
def check(request, item_id: int):
    it = actions.get_item(request.user, item_id)
    if not actions.is_member(request.user, it):
        raise ActionError(_("只有本全宗单位的人员可以检测。"), status=403)
    run = checks.run_checks([it], CheckStage.MANUAL, scope=it.archival_code or it.title, person=request.user)
    return {"id": run.id, "ok": run.ok, "total": run.total, "failed": run.failed, "items": run.report["items"]}


@router.get("/items/{item_id}/metadata.xml", summary=gettext_lazy("DA/T 46 元数据 XML"))
def metadata(request, item_id: int):
    it = actions.get_item(request.user, item_id)
    actions.audit_view(request.user, it, "metadata.xml", ip=client_ip(request), post=request.post)
    return HttpResponse(exports.metadata_xml(it), content_type="application/xml; charset=utf-8")


class ExportIn(Schema):
    fonds: str
    year: int


@router.post("/export", summary=gettext_lazy("导出移交包（BagIt，zip）"))
def export(request, payload: ExportIn):
    from documents.archive.models import Fonds

    fonds = Fonds.objects.filter(code=payload.fonds[:20]).first()
    if fonds is None or fonds.id not in actions.archivist_fonds_ids(request.user):
        raise ActionError(_("只有本全宗的档案员可以导出移交包。"), status=403)
    if not 1949 <= payload.year <= 2100:
        raise ActionError(_("年度应在1949到2100之间。"))
    path, cleanup, etag = exports.bag_zip(fonds, payload.year, person=request.user)
    actions.audit_view(request.user, None, f"export:{fonds.code}:{payload.year}", ip=client_ip(request),
                       post=request.post)
    # streamed with ranges (a year of a 全宗 can be gigabytes; never read whole into memory)
    return ranged_local_file_response(request, path, "application/zip", filename=path.name, cleanup=cleanup,
                                      etag=etag)


class AccessIn(Schema):
    item_id: int | None = None
    archival_code: str = ""
    reason: str = ""
    until: dt.date


@router.post("/access", response={201: dict}, summary=gettext_lazy("借阅申请"))
def request_access(request, payload: AccessIn):
    item_id = payload.item_id
    if item_id is None and payload.archival_code:
        found = Item.objects.filter(archival_code=payload.archival_code[:80]).first()
        item_id = found.id if found else 0
    req = actions.do_request_access(person=request.user, post=request.post, item_id=item_id, reason=payload.reason,
                                    until=payload.until, ip=client_ip(request))
    return 201, {"id": req.id, "state": req.state, "until": req.until.isoformat()}


class DecideIn(Schema):
    approve: bool
    note: str = ""


@router.post("/access/{request_id}/decide", summary=gettext_lazy("审批借阅（立档单位领导）"))
def decide_access(request, request_id: int, payload: DecideIn):
    req = actions.do_decide_access(person=request.user, request_id=request_id, approve=payload.approve,
                                   note=payload.note, ip=client_ip(request))
    return {"id": req.id, "state": req.state}


class DisposalIn(Schema):
    item_id: int
    action: str
    reason: str = ""
    new_retention: str = ""


@router.post("/disposals", response={201: dict}, summary=gettext_lazy("到期鉴定意见（档案员）"))
def propose(request, payload: DisposalIn):
    d = actions.do_propose_disposal(person=request.user, post=request.post, item_id=payload.item_id,
                                    action=payload.action, reason=payload.reason, new_retention=payload.new_retention,
                                    ip=client_ip(request))
    return 201, {"id": d.id, "state": d.state, "action": d.action}


@router.post("/disposals/{disposal_id}/decide", summary=gettext_lazy("审批销毁（立档单位领导）"))
def decide_disposal(request, disposal_id: int, payload: DecideIn):
    d = actions.do_decide_disposal(person=request.user, disposal_id=disposal_id, approve=payload.approve,
                                   note=payload.note, ip=client_ip(request))
    return {"id": d.id, "state": d.state}


class SettingIn(Schema):
    fonds: str | None = None
    request_with_reply: bool | None = None


@router.post("/settings/{unit_id}", summary=gettext_lazy("单位的归档设置：归入哪个全宗；请示与批复合为一件或分为两件"))
def unit_setting(request, unit_id: int, payload: SettingIn):
    from documents.archive.models import Fonds
    from office.models import Unit

    unit = Unit.objects.filter(id=actions.row_id(unit_id)).first()
    if unit is None:
        raise ActionError(_("单位不存在。"), status=404)
    fonds = None
    if payload.fonds:
        fonds = Fonds.objects.filter(code=payload.fonds[:20]).first()
        if fonds is None:
            raise ActionError(_("没有全宗号为 %(c)s 的全宗。") % {"c": payload.fonds[:20]}, status=404)
    s = actions.do_set_unit_setting(person=request.user, post=request.post, unit=unit, fonds=fonds,
                                    request_with_reply=payload.request_with_reply, ip=client_ip(request))
    return {"unit": unit.id, "fonds": s.fonds.code if s.fonds_id else assemble.fonds_for(unit).code
            if assemble.fonds_for(unit) else None, "request_with_reply": s.request_with_reply}


class FondsIn(Schema):
    code: str | None = None
    name: str | None = None
    unit_id: int | None = None


def _fonds_out(f):
    return {"code": f.code, "name": f.name, "unit_id": f.unit_id, "unit": f.unit.name}


@router.post("/fonds", response={201: dict}, summary=gettext_lazy("设立全宗（系统管理员）"))
def create_fonds(request, payload: FondsIn):
    from office.models import Unit

    unit = Unit.objects.filter(id=actions.row_id(payload.unit_id)).first()
    if unit is None:
        raise ActionError(_("请选择立档单位。"))
    f = actions.do_create_fonds(person=request.user, unit=unit, code=payload.code or "", name=payload.name or "",
                                ip=client_ip(request))
    return 201, _fonds_out(f)


@router.patch("/fonds/{code}", summary=gettext_lazy("修改全宗：名称；全宗号（未用于档号时）；立档单位（系统管理员）"))
def update_fonds(request, code: str, payload: FondsIn):
    from documents.archive.models import Fonds
    from office.models import Unit

    fonds = Fonds.objects.select_related("unit").filter(code=code[:20]).first()
    if fonds is None:
        raise ActionError(_("没有全宗号为 %(c)s 的全宗。") % {"c": code[:20]}, status=404)
    unit = None
    if payload.unit_id is not None:
        unit = Unit.objects.filter(id=actions.row_id(payload.unit_id)).first()
        if unit is None:
            raise ActionError(_("单位不存在。"), status=404)
    f = actions.do_update_fonds(person=request.user, post=request.post, fonds=fonds, code=payload.code,
                                name=payload.name, unit=unit, ip=client_ip(request))
    return _fonds_out(f)


class ResolveIn(Schema):
    note: str = ""


@router.post("/alerts/{alert_id}/resolve", summary=gettext_lazy("确认已处理固化信息告警（档案员）"))
def resolve_alert(request, alert_id: int, payload: ResolveIn):
    a = actions.do_resolve_alert(person=request.user, post=request.post, alert_id=alert_id, note=payload.note,
                                 ip=client_ip(request))
    return {"id": a.id, "resolved_at": a.resolved_at.isoformat(), "resolved_by": a.resolved_name}
