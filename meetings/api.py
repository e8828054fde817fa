"""JSON API of meetings and training, mounted at /api/meetings/ by office/api.py."""
from datetime import datetime


from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from ninja import Query, Router, Schema

from office import audit
from office.errors import ActionError


from meetings import actions, reports, roster
from meetings.models import (
    ChatMessage,
    CheckIn,
    CheckInWindow,
    Invitation,
    MeetingKind,
    MeetingState,
    Recording,
)

router = Router(tags=[gettext_lazy("会议与培训")])


class PersonRef(Schema):
    id: int
    name: str


class MeetingOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    agenda: str
    state: str
    state_label: str
    host: PersonRef
    co_hosts: list[PersonRef]
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    locked: bool
    waiting_room: bool
    record: bool
    presenter_id: int | None
    organiser_unit: str | None
    is_host: bool
    url: str
    room_url: str


def _ref(person):
    return {"id": person.id, "name": person.display_name or person.username}


def meeting_out(meeting, person):
    co_hosts = list(meeting.co_hosts.all())
    return {
        "id": meeting.id, "kind": meeting.kind, "kind_label": str(MeetingKind(meeting.kind).label),
        "title": meeting.title, "agenda": meeting.agenda, "state": meeting.state,
        "state_label": str(MeetingState(meeting.state).label), "host": _ref(meeting.host),
        "co_hosts": [_ref(p) for p in co_hosts], "starts_at": meeting.starts_at, "ends_at": meeting.ends_at,
        "started_at": meeting.started_at, "ended_at": meeting.ended_at, "locked": meeting.locked,
        "waiting_room": meeting.waiting_room, "record": meeting.record, "presenter_id": meeting.presenter_id,
        "organiser_unit": meeting.organiser_unit.name if meeting.organiser_unit_id else None,
        "is_host": person.id == meeting.host_id or any(p.id == person.id for p in co_hosts),
        "url": f"/meetings/{meeting.id}/", "room_url": f"/meetings/{meeting.id}/room/",
    }


@router.get("/", response=list[MeetingOut], summary=gettext_lazy("会议列表（upcoming 未开始 / live 进行中 / past 已结束）"))
def meeting_list(request, scope: str = "upcoming", limit: int = 50):
    limit = max(1, min(int(limit), 200))
    return [meeting_out(m, request.user) for m in actions.meetings_for(request.user, scope)[:limit]]


class LevelIn(Schema):
    level: int
    within: int | None = None


class ScheduleIn(Schema):
    kind: str = MeetingKind.MEETING
    title: str
    agenda: str = ""
    starts_at: datetime
    ends_at: datetime
    co_host_ids: list[int] = []
    person_ids: list[int] = []
    unit_ids: list[int] = []
    levels: list[LevelIn] = []
    villages_of: list[int] = []
    waiting_room: bool = False
    record: bool = False


@router.post("/", response={201: MeetingOut}, summary=gettext_lazy("安排会议或培训"))
def schedule(request, payload: ScheduleIn):
    meeting = actions.do_schedule(
        request.user, request.post, kind=payload.kind, title=payload.title, agenda=payload.agenda,
        starts_at=payload.starts_at, ends_at=payload.ends_at, co_host_ids=payload.co_host_ids,
        person_ids=payload.person_ids, unit_ids=payload.unit_ids, levels=[lv.dict() for lv in payload.levels],
        villages_of=payload.villages_of, waiting_room=payload.waiting_room, record=payload.record,
        ip=audit.client_ip(request))
    return 201, meeting_out(meeting, request.user)


class UnitRef(Schema):
    id: int
    name: str
    kind: str
    via: str


@router.get("/units/expand", response=list[UnitRef], summary=gettext_lazy("预览按单位/层级/镇所辖村展开的受邀单位"))
def expand_units(request, unit: Query[list[int]] = None, level: int | None = None, within: int | None = None,
                 villages_of: Query[list[int]] = None):
    scope = actions.scope_unit(request.user, request.post)
    levels = [{"level": level, "within": within}] if level is not None else []
    chosen = actions.expand_units(unit_ids=unit or [], levels=levels, villages_of=villages_of or [], scope=scope)
    return [{"id": u.id, "name": u.name, "kind": u.kind, "via": via} for u, via in
            sorted(chosen.values(), key=lambda x: (x[0].code or "", x[0].name))]


@router.get("/{meeting_id}", response=MeetingOut, summary=gettext_lazy("会议详情"))
def meeting_detail(request, meeting_id: int):
    return meeting_out(actions.check_see(request.user, meeting_id), request.user)


class UpdateIn(Schema):
    kind: str | None = None
    title: str | None = None
    agenda: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    co_host_ids: list[int] | None = None
    waiting_room: bool | None = None
    record: bool | None = None


@router.patch("/{meeting_id}", response=MeetingOut, summary=gettext_lazy("修改会议（主持人）"))
def update(request, meeting_id: int, payload: UpdateIn):
    meeting = actions.check_see(request.user, meeting_id)
    changes = payload.dict(exclude_unset=True)
    meeting = actions.do_update(request.user, meeting, ip=audit.client_ip(request), **changes)
    return meeting_out(meeting, request.user)


@router.post("/{meeting_id}/cancel", response=MeetingOut, summary=gettext_lazy("取消会议（主持人）"))
def cancel(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    return meeting_out(actions.do_cancel(request.user, meeting, ip=audit.client_ip(request)), request.user)


class InviteIn(Schema):
    person_ids: list[int] = []
    unit_ids: list[int] = []
    levels: list[LevelIn] = []
    villages_of: list[int] = []


class InvitationOut(Schema):
    id: int
    via: str
    person: PersonRef | None
    unit_id: int | None
    unit_name: str | None


def _invitation_out(inv):
    return {"id": inv.id, "via": inv.via, "person": _ref(inv.person) if inv.person_id else None,
            "unit_id": inv.unit_id, "unit_name": inv.unit.name if inv.unit_id else None}


@router.get("/{meeting_id}/invitations", response=list[InvitationOut], summary=gettext_lazy("受邀人员与单位"))
def invitations(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    return [_invitation_out(i) for i in Invitation.objects.filter(meeting=meeting).select_related("person", "unit")]


@router.post("/{meeting_id}/invitations", summary=gettext_lazy("追加邀请（主持人）"))
def invite(request, meeting_id: int, payload: InviteIn):
    meeting = actions.check_see(request.user, meeting_id)
    people, units = actions.do_invite(request.user, request.post, meeting, person_ids=payload.person_ids,
                                      unit_ids=payload.unit_ids, levels=[lv.dict() for lv in payload.levels],
                                      villages_of=payload.villages_of, ip=audit.client_ip(request))
    return {"people_added": people, "units_added": units}


@router.delete("/{meeting_id}/invitations/{invitation_id}", response={204: None}, summary=gettext_lazy("撤回邀请（主持人）"))
def uninvite(request, meeting_id: int, invitation_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    actions.do_uninvite(request.user, meeting, invitation_id, ip=audit.client_ip(request))
    return 204, None


def ice_servers(person=None):
    """STUN/TURN for a signed-in person: time-limited TURN credentials of their own (turn.py)."""
    from meetings.sfu.turn import ice_servers as servers

    return servers(person.id if person is not None else "anonymous")


@router.post("/{meeting_id}/join", summary=gettext_lazy("入会检查（等候室时登记等候）"))
def join(request, meeting_id: int):
    try:
        meeting = actions.check_join(request.user, meeting_id)
    except ActionError as exc:
        if exc.code == "waiting":
            actions.do_request_admission(request.user, actions.check_see(request.user, meeting_id))
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=403)
        raise
    return {"meeting": meeting.id, "is_host": actions.is_host(request.user, meeting),
            "ice_servers": ice_servers(request.user), "person": _ref(request.user)}


class ModeIn(Schema):
    mode: str


@router.post("/{meeting_id}/mode", summary=gettext_lazy("切换媒体模式（video / small / audio 仅音频）"))
def media_mode(request, meeting_id: int, payload: ModeIn):
    meeting = actions.check_join(request.user, meeting_id)
    actions.do_set_media_mode(request.user, meeting, payload.mode)
    return {"mode": payload.mode}


class ChatIn(Schema):
    text: str


class ChatOut(Schema):
    id: int
    person_id: int
    name: str
    text: str
    at: datetime


def _chat_out(m):
    return {"id": m.id, "person_id": m.person_id, "name": m.person_name, "text": m.text, "at": m.at}


@router.post("/{meeting_id}/chat", response={201: ChatOut}, summary=gettext_lazy("发送聊天消息（最多500字，限频）"))
def chat_send(request, meeting_id: int, payload: ChatIn):
    meeting = actions.check_see(request.user, meeting_id)
    return 201, _chat_out(actions.do_chat(request.user, meeting, payload.text))


@router.get("/{meeting_id}/chat", response=list[ChatOut], summary=gettext_lazy("聊天记录"))
def chat_list(request, meeting_id: int, after: int = 0, limit: int = 200):
    meeting = actions.check_see(request.user, meeting_id)
    limit = max(1, min(int(limit), 500))
    after = min(max(int(after), 0), actions.MAX_ID)
    qs = ChatMessage.objects.filter(meeting=meeting, id__gt=after).order_by("id")[:limit]
    return [_chat_out(m) for m in qs]


class HandIn(Schema):
    up: bool = True


@router.post("/{meeting_id}/hand", summary=gettext_lazy("举手 / 放下"))
def hand(request, meeting_id: int, payload: HandIn):
    meeting = actions.check_see(request.user, meeting_id)
    actions.do_raise_hand(request.user, meeting, payload.up)
    return {"up": payload.up, "place": actions.queue_place(meeting, request.user)}


class HostIn(Schema):
    command: str
    target: int | None = None


ROOM_TIMEOUT = 10  # seconds to wait for the SFU room to carry out a command (recording stop writes a file)
ROOM_COMMANDS = {"mute", "mute_all", "stop_video", "remove", "present", "end", "record_start", "record_stop"}


def tell_room(meeting, command, target=None, person=None):
    """Hand a host command given over HTTP to the meeting's SFU room (wherever it runs).

    The command is already recorded by the action; a room that is not running is no error.
    """
    if command not in ROOM_COMMANDS:
        return None
    import asyncio
    import logging

    from asgiref.sync import async_to_sync

    try:
        from meetings.sfu.worker import room_command

        path = actions.recording_path(meeting) if command == "record_start" else None

        async def bounded():
            return await asyncio.wait_for(room_command(meeting.id, command, target, path=path,
                                                       person_id=person.id if person else None), ROOM_TIMEOUT)

        return async_to_sync(bounded)()
    except Exception:  # the media room is best effort from here; the record stands
        logging.getLogger(__name__).exception("could not pass %s to the room of meeting %s", command, meeting.id)
        return None


@router.post("/{meeting_id}/host", summary=gettext_lazy("主持人操作：mute, mute_all, stop_video, remove, lock, unlock, admit, "
                                              "present, lower_hand, allow_speak, record_start, record_stop, end"))
def host_command(request, meeting_id: int, payload: HostIn):
    meeting = actions.check_see(request.user, meeting_id)
    meeting = actions.do_host_command(request.user, meeting, payload.command, payload.target,
                                      ip=audit.client_ip(request))
    result = tell_room(meeting, payload.command, payload.target, request.user)
    return {"command": payload.command, "target": payload.target, "state": meeting.state, "locked": meeting.locked,
            "room": {k: v for k, v in (result or {}).items() if k in ("ok", "reason")}}


class CheckInStartIn(Schema):
    minutes: int = 5


@router.post("/{meeting_id}/checkin/start", summary=gettext_lazy("发起签到（主持人）"))
def checkin_start(request, meeting_id: int, payload: CheckInStartIn):
    meeting = actions.check_see(request.user, meeting_id)
    window = actions.do_start_checkin(request.user, meeting, payload.minutes)
    return {"window": window.id, "closes_at": window.closes_at}


@router.post("/{meeting_id}/checkin", summary=gettext_lazy("签到"))
def checkin(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    c = actions.do_check_in(request.user, meeting)
    return {"checked_in_at": c.at}


@router.get("/{meeting_id}/checkin", summary=gettext_lazy("当前签到状态"))
def checkin_state(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    now = timezone.now()
    window = CheckInWindow.objects.filter(meeting=meeting, opens_at__lte=now, closes_at__gt=now).last()
    if window is None:
        return {"open": False, "checked_in": False, "closes_at": None}
    done = CheckIn.objects.filter(window=window, person_id=request.user.id).exists()
    return {"open": True, "checked_in": done, "closes_at": window.closes_at, "window": window.id}


@router.get("/{meeting_id}/roster", summary=gettext_lazy("实时名单（主持人；分页、搜索，state: all/present/online/waiting/hands/away/removed）"))
def roster_view(request, meeting_id: int, q: str = "", state: str = "all", page: int = 1,
                page_size: int = roster.PAGE_SIZE):
    meeting = actions.check_see(request.user, meeting_id)
    actions.check_host(request.user, meeting)
    out = roster.page_of(meeting, q=q, state=state, page=page, page_size=page_size)
    return out | {"state": meeting.state, "locked": meeting.locked, "filter": out["state"],
                  "online": out["counts"]["online"], "waiting": out["counts"]["waiting"]}


@router.get("/{meeting_id}/participants", summary=gettext_lazy("在会人员（参会人可见；分页、搜索）"))
def participants(request, meeting_id: int, q: str = "", page: int = 1, page_size: int = roster.PAGE_SIZE):
    meeting = actions.check_join(request.user, meeting_id)
    out = roster.page_of(meeting, q=q, state="online", page=page, page_size=page_size, full=False)
    out["counts"] = {k: out["counts"][k] for k in ("online", "hands")}
    return out


def _queue_row(p, place):
    return {"person_id": p.person_id, "name": p.person.display_name or p.person.username, "place": place,
            "since": p.hand_raised_at, "online": p.online}


@router.get("/{meeting_id}/hands", summary=gettext_lazy("举手队列（主持人看到队列，参会人看到自己的位次）"))
def hands(request, meeting_id: int, limit: int = 20):
    meeting = actions.check_join(request.user, meeting_id)
    queue = actions.hand_queue(meeting)
    out = {"total": queue.count(), "mine": actions.queue_place(meeting, request.user), "queue": []}
    if actions.is_host(request.user, meeting):
        limit = max(1, min(int(limit), 200))
        out["queue"] = [_queue_row(p, n) for n, p in enumerate(queue.select_related("person")[:limit], 1)]
    return out


@router.post("/{meeting_id}/hands/next", summary=gettext_lazy("下一位：允许举手队列中的第一位发言（主持人）"))
def hands_next(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    head = actions.do_next_speaker(request.user, meeting, ip=audit.client_ip(request))
    return {"person_id": head.person_id, "name": head.person.display_name or head.person.username}


@router.get("/{meeting_id}/attendance", summary=gettext_lazy("出勤报告（JSON）"))
def attendance(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    actions.check_host(request.user, meeting)
    report = reports.attendance_report(meeting)
    return {"totals": report["totals"],
            "units": [{k: v for k, v in g.items()} for g in report["units"]]}


class RecordingOut(Schema):
    id: int
    duration_seconds: float
    size_bytes: int
    created_at: datetime
    url: str
    file_url: str


@router.get("/{meeting_id}/recordings", response=list[RecordingOut], summary=gettext_lazy("录制文件"))
def recordings(request, meeting_id: int):
    meeting = actions.check_see(request.user, meeting_id)
    return [{"id": r.id, "duration_seconds": r.duration_seconds, "size_bytes": r.size_bytes,
             "created_at": r.created_at, "url": f"/meetings/{meeting.id}/recordings/{r.id}/",
             "file_url": f"/meetings/{meeting.id}/recordings/{r.id}/file"}
            for r in Recording.objects.filter(meeting=meeting)]
