"""待办: meetings one is invited to (or hosts) that are live or start within the next days."""
import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from office import todo

from meetings.models import MeetingKind, MeetingState

HORIZON = datetime.timedelta(days=7)


def _due(person):
    from meetings.actions import visible_meetings

    now = timezone.now()
    return (visible_meetings(person)
            .filter(state__in=[MeetingState.SCHEDULED, MeetingState.LIVE], ends_at__gt=now,
                    starts_at__lte=now + HORIZON))


def provider(person):
    items = []
    today = timezone.localdate()
    for meeting in _due(person).select_related("organiser_unit").order_by("starts_at")[:50]:
        kind = MeetingKind(meeting.kind).label
        when = timezone.localtime(meeting.starts_at).strftime("%m-%d %H:%M")
        if meeting.state == MeetingState.LIVE:
            title = _("【进行中】%(kind)s：%(title)s") % {"kind": kind, "title": meeting.title}
        else:
            title = _("%(kind)s邀请：%(title)s（%(when)s开始）") % {"kind": kind, "title": meeting.title, "when": when}
        items.append({
            "kind": "meeting",
            "title": title,
            # a live meeting is one click away: straight into the room
            "url": f"/meetings/{meeting.id}/room/" if meeting.state == MeetingState.LIVE else f"/meetings/{meeting.id}/",
            "since": meeting.created_at,
            "unit": meeting.organiser_unit.name if meeting.organiser_unit_id else None,
            "panel": "meeting", "subject": meeting.title, "doc_type": kind, "urgency": "",
            "sender": meeting.organiser_unit.name if meeting.organiser_unit_id else "",
            "starts": meeting.starts_at, "ends": meeting.ends_at, "live": meeting.state == MeetingState.LIVE,
            "today": timezone.localtime(meeting.starts_at).date() <= today,
            "action": _("进入") if meeting.state == MeetingState.LIVE else _("查看"), "deadline": None,
        })
    return items


def counter(person):
    return _due(person).count()


todo.register(provider, counter)
import meetings.training.todo  # noqa: E402,F401  (the 催办 待办 of trainings)
