"""待办 of 催办: a training whose organiser reminded one's unit, until one has completed it
(attended live, or watched the replay to TRAINING_REPLAY_PERCENT)."""
import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from office import todo

from meetings.models import Attendance, MeetingState
from meetings.training.actions import completed_by_replay
from meetings.training.models import CompletionReminder

HORIZON = datetime.timedelta(days=60)


def _pending(person):
    from meetings.actions import member_unit_ids

    unit_ids = member_unit_ids(person)
    if not unit_ids:
        return []
    reminders = (CompletionReminder.objects.filter(unit_id__in=unit_ids, sent_at__gte=timezone.now() - HORIZON)
                 .exclude(meeting__state=MeetingState.CANCELLED).select_related("meeting", "meeting__organiser_unit")
                 .order_by("-sent_at")[:50])
    seen, out = set(), []
    for r in reminders:
        if r.meeting_id in seen:
            continue
        seen.add(r.meeting_id)
        if Attendance.objects.filter(meeting_id=r.meeting_id, person_id=person.id).exists():
            continue
        if completed_by_replay(r.meeting, person):
            continue
        out.append(r)
    return out


def provider(person):
    items = []
    for r in _pending(person):
        meeting = r.meeting
        sender = meeting.organiser_unit.name if meeting.organiser_unit_id else ""
        items.append({
            "kind": "training", "panel": "todo",
            "title": _("培训待完成：%(title)s（请观看回放）") % {"title": meeting.title},
            "url": f"/meetings/{meeting.id}/course/", "since": r.sent_at, "unit": sender or None,
            "subject": meeting.title, "doc_type": _("培训"), "urgency": "", "sender": sender,
            "action": _("观看回放"), "deadline": None,
        })
    return items


def counter(person):
    return len(_pending(person))


todo.register(provider, counter)
