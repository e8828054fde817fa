"""Actions on the organisation: the only writers of units, posts and delegations."""
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import ROLE_FIELDS, Delegation, Person, Post, Unit, UnitKind


def check_admin(person):
    if person.is_superuser:
        return
    if not Post.objects.active().filter(person_id=person.id, is_admin=True).exists():
        raise ActionError(_("只有系统管理员可以修改组织机构。"), status=403)


def check_unit_fields(*, name, kind, code=None, short_name="", doc_prefix="", fonds_no=""):
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
        if Unit.objects.filter(code=code).exists():
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


def do_move_unit(*, actor, post=None, unit, new_parent, ip=None):
    unit = Unit.objects.get(id=unit.id)
    old_path = unit.path
    unit.parent = new_parent
    unit.clean_shape()
    with transaction.atomic():
        unit.save(update_fields=["parent"])
        unit.refresh_path()
        unit.save(update_fields=["path", "depth"])
        for child in Unit.objects.filter(path__startswith=old_path).exclude(id=unit.id).order_by("depth"):
            child.refresh_from_db()
            child.refresh_path()
            child.save(update_fields=["path", "depth"])
        audit.record("unit.move", person=actor, post=post, obj=unit, ip=ip, data={"parent": new_parent.id})
    return unit


def do_dissolve_unit(*, actor, post=None, unit, ip=None):
    """撤销: the unit stays with its history; it only stops taking part."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().get(id=unit.id)
        if unit.dissolved_at is not None:
            raise ActionError(_("该单位已撤销。"), status=409)
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
