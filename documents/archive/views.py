"""档案 pages. Every change goes through documents.archive.actions; refusals come back as a 4xx
with the reason."""
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
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
)
from documents.models import DocType
from office.audit import client_ip
from office.downloads import ranged_local_file_response
from office.errors import ActionError

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
        elif op == "rule-delete":
            fonds = _fonds_param(request, _my_fonds(request))
            actions.do_delete_rule(person=me, post=post, fonds=fonds, rule_id=_int(p.get("rule")), ip=ip)
            messages.success(request, _("已删除。"))
        elif op == "orgcode":
            fonds = _fonds_param(request, _my_fonds(request))
            actions.do_set_org_code(person=me, post=post, fonds=fonds, code=p.get("code", ""), name=p.get("name", ""),
                                    ip=ip)
            messages.success(request, _("已保存。"))
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
    return render(request, "documents/archive_item.html", {
        "item": item, "eff": actions.effective(item), "components": item.components.all().order_by("order"),
        "meta": item.metadata or {}, "versions": item.versions.all().order_by("no"),
        "check": latest, "check_results": checks.labelled(latest.results) if latest else [],
        "is_archivist": item.fonds_id in actions.archivist_fonds_ids(me),
        "is_member": actions.is_member(me, item), "retentions": Retention.choices,
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
    mine = run.fonds_id in actions.member_fonds_ids(request.user) if run.fonds_id else False
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
        path, cleanup = exports.bag_zip(fonds, year, person=request.user)
        actions.audit_view(request.user, None, f"export:{fonds.code}:{year}", ip=client_ip(request), post=request.post)
    except ActionError as exc:
        return _error(request, exc)
    # streamed with ranges (a year of a 全宗 can be gigabytes; never read whole into memory)
    return ranged_local_file_response(request, path, "application/zip", filename=path.name, cleanup=cleanup)


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
        "alerts": fonds_alerts(fonds),
    })


def fonds_alerts(fonds):
    from documents.archive.models import FixityAlert

    return FixityAlert.objects.filter(item__fonds=fonds).select_related("item", "component")[:50]
