"""JSON API of training, mounted at /api/training/ by office/api.py: replay progress, 催办."""
from datetime import datetime

from django.utils.translation import gettext_lazy
from ninja import Router, Schema

from office import audit

from meetings.training import actions

router = Router(tags=[gettext_lazy("培训")])


class ProgressIn(Schema):
    ranges: list = []  # the player's played TimeRanges: [[start, end], …] in seconds
    position: float | int = 0


class ProgressOut(Schema):
    position: float
    watched_seconds: float
    duration_seconds: float
    share: float
    required_share: float
    completed: bool


@router.get("/{meeting_id}/recordings/{recording_id}/progress", response=ProgressOut,
            summary=gettext_lazy("回放进度"))
def progress(request, meeting_id: int, recording_id: int):
    meeting, recording = actions.check_recording_visible(request.user, meeting_id, recording_id)
    return actions.resume_state(request.user, meeting, recording)


@router.post("/{meeting_id}/recordings/{recording_id}/progress", response=ProgressOut,
             summary=gettext_lazy("上报回放进度"))
def report_progress(request, meeting_id: int, recording_id: int, payload: ProgressIn):
    row = actions.do_record_progress(request.user, meeting_id, recording_id, payload.ranges, payload.position)
    return actions.resume_state(request.user, row.meeting, row.recording)


class RemindOut(Schema):
    units: int
    people: int


@router.post("/{meeting_id}/remind", response=RemindOut, summary=gettext_lazy("催办未完成单位"))
def remind(request, meeting_id: int):
    units, people = actions.do_remind_incomplete(request.user, meeting_id, ip=audit.client_ip(request))
    return {"units": units, "people": people}


# --------------------------------------------------------------------------- questions (问答)
class QuestionIn(Schema):
    text: str


class AnswerIn(Schema):
    text: str = ""
    live: bool = False


class QuestionOut(Schema):
    id: int
    name: str
    text: str
    asked_at: datetime
    mine: bool
    answered: bool
    answer: str
    answered_live: bool
    answered_at: datetime | None


class QuestionsOut(Schema):
    can_answer: bool
    open: int
    questions: list[QuestionOut]


def _question_out(q, person):
    return {"id": q.id, "name": q.person_name, "text": q.text, "asked_at": q.asked_at, "mine": q.person_id == person.id,
            "answered": q.answered_at is not None, "answer": q.answer, "answered_live": q.answered_live,
            "answered_at": q.answered_at}


@router.get("/{meeting_id}/questions", response=QuestionsOut,
            summary=gettext_lazy("问答：主持人和主讲人看到全部（未答复在前），其他参会人看到已答复的和自己的"))
def questions(request, meeting_id: int, limit: int = actions.QUESTIONS_SHOWN):
    meeting = actions.check_question_room(request.user, meeting_id)
    limit = max(1, min(int(limit), actions.QUESTIONS_SHOWN))
    shown = actions.visible_questions(request.user, meeting)
    answerer = actions.can_answer(request.user, meeting)
    return {"can_answer": answerer, "open": shown.filter(answered_at__isnull=True).count() if answerer else 0,
            "questions": [_question_out(q, request.user) for q in shown[:limit]]}


@router.post("/{meeting_id}/questions", response={201: QuestionOut},
             summary=gettext_lazy("提问（最多300字，每分钟最多3个）"))
def ask(request, meeting_id: int, payload: QuestionIn):
    return 201, _question_out(actions.do_ask(request.user, meeting_id, payload.text), request.user)


@router.post("/{meeting_id}/questions/{question_id}/answer", response=QuestionOut,
             summary=gettext_lazy("答复问题（文字答复，或 live 标记为已现场答复）"))
def answer(request, meeting_id: int, question_id: int, payload: AnswerIn):
    q = actions.do_answer(request.user, meeting_id, question_id, payload.text, payload.live)
    return _question_out(q, request.user)
