"""Writers of training's rows: replay progress (回放) and completion reminders (催办).

check_* validates input and permissions; do_* changes state in one transaction and sends its
events after commit through office.events.send_event().
"""
import math

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from office import audit
from office.errors import ActionError
from office.events import send_event

from meetings import actions as meeting_actions
from meetings.models import MeetingKind, MeetingState, Recording
from meetings.training.models import CompletionReminder, ReplayProgress

MAX_RANGES = 200  # a player's TimeRanges: more than this is not a person watching
MAX_RATE = 2.0  # fastest playback speed counted (the player offers up to 2×)
SLACK_SECONDS = 30.0  # a report may carry this much more than the time since the last one


def replay_share():
    return settings.TRAINING_REPLAY_PERCENT / 100.0


def merge(intervals):
    """Sorted, non-overlapping [[start, end], …] from any list of pairs."""
    out = []
    for start, end in sorted((float(s), float(e)) for s, e in intervals if e > s):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def total(intervals):
    return sum(e - s for s, e in intervals)


def _number(value, label):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ActionError(_("观看进度格式不正确：%(what)s应为非负数。") % {"what": label})
    return float(value)


def check_see_hidden(person, meeting_id):
    """check_see, but a meeting one was not invited to does not exist (404): its title, its units
    and its completion are not told to people of other counties."""
    try:
        return meeting_actions.check_see(person, meeting_id)
    except ActionError as exc:
        if exc.code == "not_invited":
            raise ActionError(_("会议不存在。"), status=404) from None
        raise


def check_recording_visible(person, meeting_id, recording_id):
    """The meeting and one of its recordings, for someone who may see the meeting (else 404/403)."""
    meeting = check_see_hidden(person, meeting_id)
    recording = Recording.objects.filter(meeting_id=meeting.id,
                                         id=meeting_actions.valid_id(recording_id) or 0).first()
    if recording is None:
        raise ActionError(_("没有这个录制文件。"), status=404)
    return meeting, recording


def check_progress(person, meeting_id, recording_id, ranges, position):
    """The reported played ranges (seconds of the recording) clipped to its length, and the position."""
    meeting, recording = check_recording_visible(person, meeting_id, recording_id)
    if not isinstance(ranges, list) or len(ranges) > MAX_RANGES:
        raise ActionError(_("观看进度格式不正确：已观看区间应为不超过%(n)d段的列表。") % {"n": MAX_RANGES})
    pairs = []
    for pair in ranges:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ActionError(_("观看进度格式不正确：每段区间应为[开始秒, 结束秒]。"))
        start, end = _number(pair[0], _("开始秒")), _number(pair[1], _("结束秒"))
        if end < start:
            raise ActionError(_("观看进度格式不正确：区间的结束早于开始。"))
        pairs.append((start, end))
    position = _number(position, _("播放位置"))
    length = recording.duration_seconds
    if length > 0:
        pairs = [(min(s, length), min(e, length)) for s, e in pairs]
        position = min(position, length)
    return meeting, recording, merge(pairs), position


def do_record_progress(person, meeting_id, recording_id, ranges, position, now=None):
    """Merges the played ranges into the person's replay of this recording and keeps the position.
    A report cannot add more watched time than could have passed since the previous one."""
    meeting, recording, ranges, position = check_progress(person, meeting_id, recording_id, ranges, position)
    now = now or timezone.now()
    with transaction.atomic():
        row = ReplayProgress.objects.select_for_update().filter(recording=recording, person=person).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = ReplayProgress.objects.create(recording=recording, meeting=meeting, person=person,
                                                        started_at=now, updated_at=now)
            except IntegrityError:  # the same person's other tab created it just now
                row = ReplayProgress.objects.select_for_update().get(recording=recording, person=person)
        was_complete = completed_by_replay(meeting, person)
        merged = merge(list(row.intervals) + ranges)
        watched = total(merged)
        elapsed = max(0.0, (now - row.updated_at).total_seconds())
        if watched - row.watched_seconds > elapsed * MAX_RATE + SLACK_SECONDS:
            raise ActionError(_("上报的观看时长超过了实际经过的时间，未予记录。"), status=400)
        row.intervals, row.watched_seconds, row.position, row.updated_at = merged, watched, position, now
        row.save(update_fields=["intervals", "watched_seconds", "position", "updated_at"])
        if not was_complete and completed_by_replay(meeting, person):
            audit.record("meeting.replay_completed", person=person, obj=meeting,
                         data={"recording": recording.id, "watched": round(watched, 1)})
            send_event({"type": "meeting", "op": "completion", "meeting": meeting.id},
                       people=meeting.host_ids() | {person.id})
    return row


def replay_shares(meeting, person_ids=None):
    """person id → the share (0…1) of the meeting's recordings (those of known length) watched."""
    lengths = dict(Recording.objects.filter(meeting_id=meeting.id, duration_seconds__gt=0)
                   .values_list("id", "duration_seconds"))
    whole = sum(lengths.values())
    if not whole:
        return {}
    rows = ReplayProgress.objects.filter(meeting_id=meeting.id, recording_id__in=list(lengths))
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    watched = {}
    for person_id, seconds in rows.values_list("person_id", "watched_seconds"):
        watched[person_id] = watched.get(person_id, 0.0) + seconds
    return {pid: min(1.0, seconds / whole) for pid, seconds in watched.items()}


def completed_by_replay(meeting, person):
    return replay_shares(meeting, [person.id]).get(person.id, 0.0) >= replay_share() - 1e-9


def resume_state(person, meeting, recording):
    row = ReplayProgress.objects.filter(recording=recording, person=person).first()
    share = replay_shares(meeting, [person.id]).get(person.id, 0.0)
    return {"position": row.position if row else 0.0, "watched_seconds": row.watched_seconds if row else 0.0,
            "duration_seconds": recording.duration_seconds, "share": round(share, 4),
            "required_share": replay_share(), "completed": share >= replay_share() - 1e-9}


# --------------------------------------------------------------------------- reminders (催办)
def check_remind(person, meeting_id):
    meeting = check_see_hidden(person, meeting_id)
    meeting_actions.check_host(person, meeting)
    if meeting.kind != MeetingKind.TRAINING:
        raise ActionError(_("只有培训才有完成情况，不能催办。"), status=409)
    if meeting.state == MeetingState.CANCELLED:
        raise ActionError(_("会议已取消。"), status=409)
    if meeting.started_at is None and meeting.state != MeetingState.ENDED:
        raise ActionError(_("培训开始后才能催办。"), status=409)
    return meeting


def do_remind_incomplete(person, meeting_id, *, ip=None):
    """催办: every invited unit with someone who attended neither live nor by replay gets a notice
    (an event to the unit and to those people) and a 待办 until they have watched the replay."""
    from meetings.training.completion import completion_report

    meeting = check_remind(person, meeting_id)
    report = completion_report(meeting)
    pending = [g for g in report["units"] if g["unit_id"] and g["missing"]]
    if not pending:
        raise ActionError(_("所有单位均已完成，无需催办。"), status=409)
    people = {r["person_id"] for g in pending for r in g["people"] if r["status"] == "none"}
    unit_ids = [g["unit_id"] for g in pending]
    now = timezone.now()
    with transaction.atomic():
        CompletionReminder.objects.bulk_create(
            [CompletionReminder(meeting=meeting, unit_id=uid, sent_by=person, sent_at=now) for uid in unit_ids])
        audit.record("meeting.completion_reminder", person=person, obj=meeting, ip=ip,
                     data={"units": unit_ids, "people": len(people)})
        send_event({"type": "meeting", "op": "completion_reminder", "meeting": meeting.id},
                   people=people, units=unit_ids)
    return len(unit_ids), len(people)
