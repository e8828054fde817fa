"""Shared pieces of the 公文 actions: limits, text checks, events and the post a person acts in."""
import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents.models import Urgency
from documents.queries.visibility import _office_of, active_steps, person_posts
from office.errors import ActionError
from office.events import send_event
from office.models import Delegation, Post, Unit, UnitKind


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


def _text(value, label, limit, required=False):
    value = "" if value is None else str(value)
    value = value.strip()
    if required and not value:
        raise ActionError(_("%(label)s不能为空。") % {"label": label})
    if len(value) > limit:
        raise ActionError(_("%(label)s不能超过%(n)d个字（现有%(m)d个）。") % {"label": label, "n": limit, "m": len(value)})
    return value


def _parse_dt(value):
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ActionError(_("日期时间格式不正确：%(v)s") % {"v": str(value)[:40]}) from None
    return parsed


def _family_ids(unit):
    """A government and its own departments (an office secretary acts for its government)."""
    gov = unit.government
    return set(Unit.objects.filter(Q(id=gov.id) | Q(parent_id=gov.id, kind=UnitKind.DEPARTMENT)).values_list("id", flat=True))


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
