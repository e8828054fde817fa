"""Pages for seals (印章管理) and the 公文-files part of the detail page (downloads, 用印 state).

Every change goes through documents.files.actions; refusals re-render with a 4xx.
"""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from documents import actions
from documents.files import actions as file_actions
from documents.render.docx import MAX_DOCX_BYTES
from documents.signing import ca, gm_seals
from office.actions import admin_scope, scope_filter
from office.audit import client_ip
from office.errors import ActionError
from office.models import Unit, UnitKind

SEAL_ROLES = ("secretary", "admin")


def files_context(person, doc) -> dict:
    """What the detail page shows about the document as a file: sealing state per issuer and
    whether `person` may press 用印 now (the final word stays with file_actions.check_can_seal)."""
    status = file_actions.sealing_status(doc)
    issuers = [doc.unit] + list(doc.co_issuers.all().order_by("id"))
    sealed_ids = {u["id"] for u in status["units"] if u["sealed"]}
    mine = [u for u in issuers if file_actions._keeps(person, u)]
    sealable = doc.state in file_actions.SEALABLE_STATES
    todo = sealable and not status["complete"] and any(u.id not in sealed_ids for u in mine)
    # a co-issuer's keeper waits until the lead (主办) unit has sealed
    waiting_for_lead = todo and doc.unit_id not in sealed_ids and doc.unit_id not in {u.id for u in mine}
    # every issuer needs its seal before anyone can press 用印 (file_actions.check_can_seal)
    missing = [u for u in issuers if not ca.has_seal(u.id)] if todo and not waiting_for_lead else []
    can_seal = todo and not waiting_for_lead and not missing
    return {
        "complete": status["complete"],
        "units": status["units"],
        "joint": len(issuers) > 1,
        "partly": bool(sealed_ids) and not status["complete"],
        "sealable": sealable,
        "can_seal": can_seal,
        "waiting_for_lead": waiting_for_lead,
        "lead_name": doc.unit.name,
        "keeper": bool(mine),
        "missing_seals": missing,
    }


def import_limits() -> dict:
    return {"max_bytes": MAX_DOCX_BYTES, "max_mb": MAX_DOCX_BYTES // (1024 * 1024)}


def _keeper_units(person):
    """Units whose seal `person` keeps: units where they hold an admin post (to make its seal), the
    units they keep as secretary while no keeper is named (and the government whose 办公室 they
    serve), and the units whose named keeper they are."""
    out = {}
    posts = actions.person_posts(person)
    for post in posts:
        if not any(post.has_role(r) for r in SEAL_ROLES):
            continue
        unit = post.unit
        if post.has_role("admin") or file_actions._keeper_post(person, unit, posts) is not None:
            out[unit.id] = unit
        if unit.kind == UnitKind.DEPARTMENT and unit.is_office and unit.parent_id and post.has_role("secretary"):
            parent = Unit.objects.filter(id=unit.parent_id).first()
            if parent is not None and file_actions._keeper_post(person, parent, posts) is not None:
                out[parent.id] = parent
    from documents.models import SealKeeper

    for keeper in SealKeeper.objects.filter(post__person_id=person.id, post__active=True).select_related("unit"):
        out[keeper.unit.id] = keeper.unit  # named keeper (印章保管人) of the unit's seal
    return sorted(out.values(), key=lambda u: u.path)


def _when(value):
    if not value:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, dt.datetime) else None


def _seal_row(person, unit) -> dict:
    row = {"unit": unit, "has_seal": ca.has_seal(unit.id), "manifest": None, "uses": [], "can_create": False,
           "reason": ""}
    if row["has_seal"]:
        try:
            manifest = ca.manifest(unit.id) or {}
        except (ca.SealError, ValueError):
            manifest = {}
        manifest["created"] = _when(manifest.get("created_at"))
        manifest["until"] = _when(manifest.get("not_after"))
        row["manifest"] = manifest
        row["sm2_serial"] = gm_seals.serial(unit.id)  # the 国密 seal beside it (None until issued)
        from office.models import Person

        uses = ca.usage_log(unit.id)[-10:]
        names = dict(Person.objects.filter(id__in=[u.get("person_id") for u in uses if u.get("person_id")])
                     .values_list("id", "display_name"))
        for use in uses:
            use["when"] = _when(use.get("at"))
            use["person"] = names.get(use.get("person_id"), "")
        row["uses"] = list(reversed(uses))
    else:
        try:
            file_actions.check_can_create_seal(person, unit)
            row["can_create"] = True
        except ActionError as exc:
            row["reason"] = exc.message
    return row


@login_required
def seals_page(request):
    """印章管理: a unit's secretary (or an administrator) makes the unit's seal and sees its 用印 log."""
    person = request.user
    error, status = None, 200
    if request.method == "POST":
        unit = Unit.objects.filter(id=request.POST.get("unit") or 0).first() \
            if str(request.POST.get("unit", "")).isdigit() else None
        try:
            if unit is None:
                raise ActionError(_("单位不存在。"), status=404)
            file_actions.do_create_seal(person=person, unit=unit, ip=client_ip(request))
        except ActionError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(request, _("已为%(u)s制作电子印章。") % {"u": unit.name})
            return redirect(f"/documents/files/seals/#seal-{unit.id}")
    scope = admin_scope(person, actions.person_posts(person))
    admin = scope is None or bool(scope)  # the system administrator, or a unit's: their subtree only
    units = _keeper_units(person)
    q = (request.GET.get("q") or "").strip()[:50]
    found = []
    if admin and q:
        known = {u.id for u in units}
        found = [u for u in Unit.objects.active().filter(scope_filter(scope), name__icontains=q).order_by("path")[:20]
                 if u.id not in known]
    rows = [_seal_row(person, u) for u in units + found]
    return render(request, "documents/seals.html", {
        "rows": rows, "error": error, "admin": admin, "q": q, "box": "seals",
        "searched": bool(q), "keeper": bool(units) or admin,
    }, status=status)


@login_required
def keepers_page(request, unit_id):
    """印章保管人: an administrator of the unit names the posts that keep its seal, or removes them."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from documents.models import SealKeeper
    from office.actions import check_can_administer
    from office.models import Post

    person = request.user
    unit = Unit.objects.filter(id=unit_id).select_related("parent").first()
    if unit is None:
        raise Http404(_("没有这个单位。"))
    try:
        check_can_administer(person, unit, posts=request.posts)
    except ActionError as exc:
        raise PermissionDenied(exc.message) from None
    error, status = None, 200
    if request.method == "POST":
        op = request.POST.get("op")
        raw = str(request.POST.get("post") or "")
        target = Post.objects.select_related("person", "unit").filter(id=int(raw)).first() \
            if raw.isdigit() and len(raw) < 12 else None
        try:
            if op == "add":
                file_actions.do_add_seal_keeper(actor=person, post=request.post, unit=unit, target_post=target,
                                                ip=client_ip(request))
                messages.success(request, _("已指定%(who)s为印章保管人。") % {"who": target.person.display_name})
            elif op == "remove" and target is not None:
                file_actions.do_remove_seal_keeper(actor=person, post=request.post, unit=unit, target_post=target,
                                                   ip=client_ip(request))
                messages.success(request, _("已移除印章保管人%(who)s。") % {"who": target.person.display_name})
            else:
                raise ActionError(_("请选择人员。"))
        except ActionError as exc:
            error, status = exc.message, (exc.status if exc.status < 500 else 400)
        else:
            return redirect(f"/documents/files/seals/{unit.id}/keepers/")
    named = list(SealKeeper.objects.filter(unit=unit).select_related("post__person", "post__unit", "named_by")
                 .order_by("id"))
    named_ids = {k.post_id for k in named}
    candidates = [p for p in file_actions.keeper_candidates(unit) if p.id not in named_ids]
    active_named = [k for k in named if k.post.active and k.post.person.is_active]
    defaults = [] if active_named else [p for p in candidates if p.is_secretary]
    return render(request, "documents/seal_keepers.html", {
        "unit": unit, "named": named, "candidates": candidates, "defaults": defaults, "error": error,
        "has_seal": ca.has_seal(unit.id), "box": "seals",
    }, status=status)
