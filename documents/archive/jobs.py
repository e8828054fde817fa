"""The periodic fixity job (settings.YW_JOBS): re-hash the holdings in chunks.

Each run takes the next ARCHIVE_FIXITY_CHUNK components after the cursor (one row, locked while
the chunk is hashed, so two runners never split a chunk) and moves the cursor on when the chunk
is done: a restart resumes where the last committed chunk ended. A full pass starts again
ARCHIVE_FIXITY_INTERVAL_HOURS after the previous one finished. A mismatch or a missing file
becomes a FixityAlert (once per pass), an audit entry and an event to the 全宗's 档案员; the alert
is in their 待办 until acknowledged, or until a later pass finds the component sound again.
"""
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from documents.archive import store
from documents.archive.models import Component, FixityAlert, FixityCursor, ItemState
from office import audit
from office.events import send_event
from office.models import Post


def _archivists(fonds):
    return list(Post.objects.active().filter(is_archivist=True, unit_id=fonds.unit_id).values_list("person_id", flat=True))


def verify_fixity(limit=None, now=None):
    limit = limit or settings.ARCHIVE_FIXITY_CHUNK
    now = now or timezone.now()
    with transaction.atomic():
        cur = FixityCursor.objects.select_for_update().order_by("id").first()
        if cur is None:
            FixityCursor.objects.create()
            cur = FixityCursor.objects.select_for_update().order_by("id").first()
        if cur.last_component_id == 0:
            wait = dt.timedelta(hours=settings.ARCHIVE_FIXITY_INTERVAL_HOURS)
            if cur.pass_finished_at and now - cur.pass_finished_at < wait:
                return "idle"
            cur.pass_no += 1
            cur.pass_started_at = now
            cur.checked = cur.bytes = cur.failures = 0
        comps = list(Component.objects.filter(id__gt=cur.last_component_id, deleted_at__isnull=True,
                                              item__state=ItemState.ACCEPTED)
                     .select_related("item__fonds").order_by("id")[:limit])
        open_alerts = set(FixityAlert.objects.filter(component_id__in=[c.id for c in comps], resolved_at__isnull=True)
                          .values_list("component_id", flat=True)) if comps else set()
        sound = []
        for c in comps:
            problem = ""
            if not store.exists(c.storage_name):
                problem = gettext_noop("文件缺失")
            else:
                sha, sm, size = store.hash_stored(c.storage_name)
                cur.bytes += size
                if sha != c.sha256 or sm != c.sm3:
                    problem = gettext_noop("摘要与归档时不符（内容被改动）")
            cur.checked += 1
            if problem:
                cur.failures += 1
                _alert(c, problem, cur.pass_no)
            elif c.id in open_alerts:
                sound.append(c.id)
        if sound:  # restored since the alert: it leaves the 档案员's 待办
            FixityAlert.objects.filter(component_id__in=sound, resolved_at__isnull=True).update(
                resolved_at=now, resolved_name=gettext_noop("定期检测"), resolution=gettext_noop("复查通过：组件已恢复"))
        if len(comps) < limit:
            cur.last_component_id = 0
            cur.pass_finished_at = now
        else:
            cur.last_component_id = comps[-1].id
        cur.save()
        return {"pass": cur.pass_no, "checked": cur.checked, "failures": cur.failures,
                "done": cur.last_component_id == 0}


def _alert(component, problem, pass_no):
    item = component.item
    if FixityAlert.objects.filter(component=component, resolved_at__isnull=True).exists():
        return  # still open from an earlier pass: one 待办 per component
    alert, created = FixityAlert.objects.get_or_create(component=component, pass_no=pass_no,
                                                       defaults={"item": item, "problem": problem})
    if not created:
        return
    audit.record("archive.fixity", obj=item, data={"code": item.archival_code, "component": component.name,
                                                   "problem": problem})
    people = _archivists(item.fonds)
    transaction.on_commit(lambda: send_event({"type": "archive", "op": "fixity", "item": item.id},
                                             people=people, units=[item.fonds.unit_id]))
