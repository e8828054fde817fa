"""The 待办 registry and the workbench (工作台): apps add providers; the workbench, the 待办 API and the
badge ask them all.

office imports no app: documents and meetings register here from their AppConfig.ready().
A provider is a callable (person) → list of dicts {"kind", "title", "url", "since", "unit"}, with
optionally the fields of a workbench row: "panel" (todo, read, done, notice, meeting; default
todo), "action" (the one verb of the row's button), "subject", "doc_type", "urgency", "sender",
"deadline". A counter is an optional faster callable (person) → int.
An "actionable" provider feeds 待办 (the API list and the badge); other providers only feed the
workbench's panels (已办, 通知公告).
"""
from django.utils import timezone

_providers = []

PANELS = ("todo", "read", "meeting", "notice", "done")
LEADER_PANELS = ("todo", "meeting", "read", "notice", "done")


def register(provider, counter=None, actionable=True):
    _providers.append((provider, counter, actionable))


def items_for(person):
    items = []
    for provider, _counter, actionable in _providers:
        if actionable:
            items.extend(provider(person))
    items.sort(key=lambda item: item.get("since") or "", reverse=True)
    return items


def count_for(person):
    total = 0
    for provider, counter, actionable in _providers:
        if actionable:
            total += counter(person) if counter is not None else len(provider(person))
    return total


def _time_left(delta):
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    seconds = int(delta.total_seconds())
    late, seconds = seconds < 0, abs(seconds)
    if seconds >= 86400:
        n = seconds // 86400
        text = ngettext("%(n)d 天", "%(n)d 天", n) % {"n": n}
    elif seconds >= 3600:
        n = seconds // 3600
        text = ngettext("%(n)d 小时", "%(n)d 小时", n) % {"n": n}
    else:
        n = max(1, seconds // 60)
        text = ngettext("%(n)d 分钟", "%(n)d 分钟", n) % {"n": n}
    return (_("已超期 %(t)s") if late else _("剩 %(t)s")) % {"t": text}


def _deadline_key(item):
    deadline = item.get("deadline")
    return (deadline is None, deadline or timezone.now())


def workbench(person, is_leader=False):
    """The panels of the workbench in their order: [(panel, items)], each row with its time left."""
    now = timezone.now()
    panels = {name: [] for name in PANELS}
    for provider, _counter, _actionable in _providers:
        for item in provider(person):
            panels.setdefault(item.get("panel") or "todo", []).append(item)
    for name, items in panels.items():
        for item in items:
            deadline = item.get("deadline")
            item["overdue"] = bool(deadline and deadline < now)
            item["left_text"] = _time_left(deadline - now) if deadline else ""
        if name in ("todo", "read"):
            # What burns first comes first: 特急 before 加急, then the nearest deadline, then the newest.
            items.sort(key=lambda i: i.get("since") or now, reverse=True)
            items.sort(key=_deadline_key)
            items.sort(key=lambda i: {"特急": 0, "加急": 1}.get(i.get("urgency") or "", 2))
        elif name == "meeting":
            items.sort(key=lambda i: i.get("starts") or now)
        else:
            items.sort(key=lambda i: i.get("since") or now, reverse=True)
    order = LEADER_PANELS if is_leader else PANELS
    return [(name, panels[name]) for name in order]


def _delegations(person):
    """Office's own 待办: sign-off authority received from a leader (代签授权)."""
    from django.utils.translation import gettext as _

    from office.models import Delegation

    now = timezone.now()
    rows = (Delegation.objects.filter(to_post__person_id=person.id, ends_at__gt=now, revoked_at__isnull=True)
            .select_related("from_post__person", "from_post__unit").order_by("-created_at"))
    return [{"kind": "delegation",
             "title": _("受%(who)s委托代签（至%(until)s）") % {
                 "who": d.from_post.person.display_name,
                 "until": timezone.localtime(d.ends_at).strftime("%Y-%m-%d %H:%M")},
             "url": "/directory/unit/%d/" % d.from_post.unit_id, "since": d.created_at,
             "unit": d.from_post.unit.name, "action": _("查看"), "sender": d.from_post.unit.name,
             "deadline": None} for d in rows]


register(_delegations)
