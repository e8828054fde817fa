"""档案 pages. Every change goes through documents.archive.actions; refusals come back as a 4xx
with the reason."""
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from documents.archive import actions, assemble, checks, exports, pdfs, search
from documents.archive.models import (
    AccessRequest,
    CheckRun,
    CheckStage,
    DecisionState,
    DestructionEntry,
    Disposal,
    Fonds,
    Item,
    ItemState,
    OrgCode,
    Retention,
    UnitSetting,
)
from documents.models import DocType
from office.actions import is_system_admin
from office.audit import client_ip
from office.downloads import ranged_local_file_response
from office.errors import ActionError
from office.models import Unit, UnitKind

PAGE = 30


def _error(request, exc, template="documents/archive_error.html"):
    return render(request, template, {"message": exc.message}, status=exc.status)


def _int(value):
    return actions.row_id(value) or None


def _my_fonds(request):
    ids = actions.member_fonds_ids(request.user)
    return list(Fonds.objects.filter(id__in=ids).select_related("unit"))


def _fonds_param(request, fonds_list):
    """The 全宗 a page is about: ?fonds=<code>, one of the person's, else their first."""
    code = request.GET.get("fonds") or request.POST.get("fonds")
    if code:
        for f in fonds_list:
            if f.code == code:
                return f
        raise ActionError(_("没有找到该全宗，或您无权查看。"), status=404)
    return fonds_list[0] if fonds_list else None


@login_required
def index(request):
    me = request.user
    filer_units = actions.filer_unit_ids(me, request.post) if request.post else actions.filer_unit_ids(me)
    pending = assemble.pending(sorted(filer_units)) if filer_units else []
    returned = Item.objects.filter(unit_id__in=filer_units, state=ItemState.RETURNED).order_by("-returned_at")[:50]
    archivist = actions.archivist_fonds_ids(me)
    incoming = Item.objects.filter(fonds_id__in=archivist, state=ItemState.SUBMITTED).select_related("unit") \
        .order_by("filed_at")[:200]
    qs = actions.visible_items(me).filter(state__in=(ItemState.ACCEPTED, ItemState.DESTROYED))
    q = (request.GET.get("q") or "").strip()[:100]
    year = _int(request.GET.get("year"))
    retention = request.GET.get("retention") or ""
    doc_type = request.GET.get("doc_type") or ""
    fonds_code = request.GET.get("fonds") or ""
    if q:
        qs = search.filter_text(qs, q)
    if year:
        qs = qs.filter(year=year)
    if retention in Retention.values:
        qs = qs.filter(retention=retention)
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    if fonds_code:
        qs = qs.filter(fonds__code=fonds_code)
    page = Paginator(qs.select_related("fonds").prefetch_related("versions").order_by("-year", "fonds__code", "retention", "org_code", "seq"),
                     PAGE).get_page(request.GET.get("page"))
    if q:
        actions.audit_view(me, None, f"search:{q}", ip=client_ip(request), post=request.post)
    return render(request, "documents/archive.html", {
        "pending": pending, "returned": returned, "incoming": incoming, "page": page, "q": q, "year": year,
        "retention": retention, "doc_type": doc_type, "fonds_code": fonds_code, "fonds_list": _my_fonds(request),
        "retentions": Retention.choices, "doc_types": DocType.choices, "is_archivist": bool(archivist),
        "is_filer": bool(filer_units),
        "my_requests": AccessRequest.objects.filter(person=me).select_related("item")[:20],
    })


@login_required
@require_POST
def act(request):
    """One POST endpoint for the archive's operations (op=…)."""
    p, me, post, ip = request.POST, request.user, request.post, client_ip(request)
    op = p.get("op", "")
    back = p.get("back") or "/documents/archive/"
    if not back.startswith("/documents/archive/"):
        back = "/documents/archive/"
    try:
        if op == "file":
            kw = {"receipt_id": _int(p.get("receipt"))} if p.get("receipt") else {"document_id": _int(p.get("document"))}
            item = actions.do_file(person=me, post=post, ip=ip, **kw)
            messages.success(request, _("已归档，等待档案员接收。"))
            back = f"/documents/archive/items/{item.id}/"
        elif op == "accept":
            item = actions.do_accept(person=me, post=post, item_id=p.get("item"), ip=ip)
            messages.success(request, _("已接收，档号 %(c)s。") % {"c": item.archival_code})
        elif op == "return":
            actions.do_return(person=me, post=post, item_id=p.get("item"), reason=p.get("reason", ""), ip=ip)
            messages.success(request, _("已退回。"))
        elif op == "update":
            actions.do_update_pending(person=me, post=post, item_id=p.get("item"),
                                      retention=p.get("retention") or None, org_code=p.get("org_code") or None, ip=ip)
            messages.success(request, _("已修改。"))
        elif op == "correct":
            changes = {k: p.get(k) for k in actions.CORRECTABLE if p.get(k) not in (None, "")}
            actions.do_correct(person=me, post=post, item_id=p.get("item"), changes=changes,
                               reason=p.get("reason", ""), ip=ip)
            messages.success(request, _("已记录新的元数据版本。"))
        elif op == "check":
            item = actions.get_item(me, p.get("item"))
            run = checks.run_checks([item], CheckStage.MANUAL, scope=item.archival_code or item.title, person=me)
            back = f"/documents/archive/reports/{run.id}/"
        elif op == "appraise":
            actions.do_propose_disposal(person=me, post=post, item_id=p.get("item"), action=p.get("action", ""),
                                        reason=p.get("reason", ""), new_retention=p.get("new_retention", ""), ip=ip)
            messages.success(request, _("鉴定意见已提交。"))
        elif op == "dispose":
            actions.do_decide_disposal(person=me, disposal_id=_int(p.get("disposal")), approve=p.get("approve") == "1",
                                       note=p.get("note", ""), ip=ip)
            messages.success(request, _("已审批。"))
        elif op == "borrow":
            item_id = p.get("item")
            if not item_id and p.get("code"):
                found = Item.objects.filter(archival_code=p.get("code", "").strip()[:80]).first()
                item_id = found.id if found else 0
            actions.do_request_access(person=me, post=post, item_id=item_id, reason=p.get("reason", ""),
                                      until=p.get("until", ""), ip=ip)
            messages.success(request, _("借阅申请已提交，等待领导审批。"))
        elif op == "lend":
            actions.do_decide_access(person=me, request_id=_int(p.get("request")), approve=p.get("approve") == "1",
                                     note=p.get("note", ""), ip=ip)
            messages.success(request, _("已审批。"))
        elif op == "rule":
            fonds = _fonds_param(request, _my_fonds(request))
            actions.do_save_rule(person=me, post=post, fonds=fonds, data=p.dict(), ip=ip)
            messages.success(request, _("已添加。"))
        elif op == "rule-update":
            fonds = _fonds_param(request, _my_fonds(request))
            actions.do_update_rule(person=me, post=post, fonds=fonds, rule_id=p.get("rule"), data=p.dict(), ip=ip)
            messages.success(request, _("已修改。"))
        elif op == "rule-delete":
            fonds = _fonds_param(request, _my_fonds(request))
            actions.do_delete_rule(person=me, post=post, fonds=fonds, rule_id=_int(p.get("rule")), ip=ip)
            messages.success(request, _("已删除。"))
        elif op == "orgcode":
            fonds = _fonds_param(request, _my_fonds(request))
            actions.do_set_org_code(person=me, post=post, fonds=fonds, code=p.get("code", ""), name=p.get("name", ""),
                                    ip=ip)
            messages.success(request, _("已保存。"))
        elif op == "alert-resolve":
            actions.do_resolve_alert(person=me, post=post, alert_id=p.get("alert"), note=p.get("note", ""), ip=ip)
            messages.success(request, _("告警已处理，已从待办中移除。"))
        elif op == "fonds-create":
            unit = Unit.objects.filter(id=_int(p.get("unit")) or 0).first()
            if unit is None:
                raise ActionError(_("请选择立档单位。"))
            f = actions.do_create_fonds(person=me, unit=unit, code=p.get("code", ""), name=p.get("name", ""), ip=ip)
            messages.success(request, _("已设立全宗 %(c)s。") % {"c": f.code})
            back = f"/documents/archive/settings/?fonds={f.code}"
        elif op == "fonds-update":
            fonds = _settings_fonds(request)
            unit = Unit.objects.filter(id=_int(p.get("unit")) or 0).first() if p.get("unit") else None
            f = actions.do_update_fonds(person=me, post=post, fonds=fonds, code=p.get("code"), name=p.get("name"),
                                        unit=unit, ip=ip)
            messages.success(request, _("已保存。"))
            back = f"/documents/archive/settings/?fonds={f.code}"
        elif op == "setting":
            unit = Unit.objects.filter(id=_int(p.get("unit")) or 0).first()
            if unit is None:
                raise ActionError(_("单位不存在。"), status=404)
            target = None
            if p.get("target"):
                target = Fonds.objects.filter(code=p.get("target", "")[:20]).first()
                if target is None:
                    raise ActionError(_("没有全宗号为 %(c)s 的全宗。") % {"c": p.get("target", "")[:20]}, status=404)
            together = {"1": True, "0": False}.get(p.get("request_with_reply", ""))
            actions.do_set_unit_setting(person=me, post=post, unit=unit, fonds=target, request_with_reply=together,
                                        ip=ip)
            messages.success(request, _("已保存%(u)s的归档设置。") % {"u": unit.name})
        elif op in ("delete", "replace"):
            actions.check_item_deletion(me, p.get("item"))
        else:
            raise ActionError(_("未知的操作。"))
    except ActionError as exc:
        return _error(request, exc)
    return redirect(back)


@login_required
def item_page(request, item_id):
    try:
        item = actions.get_item(request.user, item_id)
    except ActionError as exc:
        return _error(request, exc)
    me = request.user
    actions.audit_view(me, item, "page", ip=client_ip(request), post=request.post)
    latest = item.checks.order_by("-at", "-id").first()
    member = actions.is_member(me, item)
    components = list(item.components.all().order_by("order"))
    for c in components:
        c.viewable = member or actions.borrower_can_view(c)
    return render(request, "documents/archive_item.html", {
        "item": item, "eff": actions.effective(item), "components": components,
        "meta": item.metadata or {}, "versions": item.versions.all().order_by("no"),
        "check": latest, "check_results": checks.labelled(latest.results) if latest else [],
        "is_archivist": item.fonds_id in actions.archivist_fonds_ids(me),
        "is_member": member, "retentions": Retention.choices,
        "org_codes": OrgCode.objects.filter(fonds=item.fonds),
        "disposals": item.disposals.all(), "today": timezone.localdate(),
        "expiry": actions.expiry_year(item),
    })


@login_required
def component(request, item_id, component_id):
    try:
        comp, data, marked = actions.component_for_view(request.user, item_id, component_id, ip=client_ip(request),
                                                        post=request.post)
    except ActionError as exc:
        return _error(request, exc)
    resp = HttpResponse(data, content_type=comp.mime)
    disposition = "inline" if comp.mime == "application/pdf" else "attachment"
    if marked:
        resp["X-Watermarked"] = "1"
    from urllib.parse import quote

    resp["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(comp.name)}"
    return resp


@login_required
def item_xml(request, item_id):
    try:
        item = actions.get_item(request.user, item_id)
    except ActionError as exc:
        return _error(request, exc)
    actions.audit_view(request.user, item, "metadata.xml", ip=client_ip(request), post=request.post)
    return HttpResponse(exports.metadata_xml(item), content_type="application/xml; charset=utf-8")


def _run_for(request, run_id):
    run = CheckRun.objects.filter(id=actions.row_id(run_id)).first()
    if run is None:
        raise ActionError(_("没有找到该检测报告。"), status=404)
    ids = [e["item"] for e in run.report.get("items", []) if e.get("item")]
    visible = set(actions.visible_items(request.user).filter(id__in=ids).values_list("id", flat=True))
    mine = run.fonds_id in actions.member_fonds_ids(request.user) if run.fonds_id else is_system_admin(request.user)
    if not mine and (not ids or set(ids) - visible):
        raise ActionError(_("没有找到该检测报告。"), status=404)
    return run


@login_required
def report(request, run_id, fmt="html"):
    try:
        run = _run_for(request, run_id)
    except ActionError as exc:
        return _error(request, exc)
    items = [{**e, "results": checks.labelled(e["results"])} for e in run.report.get("items", [])]
    if run.stage == CheckStage.RECEIPT:  # a received bag's 件 that the holdings have: link them
        codes = [e["code"] for e in items if not e.get("item") and e.get("code")]
        held = dict(actions.visible_items(request.user).filter(archival_code__in=codes)
                    .values_list("archival_code", "id")) if codes else {}
        items = [{**e, "held": held.get(e.get("code"))} for e in items]
    summary = _("%(stage)s · %(t)s · 共%(n)d件，未通过%(f)d件") % {
        "stage": run.get_stage_display(), "t": timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M"),
        "n": run.total, "f": run.failed}
    if fmt == "json":
        body = {"id": run.id, "stage": run.stage, "ok": run.ok, "total": run.total, "failed": run.failed,
                "started_at": run.started_at.isoformat(), "items": items}
        return HttpResponse(json.dumps(body, ensure_ascii=False, indent=1), content_type="application/json")
    if fmt == "pdf":
        data = pdfs.report_pdf(_("四性检测报告"), items, summary)
        return HttpResponse(data, content_type="application/pdf")
    return render(request, "documents/archive_report.html", {"run": run, "items": items, "summary": summary})


def _fonds_year(request):
    fonds = _fonds_param(request, _my_fonds(request))
    if fonds is None:
        raise ActionError(_("您不属于任何全宗，无法查看目录。"), status=403)
    year = _int(request.GET.get("year")) or timezone.localdate().year
    return fonds, year


@login_required
def catalogue(request, fmt="html"):
    try:
        fonds, year = _fonds_year(request)
    except ActionError as exc:
        return _error(request, exc)
    retention = request.GET.get("retention") or None
    if retention not in Retention.values:
        retention = None
    actions.audit_view(request.user, None, f"catalogue:{fonds.code}:{year}:{fmt}", ip=client_ip(request),
                       post=request.post)
    name = f"{fonds.code}-{year}-归档文件目录"
    from urllib.parse import quote

    if fmt == "pdf":
        resp = HttpResponse(exports.catalogue_pdf(fonds, year, retention, by=request.user.display_name),
                            content_type="application/pdf")
        resp["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(name)}.pdf"
        return resp
    if fmt == "xlsx":
        resp = HttpResponse(exports.catalogue_xlsx(fonds, year, retention),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}.xlsx"
        return resp
    rows = list(exports.catalogue_rows(exports.holdings(fonds, year, retention)[:2000]))
    return render(request, "documents/archive_catalogue.html", {
        "fonds": fonds, "year": year, "rows": rows, "fonds_list": _my_fonds(request), "retention": retention or "",
        "retentions": Retention.choices, "stats": exports.statistics(fonds, year),
        "runs": CheckRun.objects.filter(fonds=fonds)[:10],
        "is_archivist": fonds.id in actions.archivist_fonds_ids(request.user),
    })


@login_required
def stats_pdf(request):
    try:
        fonds, year = _fonds_year(request)
    except ActionError as exc:
        return _error(request, exc)
    return HttpResponse(exports.statistics_pdf(fonds, year), content_type="application/pdf")


@login_required
@require_POST
def export_bag(request):
    """The transfer package of one 全宗 and 年度 as a zip of the bag (the 档案员 only)."""
    try:
        fonds, year = _fonds_year(request)
        year = _int(request.POST.get("year")) or year
        if fonds.id not in actions.archivist_fonds_ids(request.user):
            raise ActionError(_("只有本全宗的档案员可以导出移交包。"), status=403)
        path, cleanup, etag = exports.bag_zip(fonds, year, person=request.user)
        actions.audit_view(request.user, None, f"export:{fonds.code}:{year}", ip=client_ip(request), post=request.post)
    except ActionError as exc:
        return _error(request, exc)
    # streamed with ranges (a year of a 全宗 can be gigabytes; never read whole into memory)
    return ranged_local_file_response(request, path, "application/zip", filename=path.name, cleanup=cleanup,
                                      etag=etag)


@login_required
def manage(request):
    """保管期限表, 机构代码, 到期鉴定, 销毁清册, 借阅审批."""
    me = request.user
    fonds_list = _my_fonds(request)
    try:
        fonds = _fonds_param(request, fonds_list)
    except ActionError as exc:
        return _error(request, exc)
    if fonds is None:
        return _error(request, ActionError(_("您不属于任何全宗。"), status=403))
    leader = fonds.id in actions.leader_fonds_ids(me)
    return render(request, "documents/archive_manage.html", {
        "fonds": fonds, "fonds_list": fonds_list, "rules": assemble.rules_for(fonds),
        "own_rules": fonds.rules.exists(), "org_codes": OrgCode.objects.filter(fonds=fonds),
        "due": actions.due_for_appraisal(fonds), "is_archivist": fonds.id in actions.archivist_fonds_ids(me),
        "is_leader": leader, "disposals": Disposal.objects.filter(item__fonds=fonds, state=DecisionState.PENDING)
        .select_related("item"),
        "destroyed": DestructionEntry.objects.filter(fonds=fonds)[:500],
        "access": AccessRequest.objects.filter(item__fonds=fonds, state=DecisionState.PENDING).select_related("item"),
        "retentions": Retention.choices, "doc_types": DocType.choices,
        "directions": [("sent", _("发文")), ("received", _("收文"))],
        "alerts": fonds_alerts(fonds), "resolved_alerts": fonds_alerts(fonds, resolved=True)[:10],
        "can_settle": fonds.id in actions.archivist_fonds_ids(me) or is_system_admin(me),
    })


def fonds_alerts(fonds, *, resolved=False):
    from documents.archive.models import FixityAlert

    return list(FixityAlert.objects.filter(item__fonds=fonds, resolved_at__isnull=not resolved)
                .select_related("item", "component").order_by("-resolved_at" if resolved else "-at", "-id")[:50])


# --------------------------------------------------------------------- reports and settings

@login_required
def reports(request):
    """The kept 四性 reports the person may read: their 全宗's batches (filing, transfer, received
    bags, periodic and manual checks); an administrator also sees received bags of no 全宗 here."""
    me = request.user
    fonds_ids = actions.member_fonds_ids(me)
    qs = CheckRun.objects.filter(fonds_id__in=fonds_ids)
    if is_system_admin(me):
        qs = CheckRun.objects.filter(Q(fonds_id__in=fonds_ids) | Q(fonds__isnull=True, stage=CheckStage.RECEIPT))
    stage = request.GET.get("stage") or ""
    if stage in CheckStage.values:
        qs = qs.filter(stage=stage)
    page = Paginator(qs.select_related("fonds").order_by("-started_at", "-id"), PAGE).get_page(request.GET.get("page"))
    return render(request, "documents/archive_reports.html", {"page": page, "stage": stage,
                                                               "stages": CheckStage.choices})


def _settings_fonds(request):
    """The 全宗 of the settings page: one the person keeps (档案员) or any (administrator)."""
    me = request.user
    ids = actions.manageable_fonds_ids(me)
    qs = Fonds.objects.select_related("unit")
    if ids is not None:
        qs = qs.filter(id__in=ids)
    code = (request.GET.get("fonds") or request.POST.get("fonds") or "")[:20]
    fonds = qs.filter(code=code).first() if code else qs.order_by("code").first()
    if fonds is None:
        if code or ids is not None:
            raise ActionError(_("只有本全宗的档案员或系统管理员可以修改归档设置。"), status=403)
    return fonds


def _setting_rows(fonds):
    """The units whose records go into this 全宗 (its 立档单位, departments, villages under 代管,
    and units set to it), each with its setting."""
    units = [fonds.unit] + list(Unit.objects.filter(parent_id=fonds.unit_id, kind__in=(UnitKind.VILLAGE,
                                                                                      UnitKind.DEPARTMENT))
                                .order_by("kind", "name")[:200])
    moved_in = UnitSetting.objects.filter(fonds=fonds).exclude(unit_id__in=[u.id for u in units]) \
        .select_related("unit")[:200]
    units += [s.unit for s in moved_in]
    settings = {s.unit_id: s for s in UnitSetting.objects.filter(unit_id__in=[u.id for u in units])
                .select_related("fonds")}
    own = {f.unit_id: f for f in Fonds.objects.filter(unit_id__in=[u.id for u in units])}
    rows = []
    for u in units:
        s = settings.get(u.id)
        into = (s.fonds if s and s.fonds_id else None) or own.get(u.id) or fonds
        rows.append({"unit": u, "fonds": into, "together": s.request_with_reply if s else True,
                     "custom": bool(s and s.fonds_id)})
    return rows


@login_required
def settings_page(request):
    """归档设置: the 全宗 (code, name, 立档单位), which 全宗 each unit's records go into (代管),
    请示 and 批复 as one 件 or two, the 保管期限表 and 机构代码 (on the management page)."""
    me = request.user
    try:
        fonds = _settings_fonds(request)
    except ActionError as exc:
        return _error(request, exc)
    admin = is_system_admin(me)
    ids = actions.manageable_fonds_ids(me)
    choices = Fonds.objects.order_by("code") if ids is None else Fonds.objects.filter(id__in=ids).order_by("code")
    ctx = {"fonds": fonds, "is_admin": admin, "fonds_choices": list(choices[:500]),
           "has_codes": bool(fonds and Item.objects.filter(fonds=fonds, archival_code__isnull=False).exists()),
           "rows": _setting_rows(fonds) if fonds else []}
    if admin:
        ctx["free_units"] = list(Unit.objects.exclude(kind=UnitKind.DEPARTMENT)
                                 .exclude(id__in=Fonds.objects.values("unit_id")).order_by("depth", "name")[:300])
    return render(request, "documents/archive_settings.html", ctx)
