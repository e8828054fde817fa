"""The administrator page of the directory sync (目录同步): the last run, its summary and conflicts."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _

from office import ldap as dirs
from office.actions import check_system_admin
from office.errors import ActionError
from office.models import AuditEntry, DirectorySync, Post


def _rows(summary):
    labels = (("units", _("单位")), ("people", _("人员")), ("posts", _("岗位")))
    rows = []
    for key, label in labels:
        group = (summary or {}).get(key, {})
        rows.append({"label": label, "created": group.get("created", 0),
                     "updated": group.get("updated", 0) + group.get("activated", 0),
                     "deactivated": group.get("deactivated", 0)})
    return rows


@login_required
def sync_status(request):
    try:
        check_system_admin(request.user, message=_("只有系统管理员可以查看和运行目录同步。"))
    except ActionError as exc:
        return render(request, "office/ldap_sync.html", {"error": exc.message}, status=exc.status)
    runs = list(DirectorySync.objects.all()[:20])
    last = runs[0] if runs else None
    conflicts = []
    if last is not None:
        for item in last.conflicts or []:
            conflicts.append({**item, "reason_label": dirs.CONFLICT_REASONS.get(item.get("reason"), item.get("reason", ""))})
    return render(request, "office/ldap_sync.html", {
        "configured": dirs.get_config() is not None,
        "last": last,
        "rows": _rows(last.summary) if last else [],
        "conflicts": conflicts,
        "changes": [dirs.change_line(c) for c in ((last.summary or {}).get("changes") or [])[:500]] if last else [],
        "runs": runs,
    })


def no_post_page(request):
    """A directory person with no post (their unit code matches no unit, or they have none): say what
    is missing and whom to ask, instead of an empty workbench."""
    person = request.user
    last = (AuditEntry.objects.filter(action="auth.ldap_no_unit", person_id_at=person.id).order_by("-id").first())
    codes = [str(c) for c in ((last.data or {}).get("codes") or [])] if last else []
    admins = (Post.objects.active().filter(is_admin=True).select_related("person", "unit")
              .order_by("unit__depth", "id")[:5])
    return render(request, "office/no_post.html", {"codes": codes, "admins": admins, "dn": person.ldap_dn})
