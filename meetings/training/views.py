"""Pages of a training: the course page (课程页) and the organiser's completion report (完成情况)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from office import audit
from office.errors import ActionError

from meetings import actions as meeting_actions
from meetings.models import Material, MeetingKind, MeetingState, Recording
from meetings.training import actions, completion
from meetings.views import _refusals, hosted_meeting, open_checkin, report_download


def _completion_for(request, meeting_id):
    meeting = hosted_meeting(request, meeting_id, see=actions.check_see_hidden)
    return meeting, completion.completion_report(meeting)


@login_required
@_refusals
def completion_page(request, meeting_id):
    meeting, report = _completion_for(request, meeting_id)
    charts = [{"level": level, "svg": completion.level_svg(level)} for level in report["levels"] if level["rows"]]
    return render(request, "meetings/completion.html", {
        "meeting": meeting, "report": report, "charts": charts,
        "can_remind": meeting.kind == MeetingKind.TRAINING and report["totals"]["missing"] > 0,
    })


COMPLETION_FILE = gettext_lazy("%(title)s-完成情况.%(ext)s")
completion_csv = report_download(_completion_for, completion.report_csv, "csv", "completion", COMPLETION_FILE)
completion_pdf = report_download(_completion_for, completion.report_pdf, "pdf", "completion", COMPLETION_FILE)


@login_required
@require_POST
@_refusals
def remind(request, meeting_id):
    """One click: every unit with people who have not completed gets a notice and a 待办."""
    try:
        units, people = actions.do_remind_incomplete(request.user, meeting_id, ip=audit.client_ip(request))
    except ActionError as exc:
        if exc.status in (401, 403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已催办 %(u)d 个单位、%(p)d 人。") % {"u": units, "p": people})
    return redirect(f"/meetings/{int(meeting_id)}/completion/")


@login_required
@_refusals
def course(request, meeting_id):
    """课程页: schedule and agenda, materials, the units and people expected, 签到 during the session,
    the recordings with this person's replay progress."""
    meeting = actions.check_see_hidden(request.user, meeting_id)
    person = request.user
    window, checked_in = open_checkin(meeting, person)
    recordings = list(Recording.objects.filter(meeting=meeting))
    shares = actions.replay_shares(meeting, [person.id])
    report = completion.completion_report(meeting)
    mine = next((p for u in report["units"] for p in u["people"] if p["person_id"] == person.id), None)
    return render(request, "meetings/course.html", {
        "meeting": meeting, "is_host": meeting_actions.is_host(person, meeting),
        "kind_label": MeetingKind(meeting.kind).label, "state_label": MeetingState(meeting.state).label,
        "materials": list(Material.objects.filter(meeting=meeting)), "recordings": recordings,
        "units": [u for u in report["units"] if u["expected"]], "totals": report["totals"],
        "checkin_window": window if meeting.state == MeetingState.LIVE else None, "checked_in": checked_in,
        "my_share": round(shares.get(person.id, 0.0) * 100), "required_percent": report["required_percent"],
        "my_status": completion.status_label(mine["status"]) if mine else "",
    })
