"""Writers of training's rows: replay progress (回放) and completion reminders (催办).

check_* validates input and permissions; do_* changes state in one transaction and sends its
events after commit through office.events.send_event().
"""
import datetime
import math

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import Person

from meetings import actions as meeting_actions
from meetings.models import MeetingKind, MeetingState, Recording
from meetings.training.models import CompletionReminder, Question, ReplayProgress

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


# --------------------------------------------------------------------------- questions (问答)
QUESTION_MAX = 300  # characters
QUESTION_RATE = 3  # questions per person per meeting …
QUESTION_WINDOW = 60  # … in any (sliding) span of this many seconds
ANSWER_MAX = 2000
QUESTIONS_SHOWN = 200


def can_answer(person, meeting):
    """The hosts and the presenter answer questions."""
    return person.id == meeting.presenter_id or meeting_actions.is_host(person, meeting)


def check_question_room(person, meeting_id):
    """The meeting of a person who may take part in its 问答: someone in it (check_join); a meeting
    one was not invited to does not exist (404)."""
    meeting = check_see_hidden(person, meeting_id)
    return meeting_actions.check_join(person, meeting.id)


def check_ask(person, meeting_id, text):
    meeting = check_question_room(person, meeting_id)
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise ActionError(_("问题不能为空。"))
    if len(text) > QUESTION_MAX:
        raise ActionError(_("问题过长：最多%(max)d个字，当前%(n)d个字。") % {"max": QUESTION_MAX, "n": len(text)})
    from documents.classified import mark_in_lines

    mark = mark_in_lines(text.splitlines())
    if mark:
        raise ActionError(_("问题标有“%(mark)s”密级。涉密内容不得通过本系统发送。") % {"mark": mark}, code="classified")
    return meeting, text


def do_ask(person, meeting_id, text):
    """提问: a question to the presenter. At most QUESTION_RATE in any QUESTION_WINDOW seconds."""
    meeting, text = check_ask(person, meeting_id, text)
    with transaction.atomic():
        # counted and written under a lock on the asker's own row: two at once cannot both fit
        list(Person.objects.select_for_update().filter(id=person.id).values_list("id", flat=True))
        now = timezone.now()
        recent = Question.objects.filter(meeting_id=meeting.id, person_id=person.id,
                                         asked_at__gt=now - datetime.timedelta(seconds=QUESTION_WINDOW)).count()
        if recent >= QUESTION_RATE:
            raise ActionError(_("提问太频繁：每%(s)d秒最多%(n)d个问题，请稍后再问。")
                              % {"s": QUESTION_WINDOW, "n": QUESTION_RATE}, status=429)
        question = Question.objects.create(meeting=meeting, person=person, asked_at=now, text=text,
                                           person_name=(person.display_name or person.username)[:100])
        audit.record("meeting.question", person=person, obj=meeting,
                     data={"question": question.id, "length": len(text)})
        answerers = meeting.host_ids() | ({meeting.presenter_id} if meeting.presenter_id else set())
        send_event({"type": "meeting", "op": "question", "meeting": meeting.id, "question": question.id},
                   people=answerers | {person.id})
    return question


def visible_questions(person, meeting):
    """What this person sees: the answerers every question, unanswered first (oldest first, then
    the answered ones, latest answer first); anyone else the answered ones and their own."""
    qs = Question.objects.filter(meeting_id=meeting.id)
    if not can_answer(person, meeting):
        qs = qs.filter(Q(answered_at__isnull=False) | Q(person_id=person.id))
    return qs.order_by(F("answered_at").desc(nulls_first=True), "asked_at", "id")


def check_answer(person, meeting_id, question_id, text, live):
    meeting = check_question_room(person, meeting_id)
    if not can_answer(person, meeting):
        raise ActionError(_("只有主持人或主讲人可以答复问题。"), status=403)
    question = Question.objects.filter(meeting_id=meeting.id, id=meeting_actions.valid_id(question_id) or 0).first()
    if question is None:
        raise ActionError(_("没有这个问题。"), status=404)
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text and not live:
        raise ActionError(_("请填写答复，或标记为“已现场答复”。"))
    if len(text) > ANSWER_MAX:
        raise ActionError(_("答复过长：最多%(max)d个字，当前%(n)d个字。") % {"max": ANSWER_MAX, "n": len(text)})
    return meeting, question, text


def do_answer(person, meeting_id, question_id, text="", live=False):
    """答复: in text, or marked as answered aloud in the room (live). Everyone in the room sees it."""
    meeting, question, text = check_answer(person, meeting_id, question_id, text, live)
    with transaction.atomic():
        question = Question.objects.select_for_update().get(id=question.id)
        if question.answered_at is not None:
            raise ActionError(_("该问题已答复。"), status=409)
        question.answer, question.answered_live = text, bool(live)
        question.answered_by, question.answered_at = person, timezone.now()
        question.save(update_fields=["answer", "answered_live", "answered_by", "answered_at"])
        audit.record("meeting.answer", person=person, obj=meeting,
                     data={"question": question.id, "live": bool(live), "length": len(text)})
        people = set(meeting.participants.values_list("person_id", flat=True)) | meeting.host_ids()
        send_event({"type": "meeting", "op": "answer", "meeting": meeting.id, "question": question.id},
                   people=people | {question.person_id})
    return question
