"""待办 of the archive: open fixity alerts reach the 档案员 of the 全宗 (office.todo provider).

An alert stays in the 待办 until the 档案员 acknowledges it (with what was done) or a later
fixity pass finds the component sound again.
"""
from django.utils.translation import gettext as _

from office import todo

LIMIT = 50


def _open_alerts(person):
    from documents.archive.actions import archivist_fonds_ids
    from documents.archive.models import FixityAlert

    fonds_ids = archivist_fonds_ids(person)
    if not fonds_ids:
        return None
    return FixityAlert.objects.filter(resolved_at__isnull=True, item__fonds_id__in=fonds_ids)


def provider(person):
    alerts = _open_alerts(person)
    if alerts is None:
        return []
    rows = []
    for a in alerts.select_related("item__fonds", "component").order_by("-at", "-id")[:LIMIT]:
        code = a.item.archival_code or a.item.title
        rows.append({
            "kind": "archive.fixity",
            "title": _("固化信息告警：%(code)s %(name)s（%(problem)s）") % {
                "code": code, "name": a.component.name, "problem": _(a.problem)},
            "url": f"/documents/archive/manage/?fonds={a.item.fonds.code}#alert-{a.id}",
            "since": a.at, "unit": a.item.fonds.name, "panel": "todo", "subject": code,
            "doc_type": _("档案"), "urgency": "", "sender": a.item.fonds.name, "action": _("处理"),
            "deadline": None,
        })
    return rows


def counter(person):
    alerts = _open_alerts(person)
    return 0 if alerts is None else alerts.count()


todo.register(provider, counter)
