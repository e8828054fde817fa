"""JSON API of training, mounted at /api/training/ by office/api.py: replay progress, 催办."""
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
