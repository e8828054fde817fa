"""Actions on the organisation: the only writers of units, posts and delegations."""
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import ROLE_FIELDS, Delegation, Person, Post, Unit, UnitKind


# -- who administers what -------------------------------------------------------------------
def admin_scope(person, posts=None):
    """The units whose subtrees `person` administers: None for everything (a system administrator:
    the break-glass superuser, or an administrator post at the top of the tree), else the units of
    their administrator posts (a unit's administrator: their own unit and below; [] for nobody)."""
    if person is None or not person.is_authenticated or not person.is_active:
        return []
    if person.is_superuser:
        return None
    if posts is None:
        posts = Post.objects.active().filter(person_id=person.id).select_related("unit")
    units = [p.unit for p in posts if p.is_admin and p.active and p.unit.dissolved_at is None]
    if any(u.parent_id is None for u in units):
        return None
    return sorted(units, key=lambda u: u.path)


def in_scope(scope, unit):
    return scope is None or any(unit.path.startswith(root.path) for root in scope)


def scope_filter(scope, field="path"):
    """A Q for the rows (units, or through `field` e.g. "unit__path") inside the scope."""
    from django.db.models import Q

    if scope is None:
        return Q()
    if not scope:
        return Q(pk__in=[])
    q = Q()
    for root in scope:
        q |= Q(**{f"{field}__startswith": root.path})
    return q


def is_system_admin(person, posts=None) -> bool:
    """The one notion of a system administrator (系统管理员): prefecture-wide functions (directory
    sync, every 全宗's archive settings, any unit's seal) are theirs alone, not a unit's administrator's."""
    return person is not None and person.is_authenticated and person.is_active \
        and admin_scope(person, posts) is None


def check_system_admin(person, posts=None, message=None):
    if not is_system_admin(person, posts):
        raise ActionError(message or _("只有系统管理员可以进行此操作。"), status=403)


def can_administer(person, unit, posts=None) -> bool:
    """Is `unit` inside what `person` administers (the system administrator: every unit)?"""
    scope = admin_scope(person, posts)
    return scope is None or bool(scope and in_scope(scope, unit))


def check_can_administer(person, unit=None, posts=None):
    """May `person` administer `unit` (or, without one, anything at all)? Returns the scope."""
    scope = admin_scope(person, posts)
    if scope is not None and (not scope or (unit is not None and not in_scope(scope, unit))):
        raise ActionError(_("您无权管理该单位。") if unit is not None and scope else
                          _("只有系统管理员或单位管理员可以进行组织机构管理。"), status=403)
    return scope


def check_unit_fields(*, name, kind, code=None, short_name="", doc_prefix="", fonds_no="", unit_id=None):
    name = (name or "").strip()
    if not name:
        raise ActionError(_("单位名称不能为空。"))
    if len(name) > 100:
        raise ActionError(_("单位名称不能超过100个字符。"))
    if kind not in UnitKind.values:
        raise ActionError(_("未知的单位类型：%(kind)s") % {"kind": kind})
    for label, value, limit in ((_("简称"), short_name, 50), (_("机关代字"), doc_prefix, 20), (_("全宗号"), fonds_no, 20)):
        if value and len(value) > limit:
            raise ActionError(_("%(label)s不能超过%(n)d个字符。") % {"label": label, "n": limit})
    if code:
        if not (code.isdigit() and len(code) in (6, 9, 12)):
            raise ActionError(_("行政区划代码应为6、9或12位数字：%(code)s") % {"code": code})
        if Unit.objects.filter(code=code).exclude(id=unit_id).exists():
            raise ActionError(_("行政区划代码 %(code)s 已被其他单位使用。") % {"code": code}, status=409)
    return name


def do_create_unit(*, actor=None, post=None, parent=None, kind, name, code=None, short_name="",
                   doc_prefix="", fonds_no="", is_office=False, is_local=False, ip=None, sort_order=0):
    name = check_unit_fields(name=name, kind=kind, code=code, short_name=short_name,
                             doc_prefix=doc_prefix, fonds_no=fonds_no)
    unit = Unit(parent=parent, kind=kind, name=name, code=code or None, short_name=short_name,
                doc_prefix=doc_prefix, fonds_no=fonds_no, is_office=is_office, is_local=is_local,
                sort_order=sort_order)
    unit.clean_shape()
    if parent is not None and Unit.objects.filter(parent=parent, name=name).exists():
        raise ActionError(_("%(parent)s下已有名为“%(name)s”的单位。") % {"parent": parent.name, "name": name}, status=409)
    try:
        with transaction.atomic():
            if kind == UnitKind.CITY:
                # Serialise city creation so two requests cannot both pass the one-city check.
                Unit.objects.select_for_update().filter(kind=UnitKind.CITY).exists()
            unit.save()
            unit.refresh_path()
            unit.save(update_fields=["path", "depth"])
            audit.record("unit.create", person=actor, post=post, obj=unit, ip=ip,
                         data={"name": name, "kind": kind, "parent": parent.id if parent else None})
    except IntegrityError:
        raise ActionError(_("单位与已有单位冲突（名称、代码或市级单位重复）。"), status=409) from None
    return unit


def directory_unit_ids() -> set[int]:
    """The units the directory (LDAP) keeps in step: those its last successful sync matched. Their
    name, code, level and place in the tree come from the directory; a local edit would be undone
    by the next sync, so people change them in the directory (ldap_sync itself acts with actor=None)."""
    from office.models import DirectorySync

    summary = (DirectorySync.objects.filter(status=DirectorySync.Status.OK, dry_run=False)
               .order_by("-id").values_list("summary", flat=True).first())
    return set((summary or {}).get("unit_ids") or ())


def _check_not_from_directory(actor, unit, what):
    if actor is not None and unit.id in directory_unit_ids():
        raise ActionError(_("“%(u)s”由统一身份认证目录（LDAP）同步，请在目录中%(what)s，下次同步后生效。")
                          % {"u": unit.name, "what": what}, status=409)


def _repath(unit, old_path):
    """After a move: the unit's and all its descendants' materialised paths and depths, top down."""
    unit.refresh_path()
    unit.save(update_fields=["path", "depth"])
    for child in Unit.objects.filter(path__startswith=old_path).exclude(id=unit.id).order_by("depth"):
        child.refresh_from_db()
        child.refresh_path()
        child.save(update_fields=["path", "depth"])


def do_move_unit(*, actor, post=None, unit, new_parent, ip=None):
    unit = Unit.objects.get(id=unit.id)
    _check_not_from_directory(actor, unit, _("修改上级单位"))
    old_path = unit.path
    unit.parent = new_parent
    unit.clean_shape()
    with transaction.atomic():
        unit.save(update_fields=["parent"])
        _repath(unit, old_path)
        audit.record("unit.move", person=actor, post=post, obj=unit, ip=ip, data={"parent": new_parent.id})
    return unit


def do_update_unit(*, actor, post=None, unit, name, kind, parent, code=None, short_name="", doc_prefix=None,
                   fonds_no=None, ip=None):
    """Edit a unit: its names, code, level (kind) and place in the tree, by the tree's rules (no cycles,
    each level directly under the level above, its children still fitting under it)."""
    doc_prefix = unit.doc_prefix if doc_prefix is None else doc_prefix
    fonds_no = unit.fonds_no if fonds_no is None else fonds_no
    code = (code or "").strip() or None
    short_name = (short_name or "").strip()
    name = check_unit_fields(name=name, kind=kind, code=code, short_name=short_name, doc_prefix=doc_prefix,
                             fonds_no=fonds_no, unit_id=unit.id)
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(id=unit.id)
        if unit.dissolved_at is not None:
            raise ActionError(_("该单位已撤销，不能修改。"), status=409)
        before = {"name": unit.name, "short_name": unit.short_name, "code": unit.code, "kind": unit.kind,
                  "parent": unit.parent_id, "doc_prefix": unit.doc_prefix, "fonds_no": unit.fonds_no}
        unit.name, unit.short_name, unit.code, unit.kind = name, short_name, code, kind
        unit.doc_prefix, unit.fonds_no = doc_prefix, fonds_no
        unit.parent = parent
        unit.clean_shape()
        if kind != before["kind"]:
            from office.models.org import PARENT_KIND

            misfit = [c.name for c in unit.children.filter(dissolved_at__isnull=True).exclude(kind=UnitKind.DEPARTMENT)
                      if PARENT_KIND[c.kind] != kind]
            if misfit:
                raise ActionError(_("下级单位（%(names)s）与新的级别不符，请先迁移它们。")
                                  % {"names": "、".join(misfit[:5])}, status=409)
        if Unit.objects.filter(parent=parent, name=name).exclude(id=unit.id).exists():
            raise ActionError(_("%(parent)s下已有名为“%(name)s”的单位。")
                              % {"parent": parent.name if parent else "", "name": name}, status=409)
        after = {"name": name, "short_name": short_name, "code": code, "kind": kind,
                 "parent": parent.id if parent else None, "doc_prefix": doc_prefix, "fonds_no": fonds_no}
        changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
        if not changes:
            return unit
        if {"name", "code", "kind", "parent"} & set(changes):
            _check_not_from_directory(actor, unit, _("修改名称、代码、级别和上级单位"))
        try:
            with transaction.atomic():
                unit.save(update_fields=["name", "short_name", "code", "kind", "parent", "doc_prefix", "fonds_no"])
        except IntegrityError:
            raise ActionError(_("单位与已有单位冲突（名称、代码或市级单位重复）。"), status=409) from None
        if "parent" in changes:
            _repath(unit, unit.path)
        audit.record("unit.update", person=actor, post=post, obj=unit, ip=ip, data={"changes": changes})
        send_event({"type": "unit", "op": "changed", "id": unit.id}, units=[unit.id])
    return unit


def do_dissolve_unit(*, actor, post=None, unit, ip=None):
    """撤销: the unit stays with its history; it only stops taking part."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(id=unit.id)
        if unit.dissolved_at is not None:
            raise ActionError(_("该单位已撤销。"), status=409)
        _check_not_from_directory(actor, unit, _("撤销该单位"))
        if unit.children.filter(dissolved_at__isnull=True).exists():
            raise ActionError(_("请先撤销或迁移该单位的下级单位。"), status=409)
        unit.dissolved_at = timezone.now()
        unit.save(update_fields=["dissolved_at"])
        audit.record("unit.dissolve", person=actor, post=post, obj=unit, ip=ip)
    return unit


def _roles_dict(roles):
    unknown = set(roles) - set(ROLE_FIELDS)
    if unknown:
        raise ActionError(_("未知的角色：%(roles)s") % {"roles": "、".join(sorted(unknown))})
    return {field: (role in roles) for role, field in ROLE_FIELDS.items()}


def do_set_post(*, actor=None, post=None, person, unit, roles, title="", source="local", ip=None):
    """Create or update a person's post in a unit with exactly these roles."""
    if unit.dissolved_at is not None:
        raise ActionError(_("单位已撤销，不能设置岗位。"), status=409)
    values = _roles_dict(roles)
    with transaction.atomic():
        existing = Post.objects.select_for_update().filter(person=person, unit=unit).first()
        if existing is None:
            target = Post.objects.create(person=person, unit=unit, title=title, source=source, **values)
            audit.record("post.create", person=actor, post=post, obj=target, ip=ip,
                         data={"person": person.id, "unit": unit.id, "roles": list(roles)})
        else:
            before = existing.roles
            changed = (before != [r for r in ROLE_FIELDS if r in roles] or existing.title != title
                       or not existing.active)
            if not changed:
                return existing
            for field, value in values.items():
                setattr(existing, field, value)
            existing.title = title
            existing.active = True
            existing.save()
            target = existing
            audit.record("post.update", person=actor, post=post, obj=target, ip=ip,
                         data={"before": before, "after": list(roles)})
        send_event({"type": "posts", "op": "changed"}, people=[person.id])
    return target


def do_end_post(*, actor=None, post=None, target, ip=None):
    with transaction.atomic():
        target = Post.objects.select_for_update().get(id=target.id)
        if not target.active:
            return target
        target.active = False
        target.save(update_fields=["active"])
        audit.record("post.end", person=actor, post=post, obj=target, ip=ip)
        send_event({"type": "posts", "op": "changed"}, people=[target.person_id])
    return target


def check_switch_post(person, post_id):
    try:
        return Post.objects.active().select_related("unit").get(id=post_id, person_id=person.id)
    except (Post.DoesNotExist, ValueError, TypeError):
        raise ActionError(_("您没有这个岗位。"), status=404) from None


def do_switch_post(*, request, post_id):
    from office.middleware import SESSION_KEY

    target = check_switch_post(request.user, post_id)
    request.session[SESSION_KEY] = target.id
    audit.record("post.switch", person=request.user, post=target, ip=audit.client_ip(request))
    return target


def check_delegation(*, from_post, to_post, starts_at, ends_at):
    if not from_post.is_leader:
        raise ActionError(_("只有领导岗位可以委托代签。"), status=403)
    if from_post.id == to_post.id:
        raise ActionError(_("不能委托给自己。"))
    if from_post.unit.government.id != to_post.unit.government.id:
        raise ActionError(_("只能委托本单位的人员代签。"))
    if ends_at <= starts_at:
        raise ActionError(_("结束时间必须晚于开始时间。"))
    if ends_at <= timezone.now():
        raise ActionError(_("结束时间不能早于现在。"))


def do_delegate(*, actor, from_post, to_post, starts_at, ends_at, reason="", ip=None):
    check_delegation(from_post=from_post, to_post=to_post, starts_at=starts_at, ends_at=ends_at)
    with transaction.atomic():
        delegation = Delegation.objects.create(from_post=from_post, to_post=to_post, starts_at=starts_at,
                                               ends_at=ends_at, reason=(reason or "")[:200])
        audit.record("delegation.create", person=actor, post=from_post, obj=delegation, ip=ip,
                     data={"to_post": to_post.id, "starts_at": starts_at, "ends_at": ends_at})
        send_event({"type": "delegation", "op": "created", "id": delegation.id}, people=[to_post.person_id])
    return delegation


def do_create_person(*, actor=None, username, display_name, password=None, email="", phone="", title="",
                     source="local", ip=None):
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise ActionError(_("用户名不能为空，且不超过150个字符。"))
    if Person.objects.filter(username=username).exists():
        raise ActionError(_("用户名 %(u)s 已存在。") % {"u": username}, status=409)
    with transaction.atomic():
        person = Person(username=username, display_name=display_name or username, email=email, phone=phone,
                        title=title, source=source)
        if password:
            person.set_password(password)
        else:
            person.set_unusable_password()
        person.save()
        audit.record("person.create", person=actor, obj=person, ip=ip, data={"username": username})
    return person


# Fields of a person the directory (LDAP) owns: ldap_sync overwrites them, so pages show them read-only.
DIRECTORY_FIELDS = ("username", "display_name", "email", "phone", "title", "is_active")


def check_person_fields(*, username, display_name, phone="", person_id=None):
    from office.auth import normalise_username

    username = normalise_username(username or "")  # the form sign-in looks people up by
    display_name = (display_name or "").strip()
    phone = (phone or "").strip()
    if not username or len(username) > 150:
        raise ActionError(_("用户名不能为空，且不超过150个字符。"))
    if any(ch.isspace() for ch in username):
        raise ActionError(_("用户名不能包含空格。"))
    if not display_name or len(display_name) > 100:
        raise ActionError(_("姓名不能为空，且不超过100个字符。"))
    if len(phone) > 40 or any(ch not in "0123456789+-() 转#" for ch in phone):
        raise ActionError(_("电话号码只能包含数字、空格和 + - ( ) #，且不超过40个字符。"))
    if Person.objects.filter(username=username).exclude(id=person_id).exists():
        raise ActionError(_("用户名 %(u)s 已存在。") % {"u": username}, status=409)
    return username, display_name, phone


def check_can_administer_person(actor, person, *, edit=False, posts=None):
    """A system administrator administers everyone; a unit's administrator the people holding (or
    having held) a post in their units, and edits a person's own fields only when every post the
    person holds now is theirs to administer (another county's post is another administrator's)."""
    scope = check_can_administer(actor, posts=posts)
    if scope is None:
        return scope
    held = list(Post.objects.filter(person_id=person.id).select_related("unit"))
    if not any(in_scope(scope, p.unit) for p in held):
        raise ActionError(_("您无权管理该人员。"), status=403)
    if edit and not all(in_scope(scope, p.unit) for p in held if p.active):
        raise ActionError(_("该人员在您管理范围以外的单位任职，请联系上级管理员修改。"), status=403)
    return scope


def do_update_person(*, actor, post=None, target, username, display_name, phone="", is_active=True, ip=None):
    """Edit a person's name, user name, phone and whether they may sign in. A directory (LDAP) person's
    fields belong to the directory: changing them here is refused (the next sync would undo it)."""
    username, display_name, phone = check_person_fields(username=username, display_name=display_name,
                                                        phone=phone, person_id=target.id)
    with transaction.atomic():
        person = Person.objects.select_for_update().get(id=target.id)
        wanted = {"username": username, "display_name": display_name, "phone": phone, "is_active": bool(is_active)}
        changes = {k: [getattr(person, k), v] for k, v in wanted.items() if getattr(person, k) != v}
        if not changes:
            return person
        if person.source == "ldap" and set(changes) & set(DIRECTORY_FIELDS):
            raise ActionError(_("该人员由目录（LDAP）同步管理，姓名、用户名、电话和启用状态只能在目录中修改。"),
                              status=409)
        if actor is not None and person.id == actor.id and changes.get("is_active") == [True, False]:
            raise ActionError(_("不能停用自己的账号。"), status=409)
        for key, (_old, new) in changes.items():
            setattr(person, key, new)
        person.save(update_fields=list(changes))
        action = ("person.deactivate" if changes.get("is_active") == [True, False] else
                  "person.activate" if changes.get("is_active") == [False, True] else "person.update")
        audit.record(action, person=actor, post=post, obj=person, ip=ip, data={"changes": changes})
        send_event({"type": "posts", "op": "changed"}, people=[person.id])
    return person


def check_post_change(actor, person, unit, *, ending=None, posts=None):
    """May `actor` give `person` a post in `unit` (or change or end it)? The unit must be theirs to
    administer and still exist; a post from the directory (LDAP) is the directory's to change."""
    check_can_administer(actor, unit, posts=posts)
    if unit.dissolved_at is not None:
        raise ActionError(_("单位已撤销，不能设置岗位。"), status=409)
    existing = ending or Post.objects.filter(person_id=person.id, unit_id=unit.id).first()
    if existing is not None and existing.source == "ldap" and existing.active:
        raise ActionError(_("该岗位由目录（LDAP）同步管理，只能在目录中修改。"), status=409)
    return existing


def do_add_person(*, actor, post=None, username, display_name, phone="", password="", unit=None, roles=(),
                  title="", ip=None):
    """新增人员: a local account, and (for a unit's administrator, always) their first post, in one step."""
    username, display_name, phone = check_person_fields(username=username, display_name=display_name, phone=phone)
    if password and len(password) < 8:
        raise ActionError(_("初始密码至少8位。"))
    if len(title or "") > 100:
        raise ActionError(_("职务名称不能超过100个字符。"))
    _roles_dict(roles)
    with transaction.atomic():
        person = do_create_person(actor=actor, username=username, display_name=display_name, password=password,
                                  phone=phone, title=title, ip=ip)
        if unit is not None:
            do_set_post(actor=actor, post=post, person=person, unit=unit, roles=roles, title=title, ip=ip)
    return person


def check_end_delegation(delegation, when=None):
    when = when or timezone.now()
    if delegation.revoked_at is not None:
        raise ActionError(_("该代理授权已撤销。"), status=409)
    if delegation.ends_at <= when:
        raise ActionError(_("该代理授权已到期。"), status=409)


def do_end_delegation(*, actor, post=None, delegation, ip=None):
    """End a delegation now (撤销代理): the deputy can no longer sign off in the leader's place."""
    with transaction.atomic():
        delegation = Delegation.objects.select_for_update(of=("self",)).select_related("to_post").get(id=delegation.id)
        check_end_delegation(delegation)
        delegation.revoked_at = timezone.now()
        delegation.save(update_fields=["revoked_at"])
        audit.record("delegation.end", person=actor, post=post, obj=delegation, ip=ip)
        send_event({"type": "delegation", "op": "ended", "id": delegation.id}, people=[delegation.to_post.person_id])
    return delegation


def check_language(code):
    from django.conf import settings

    if code not in dict(settings.LANGUAGES):
        raise ActionError(_("不支持这种语言。"))
    return code


def do_set_language(*, person, code, ip=None):
    """The person's interface language, remembered on every device they sign in from."""
    code = check_language(code)
    with transaction.atomic():
        Person.objects.filter(id=person.id).update(language=code)
        audit.record("person.language", person=person, obj=person, ip=ip, data={"language": code})
    person.language = code
    return code
