"""Pages of meetings and training: list, schedule, detail, room, roster, attendance, recordings."""
import functools
import json
import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from office import audit, storage
from office.downloads import ranged_file_response
from office.errors import ActionError
from office.models import UnitKind

from meetings import actions, reports
from meetings import roster as roster_pages
from meetings.api import ice_servers, tell_room
from meetings.models import (
    CheckIn,
    CheckInWindow,
    Invitation,
    Material,
    MeetingKind,
    MeetingState,
    Recording,
)

LIST_LIMIT = 30


def _refusals(view):
    """An ActionError becomes a page with its (Chinese) message and its 4xx status."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ActionError as exc:
            return render(request, "meetings/refused.html", {"message": exc.message, "status": exc.status},
                          status=exc.status)

    return wrapper


@login_required
def meeting_list(request):
    person = request.user
    unit_ids = actions.member_unit_ids(person)
    sections = []
    for scope, label in (("live", _("进行中")), ("upcoming", _("未开始")), ("past", _("已结束"))):
        qs = actions.meetings_for(person, scope, unit_ids=unit_ids)
        sections.append({"scope": scope, "label": label, "meetings": list(qs[:LIST_LIMIT])})
    return render(request, "meetings/list.html", {"sections": sections, "can_schedule": request.post is not None
                                                  or person.is_superuser})


def _form_lists(data):
    return {
        "person_ids": data.getlist("person"),
        "co_host_ids": data.getlist("co_host"),
        "unit_ids": data.getlist("unit"),
        "villages_of": data.getlist("villages_of"),
        "levels": [{"level": lv, "within": w or None}
                   for lv, w in zip(data.getlist("level"), data.getlist("level_within") + [""] * 50) if lv],
    }


@login_required
def schedule(request):
    error = None
    status = 200
    if request.method == "POST":
        data = request.POST
        try:
            meeting = actions.do_schedule(
                request.user, request.post, kind=data.get("kind", MeetingKind.MEETING), title=data.get("title", ""),
                agenda=data.get("agenda", ""), starts_at=data.get("starts_at", ""), ends_at=data.get("ends_at", ""),
                waiting_room=bool(data.get("waiting_room")), record=bool(data.get("record")),
                ip=audit.client_ip(request), **_form_lists(data))
        except ActionError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(request, _("已安排：%(title)s，邀请已发出。") % {"title": meeting.title})
            return redirect(f"/meetings/{meeting.id}/")
    scope = None
    try:
        scope = actions.scope_unit(request.user, request.post)
    except ActionError as exc:
        error, status = exc.message, exc.status
    now = timezone.localtime()
    start = now.replace(second=0, microsecond=0) + timezone.timedelta(hours=1)
    return render(request, "meetings/schedule.html", {
        "error": error, "form": request.POST if request.method == "POST" else None,
        "scope": scope, "kinds": MeetingKind.choices,
        "levels": [(2, _("县(市、区)")), (3, _("镇(街道)")), (4, _("村(社区)"))],
        "default_start": start.strftime("%Y-%m-%dT%H:%M"),
        "default_end": (start + timezone.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "town_kind": UnitKind.TOWN,
    }, status=status)


def open_checkin(meeting, person):
    """(the 签到 window open now or None, whether this person has checked in to it)."""
    now = timezone.now()
    window = CheckInWindow.objects.filter(meeting=meeting, opens_at__lte=now, closes_at__gt=now).last()
    return window, window is not None and CheckIn.objects.filter(window=window, person_id=person.id).exists()


@login_required
@_refusals
def detail(request, meeting_id):
    meeting = actions.check_see(request.user, meeting_id)
    person = request.user
    host = actions.is_host(person, meeting)
    invitations = list(Invitation.objects.filter(meeting=meeting).select_related("person", "unit"))
    window, checked_in = open_checkin(meeting, person)
    can_join, join_refusal = True, ""
    try:
        actions.check_join(person, meeting.id)
    except ActionError as exc:
        can_join = exc.code == "waiting"  # the room page puts them into the waiting room
        join_refusal = exc.message
    return render(request, "meetings/detail.html", {
        "meeting": meeting, "is_host": host, "co_hosts": list(meeting.co_hosts.all()),
        "unit_invitations": [i for i in invitations if i.unit_id],
        "person_invitations": [i for i in invitations if i.person_id],
        "materials": list(Material.objects.filter(meeting=meeting)),
        "recordings": list(Recording.objects.filter(meeting=meeting)),
        "checkin_window": window, "checked_in": checked_in,
        "can_join": can_join, "join_refusal": join_refusal,
        "kind_label": MeetingKind(meeting.kind).label, "state_label": MeetingState(meeting.state).label,
        "is_open": meeting.is_open,
    })


@login_required
@_refusals
def room(request, meeting_id):
    """The meeting room (会议室). room.js (the SFU's client) drives the media; this page owns the DOM."""
    person = request.user
    waiting = False
    try:
        meeting = actions.check_join(person, meeting_id)
    except ActionError as exc:
        if exc.code != "waiting":
            raise
        meeting = actions.check_see(person, meeting_id)
        actions.do_request_admission(person, meeting)
        waiting = True
    host = actions.is_host(person, meeting)
    config = {
        "meeting": meeting.id, "title": meeting.title, "person": person.id,
        "name": person.display_name or person.username, "is_host": host, "ice_servers": ice_servers(person),
        "ws": f"/ws/meetings/{meeting.id}/", "api": f"/api/meetings/{meeting.id}/",
        "record": meeting.record, "waiting": waiting,
    }
    return render(request, "meetings/room.html", {
        "meeting": meeting, "is_host": host, "waiting": waiting, "config": config,
        "config_json": json.dumps(config, ensure_ascii=False),
    })


def hosted_meeting(request, meeting_id, see=actions.check_see):
    """The meeting of a host's page (roster, reports): seen by this person (see: the check to use)
    and hosted by them, else an ActionError (404/403)."""
    meeting = see(request.user, meeting_id)
    actions.check_host(request.user, meeting)
    return meeting


@login_required
@_refusals
def roster(request, meeting_id):
    """实时名单: the first page; roster.js pages, searches and filters through the API."""
    meeting = hosted_meeting(request, meeting_id)
    first = roster_pages.page_of(meeting)
    return render(request, "meetings/roster.html", {"meeting": meeting, "roster": first,
                                                    "page_size": roster_pages.PAGE_SIZE})


def _report_for(request, meeting_id):
    meeting = hosted_meeting(request, meeting_id)
    return meeting, reports.attendance_report(meeting)


def report_download(load, render_file, ext, ascii_stem, name):
    """A download view of a host's report: load(request, meeting_id) → (meeting, report), then
    render_file(report) → bytes as an attachment called name (lazy, with %(title)s and %(ext)s)
    in the reader's language, ascii_stem-<id>.<ext> for old browsers."""
    content_type = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}[ext]

    @login_required
    @_refusals
    def view(request, meeting_id):
        from urllib.parse import quote

        meeting, report = load(request, meeting_id)
        response = HttpResponse(render_file(report), content_type=content_type)
        filename = str(name) % {"title": meeting.title, "ext": ext}
        response["Content-Disposition"] = (f"attachment; filename=\"{ascii_stem}-{meeting.id}.{ext}\"; "
                                           f"filename*=UTF-8''{quote(filename)}")
        return response

    return view


@login_required
@_refusals
def attendance(request, meeting_id):
    meeting, report = _report_for(request, meeting_id)
    return render(request, "meetings/attendance.html", {"meeting": meeting, "report": report,
                                                        "chart": reports.report_svg(report)})


ATTENDANCE_FILE = gettext_lazy("%(title)s-出勤报告.%(ext)s")
attendance_csv = report_download(_report_for, reports.report_csv, "csv", "attendance", ATTENDANCE_FILE)
attendance_pdf = report_download(_report_for, reports.report_pdf, "pdf", "attendance", ATTENDANCE_FILE)


@login_required
@_refusals
def attendance_svg(request, meeting_id):
    _meeting, report = _report_for(request, meeting_id)
    return HttpResponse(reports.report_svg(report), content_type="image/svg+xml; charset=utf-8")


@login_required
@_refusals
def recording_page(request, meeting_id, recording_id):
    from meetings.training.actions import resume_state

    meeting, recording = actions.check_recording(request.user, meeting_id, recording_id)
    replay = resume_state(request.user, meeting, recording)
    replay |= {"share_percent": round(replay["share"] * 100), "required_percent": round(replay["required_share"] * 100)}
    return render(request, "meetings/recording.html", {"meeting": meeting, "recording": recording, "replay": replay})


@login_required
@_refusals
def recording_file(request, meeting_id, recording_id):
    """The WebM with HTTP Range support (206 Partial Content) so that the player can seek."""
    _meeting, recording = actions.check_recording(request.user, meeting_id, recording_id)
    return ranged_file_response(request, recording.path, recording.content_type or "video/webm")


@login_required
@_refusals
def material_file(request, meeting_id, material_id):
    meeting = actions.check_see(request.user, meeting_id)
    material = Material.objects.filter(meeting=meeting, id=actions.valid_id(material_id) or 0).first()
    if material is None or not material.file or not storage.exists(material.file.name):
        raise ActionError(_("没有这个材料。"), status=404)
    content_type = material.content_type or mimetypes.guess_type(material.name)[0] or "application/octet-stream"
    return ranged_file_response(request, material.file.name, content_type, filename=material.name)


def _back(meeting_id):
    return redirect(f"/meetings/{meeting_id}/")


def _post_action(fn):
    """A POST form on the detail page: do it, flash the outcome, go back to the meeting."""

    @functools.wraps(fn)
    def wrapper(request, meeting_id):
        try:
            meeting = actions.check_see(request.user, meeting_id)
            done = fn(request, meeting)
        except ActionError as exc:
            if exc.status == 404 or exc.code == "not_invited":
                return render(request, "meetings/refused.html", {"message": exc.message, "status": exc.status},
                              status=exc.status)
            messages.error(request, exc.message)
        else:
            if done:
                messages.success(request, done)
        return _back(meeting_id)

    return login_required(require_POST(wrapper))


@_post_action
def upload_material(request, meeting):
    uploaded = request.FILES.get("file")
    actions.do_add_material(request.user, meeting, uploaded, ip=audit.client_ip(request))
    return _("材料已上传。")


@_post_action
def cancel(request, meeting):
    actions.do_cancel(request.user, meeting, ip=audit.client_ip(request))
    return _("会议已取消，已通知参会人员。")


@_post_action
def invite(request, meeting):
    people, units = actions.do_invite(request.user, request.post, meeting, ip=audit.client_ip(request),
                                      **{k: v for k, v in _form_lists(request.POST).items() if k != "co_host_ids"})
    return _("已追加邀请：%(p)d人，%(u)d个单位。") % {"p": people, "u": units}


@_post_action
def edit(request, meeting):
    data = request.POST

    def changed(field):  # the form shows minutes: an untouched field is no change
        value = (data.get(field) or "").strip()
        shown = timezone.localtime(getattr(meeting, field)).strftime("%Y-%m-%dT%H:%M")
        return value if value and value != shown else None

    actions.do_update(request.user, meeting, title=data.get("title"), agenda=data.get("agenda"),
                      starts_at=changed("starts_at"), ends_at=changed("ends_at"),
                      waiting_room=bool(data.get("waiting_room")), record=bool(data.get("record")),
                      ip=audit.client_ip(request))
    return _("会议信息已更新，已通知参会人员。")


@_post_action
def check_in(request, meeting):
    actions.do_check_in(request.user, meeting)
    return _("签到成功。")


@_post_action
def start_checkin(request, meeting):
    actions.do_start_checkin(request.user, meeting, request.POST.get("minutes", 5))
    return _("签到已发起。")


@_post_action
def end(request, meeting):
    actions.do_host_command(request.user, meeting, "end", ip=audit.client_ip(request))
    tell_room(meeting, "end", person=request.user)
    return _("会议已结束。")

