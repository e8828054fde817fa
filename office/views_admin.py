"""The administration pages (管理): the unit tree, people and their posts, sign-off delegations.

A system administrator administers everything, a unit's administrator their own unit and below
(office.actions.admin_scope); anyone else gets the shell's 403 page. Every change goes through
office.actions; a refusal re-renders the form with its Chinese message and a 4xx.
(Seal keepers are the documents app's: documents/files/seals.py, linked from the unit page.)
"""
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from office import actions, audit
from office.errors import ActionError
from office.forms_admin import AddPostForm, DelegationForm, NewPersonForm, PersonForm, UnitEditForm, UnitFieldsForm
from office.models import Delegation, Person, Post, Unit, UnitKind

TREE_CHILDREN_LIMIT = 300
SEARCH_LIMIT = 50
PARENT_CHOICES_LIMIT = 300


def _scope(request, unit=None):
    """The administrator's scope (None: everything), or the shell's 403 page."""
    try:
        return actions.check_can_administer(request.user, unit, posts=request.posts)
    except ActionError as exc:
        raise PermissionDenied(exc.message) from None


def _status(exc):
    return exc.status if 400 <= exc.status < 500 else 400


def _int(value):
    value = str(value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def _get_unit(unit_id):
    unit = Unit.objects.select_related("parent").filter(id=unit_id).first()
    if unit is None:
        raise Http404(_("没有这个单位。"))
    return unit


def _with_child_counts(qs):
    return qs.annotate(child_count=Count("children", filter=Q(children__dissolved_at__isnull=True), distinct=True))


def _tree_order(units):
    """Governments first (by their order and name), then the internal offices and departments."""
    return sorted(units, key=lambda u: (u.kind == UnitKind.DEPARTMENT, u.sort_order, u.name))


def _crumbs(units_by_id, unit):
    return [units_by_id[i] for i in unit.ancestor_ids() if i in units_by_id]


# ---- index and tree -----------------------------------------------------------------------
@login_required
def index(request):
    scope = _scope(request)
    roots = None if scope is None else scope
    return render(request, "office/admin/index.html", {"roots": roots, "system": scope is None})


@login_required
def units_tree(request):
    """组织机构: the administrator's part of the tree, one level at a time (children load on demand),
    and search by name or code."""
    scope = _scope(request)
    q = (request.GET.get("q") or "").strip()[:50]
    roots = _with_child_counts(Unit.objects.filter(parent__isnull=True) if scope is None
                               else Unit.objects.filter(id__in=[u.id for u in scope]))
    context = {"q": q, "roots": _tree_order(roots)}
    if q:
        match = Q(name__contains=q) | Q(short_name__contains=q)
        if q.isdigit():
            match |= Q(code__startswith=q)
        found = list(Unit.objects.filter(match).filter(actions.scope_filter(scope))
                     .order_by(F("dissolved_at").asc(nulls_first=True), "depth", "path")[:SEARCH_LIMIT])
        wanted = {i for u in found for i in u.ancestor_ids()}
        above = Unit.objects.in_bulk(wanted) if wanted else {}
        context["found"] = [{"unit": u, "crumbs": _crumbs(above, u)} for u in found]
        context["more"] = len(found) == SEARCH_LIMIT
    return render(request, "office/admin/units.html", context)


@login_required
def unit_children(request, unit_id):
    """The children of one unit, as the tree's next level (an HTML fragment the page inserts)."""
    unit = _get_unit(unit_id)
    _scope(request, unit)
    children = list(_with_child_counts(Unit.objects.filter(parent_id=unit.id, dissolved_at__isnull=True))
                    .order_by("sort_order", "name")[:TREE_CHILDREN_LIMIT + 1])
    return render(request, "office/admin/_tree_nodes.html", {
        "nodes": _tree_order(children[:TREE_CHILDREN_LIMIT]), "parent": unit,
        "more": len(children) > TREE_CHILDREN_LIMIT,
    })


# ---- a unit -------------------------------------------------------------------------------
def _parent_choices(scope, unit):
    """Where the unit may be placed: the city, counties and towns inside the administrator's scope
    (not the unit itself or anything below it), its present parent always among them. Whether a
    place fits the unit's level is the tree's rule (Unit.clean_shape), said in the form."""
    qs = (Unit.objects.active().filter(kind__in=[UnitKind.CITY, UnitKind.COUNTY, UnitKind.TOWN])
          .filter(actions.scope_filter(scope)).exclude(path__startswith=unit.path)
          .order_by("path")[:PARENT_CHOICES_LIMIT])
    out = list(qs)
    if unit.parent is not None and unit.parent.id not in {u.id for u in out}:
        out.insert(0, unit.parent)
    return out


def _unit_initial(unit):
    return {"name": unit.name, "short_name": unit.short_name, "code": unit.code or "", "kind": unit.kind,
            "parent": unit.parent_id or ""}


@login_required
def unit_page(request, unit_id):
    """单位: edit its names, code, level and parent; add a unit below it; 撤销 (deactivate) it."""
    unit = _get_unit(unit_id)
    scope = _scope(request, unit)
    parents = _parent_choices(scope, unit)
    from_directory = unit.id in actions.directory_unit_ids()

    def edit_form(data=None):
        f = UnitEditForm(data, initial=_unit_initial(unit), parents=parents, prefix="edit")
        if from_directory:  # the directory's fields: shown, not taken from a post
            for name in ("name", "code", "kind", "parent"):
                f.fields[name].disabled = True
        return f

    form = edit_form()
    child_form = UnitFieldsForm(initial={"kind": _child_kind(unit)}, prefix="child")
    status, ip, error = 200, audit.client_ip(request), ""
    if request.method == "POST":
        op = request.POST.get("op")
        try:
            if op == "update":
                form = edit_form(request.POST)
                if not form.is_valid():
                    raise ActionError(_("请检查并修改标出的内容。"))
                data = form.cleaned_data
                parent = Unit.objects.filter(id=data["parent"]).first() if data["parent"] else None
                if (parent.id if parent else None) != unit.parent_id:  # a move: the new place must be theirs too
                    if parent is not None:
                        actions.check_can_administer(request.user, parent, posts=request.posts)
                    elif scope is not None:
                        raise ActionError(_("您无权管理该单位。"), status=403)
                actions.do_update_unit(actor=request.user, post=request.post, unit=unit, name=data["name"],
                                       short_name=data["short_name"], code=data["code"], kind=data["kind"],
                                       parent=parent, ip=ip)
                messages.success(request, _("已保存单位信息。"))
                return redirect(f"/office/admin/units/{unit.id}/")
            if op == "create_child":
                child_form = UnitFieldsForm(request.POST, prefix="child")
                if not child_form.is_valid():
                    raise ActionError(_("请检查并修改标出的内容。"))
                data = child_form.cleaned_data
                child = actions.do_create_unit(actor=request.user, post=request.post, parent=unit, kind=data["kind"],
                                               name=data["name"], short_name=data["short_name"].strip(),
                                               code=data["code"].strip() or None, ip=ip)
                messages.success(request, _("已新增单位：%(u)s") % {"u": child.name})
                return redirect(f"/office/admin/units/{child.id}/")
            if op == "dissolve":
                if scope is not None and unit.id in {u.id for u in scope}:
                    raise ActionError(_("不能撤销您所管理的最上级单位，请联系上级管理员。"), status=403)
                actions.do_dissolve_unit(actor=request.user, post=request.post, unit=unit, ip=ip)
                messages.success(request, _("已撤销单位：%(u)s") % {"u": unit.name})
                return redirect(f"/office/admin/units/{unit.id}/")
            raise ActionError(_("不支持的操作。"))
        except ActionError as exc:
            status = _status(exc)
            error = exc.message
    children = _with_child_counts(Unit.objects.filter(parent_id=unit.id)).order_by(F("dissolved_at").asc(nulls_first=True), "sort_order", "name")
    page = Paginator(children, 60).get_page(request.GET.get("page"))
    posts = (Post.objects.filter(unit=unit, active=True).select_related("person")
             .order_by("-is_leader", "-is_admin", "id")[:200])
    return render(request, "office/admin/unit.html", {
        "from_directory": from_directory,
        "unit": unit, "ancestors": [(a, actions.in_scope(scope, a)) for a in unit.ancestors()], "form": form,
        "child_form": child_form,
        "children": page, "posts": posts, "can_dissolve": unit.dissolved_at is None and not from_directory and not (
            scope is not None and unit.id in {u.id for u in scope}),
        "failed": request.POST.get("op") if status != 200 else None, "error": error,
    }, status=status)


def _child_kind(unit):
    below = {UnitKind.CITY: UnitKind.COUNTY, UnitKind.COUNTY: UnitKind.TOWN, UnitKind.TOWN: UnitKind.VILLAGE}
    return below.get(unit.kind, UnitKind.DEPARTMENT)


# ---- people -------------------------------------------------------------------------------
def _people_in_scope(scope):
    if scope is None:
        return Person.objects.all()
    return Person.objects.filter(id__in=Post.objects.filter(actions.scope_filter(scope, "unit__path"))
                                 .values("person_id"))


@login_required
def people(request):
    """人员: search by name, user name or phone; each person with their posts now."""
    scope = _scope(request)
    q = (request.GET.get("q") or "").strip()[:50]
    qs = _people_in_scope(scope)
    if q:
        qs = qs.filter(Q(display_name__contains=q) | Q(username__icontains=q) | Q(phone__contains=q))
    qs = qs.order_by("display_name", "id").prefetch_related(
        Prefetch("posts", queryset=Post.objects.filter(active=True).select_related("unit").order_by("unit__path"),
                 to_attr="current_posts"))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "office/admin/people.html", {"q": q, "page": page,
                                                        "query": urlencode({"q": q}) + "&" if q else ""})


def _resolve_unit(text, scope):
    """A unit named by its code or its (short) name, inside the scope; a Chinese error otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    qs = Unit.objects.active().filter(actions.scope_filter(scope))
    found = list(qs.filter(code=text)[:2]) if text.isdigit() else []
    if not found:
        found = list(qs.filter(name=text)[:2]) or list(qs.filter(short_name=text)[:2])
    if not found:
        raise ActionError(_("没有找到单位“%(u)s”（或不在您的管理范围内）。") % {"u": text}, status=404)
    if len(found) > 1:
        raise ActionError(_("有多个单位名为“%(u)s”，请填写行政区划代码。") % {"u": text})
    return found[0]


@login_required
def person_new(request):
    """新增人员: a local account and, for a unit's administrator always, their first post."""
    scope = _scope(request)
    preset_id = _int(request.POST.get("unit_id") or request.GET.get("unit"))
    preset = Unit.objects.filter(id=preset_id).first() if preset_id else None
    if preset is not None:
        _scope(request, preset)
    initial = {"is_active": True, "unit": preset.code or preset.name if preset else ""}
    form = NewPersonForm(initial=initial)
    status, error = 200, ""
    if request.method == "POST":
        form = NewPersonForm(request.POST)
        try:
            if not form.is_valid():
                raise ActionError(_("请检查并修改标出的内容。"))
            data = form.cleaned_data
            text = data["unit"].strip()
            if preset is not None and text in {preset.code or "", preset.name, preset.short_name} - {""}:
                unit = preset  # the unit the page was opened from (its name may recur elsewhere)
            else:
                unit = _resolve_unit(text, scope)
            if unit is None and scope is not None:
                raise ActionError(_("请填写人员所在的单位。"))
            if unit is not None:
                actions.check_can_administer(request.user, unit, posts=request.posts)
            person = actions.do_add_person(actor=request.user, post=request.post, username=data["username"],
                                           display_name=data["display_name"], phone=data["phone"],
                                           password=data["password"], unit=unit, roles=data["roles"],
                                           title=data["title"], ip=audit.client_ip(request))
            messages.success(request, _("已新增人员：%(p)s") % {"p": person.display_name})
            return redirect(f"/office/admin/people/{person.id}/")
        except ActionError as exc:
            status = _status(exc)
            error = exc.message
    return render(request, "office/admin/person_new.html", {"form": form, "preset": preset, "error": error},
                  status=status)


@login_required
def person_page(request, person_id):
    """人员: their name, user name, phone and whether they may sign in; their posts (add, end)."""
    target = Person.objects.filter(id=person_id).first()
    if target is None:
        raise Http404(_("没有这个人员。"))
    try:
        scope = actions.check_can_administer_person(request.user, target, posts=request.posts)
    except ActionError as exc:
        raise PermissionDenied(exc.message) from None
    initial = {"display_name": target.display_name, "username": target.username, "phone": target.phone,
               "is_active": target.is_active}
    form, post_form = PersonForm(initial=initial, prefix="person"), AddPostForm(prefix="post")
    status, ip, op, error = 200, audit.client_ip(request), request.POST.get("op"), ""
    if request.method == "POST":
        try:
            if op == "update":
                form = PersonForm(request.POST, prefix="person")
                actions.check_can_administer_person(request.user, target, edit=True, posts=request.posts)
                if not form.is_valid():
                    raise ActionError(_("请检查并修改标出的内容。"))
                data = form.cleaned_data
                actions.do_update_person(actor=request.user, post=request.post, target=target,
                                         username=data["username"], display_name=data["display_name"],
                                         phone=data["phone"], is_active=data["is_active"], ip=ip)
                messages.success(request, _("已保存人员信息。"))
            elif op == "add_post":
                post_form = AddPostForm(request.POST, prefix="post")
                if not post_form.is_valid():
                    raise ActionError(_("请检查并修改标出的内容。"))
                data = post_form.cleaned_data
                unit = _resolve_unit(data["unit"], scope)
                actions.check_post_change(request.user, target, unit, posts=request.posts)
                actions.do_set_post(actor=request.user, post=request.post, person=target, unit=unit,
                                    roles=data["roles"], title=data["title"].strip(), ip=ip)
                messages.success(request, _("已设置岗位：%(u)s") % {"u": unit.name})
            elif op == "end_post":
                ending = Post.objects.select_related("unit").filter(id=_int(request.POST.get("post")),
                                                                    person=target).first()
                if ending is None:
                    raise ActionError(_("没有这个岗位。"), status=404)
                actions.check_post_change(request.user, target, ending.unit, ending=ending, posts=request.posts)
                actions.do_end_post(actor=request.user, post=request.post, target=ending, ip=ip)
                messages.success(request, _("已结束岗位：%(u)s") % {"u": ending.unit.name})
            else:
                raise ActionError(_("不支持的操作。"))
            return redirect(f"/office/admin/people/{target.id}/")
        except ActionError as exc:
            status = _status(exc)
            error = exc.message
            target.refresh_from_db()
    held = list(Post.objects.filter(person=target).select_related("unit").order_by("-active", "unit__path"))
    for post in held:
        post.manageable = actions.in_scope(scope, post.unit) and post.source != "ldap"
    editable = scope is None or all(actions.in_scope(scope, p.unit) for p in held if p.active)
    return render(request, "office/admin/person.html", {
        "target": target, "form": form, "post_form": post_form, "held": held, "editable": editable,
        "directory": target.source == "ldap", "failed": op if status != 200 else None, "error": error,
    }, status=status)


# ---- delegations --------------------------------------------------------------------------
def _delegation_state(d, now):
    if d.revoked_at is not None:
        return "revoked", _("已撤销")
    if d.ends_at <= now:
        return "ended", _("已到期")
    if d.starts_at > now:
        return "future", _("未开始")
    return "current", _("生效中")


@login_required
def delegations(request):
    """代理授权: who signs off for whom and when; create one for a leader, or end one now."""
    scope = _scope(request)
    in_scope = actions.scope_filter(scope, "unit__path")
    leaders = list(Post.objects.active().filter(is_leader=True).filter(in_scope)
                   .select_related("person", "unit").order_by("unit__path", "id")[:500])
    from_id = _int(request.POST.get("from_post") or request.GET.get("from_post") or request.GET.get("from"))
    chosen = next((p for p in leaders if p.id == from_id), None)
    deputies = []
    if chosen is not None:
        gov = chosen.unit.government  # the government's own posts and its departments' (two levels down)
        same = (Q(unit=gov) | Q(unit__parent=gov, unit__kind=UnitKind.DEPARTMENT)
                | Q(unit__parent__parent=gov, unit__parent__kind=UnitKind.DEPARTMENT, unit__kind=UnitKind.DEPARTMENT))
        deputies = list(Post.objects.active().filter(same).filter(in_scope).exclude(id=chosen.id).select_related("person", "unit")
                        .order_by("-is_leader", "unit__path", "id")[:300])
    now = timezone.localtime()
    initial = {"from_post": chosen.id if chosen else "", "starts_at": now.replace(second=0, microsecond=0),
               "ends_at": (now + datetime.timedelta(days=7)).replace(second=0, microsecond=0)}
    form = DelegationForm(initial=initial, from_posts=leaders, to_posts=deputies)
    status, ip, op, error = 200, audit.client_ip(request), request.POST.get("op"), ""
    if request.method == "POST":
        try:
            if op == "create":
                form = DelegationForm(request.POST, from_posts=leaders, to_posts=deputies)
                if not form.is_valid():
                    raise ActionError(_("请检查并修改标出的内容。"))
                data = form.cleaned_data
                from_post = chosen
                to_post = next(p for p in deputies if p.id == data["to_post"])
                delegation = actions.do_delegate(actor=request.user, from_post=from_post, to_post=to_post,
                                                 starts_at=data["starts_at"], ends_at=data["ends_at"],
                                                 reason=data["reason"].strip(), ip=ip)
                messages.success(request, _("已委托 %(who)s 代签。") % {"who": delegation.to_post.person.display_name})
            elif op == "end":
                ending = (Delegation.objects.select_related("from_post__unit", "to_post__person")
                          .filter(id=_int(request.POST.get("delegation"))).first())
                if ending is None or not actions.in_scope(scope, ending.from_post.unit):
                    raise ActionError(_("没有这个代理授权，或您无权管理。"), status=404)
                actions.do_end_delegation(actor=request.user, post=request.post, delegation=ending, ip=ip)
                messages.success(request, _("已撤销 %(who)s 的代签授权。") % {"who": ending.to_post.person.display_name})
            else:
                raise ActionError(_("不支持的操作。"))
            return redirect("/office/admin/delegations/")
        except ActionError as exc:
            status = _status(exc)
            error = exc.message
    rows = (Delegation.objects.filter(actions.scope_filter(scope, "from_post__unit__path"))
            .select_related("from_post__person", "from_post__unit", "to_post__person", "to_post__unit")
            .order_by("-starts_at", "-id"))
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    for d in page:
        d.state, d.state_label = _delegation_state(d, now)
    return render(request, "office/admin/delegations.html", {
        "form": form, "chosen": chosen, "page": page, "leaders": leaders, "failed": op if status != 200 else None,
        "error": error,
    }, status=status)
