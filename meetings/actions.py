"""Meetings and training: the only writers of meetings' rows (check_* validates, do_* writes).

Used by the HTTP views and API (meetings/views.py, meetings/api.py) and by the SFU's
signalling consumer (meetings/consumers.py, through database_sync_to_async):

- check_join(person, meeting_id) → Meeting, or ActionError 404/403/409 (Chinese message);
  code "waiting" means: the waiting room is on and the host has not admitted the person yet.
- do_participant_joined(person, meeting, media_mode="video", session_key="") / do_participant_left(...)
- check_host(person, meeting); do_host_command(person, meeting, command, target_person_id=None)
- do_recording_saved(meeting, path, ...), recording_path(meeting)
- send_reminders(): call it from a periodic job (`manage.py meetings_remind`, e.g. every minute).
"""
import datetime
import os
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from office import audit, storage
from office.errors import ActionError
from office.events import send_event
from office.models import Person, Unit, UnitKind

from meetings.models import (
    Attendance,
    ChatMessage,
    CheckIn,
    CheckInWindow,
    HostAction,
    HostCommand,
    Invitation,
    InvitationVia,
    Material,
    MediaMode,
    Meeting,
    MeetingKind,
    MeetingState,
    Participant,
    Recording,
)

TITLE_MAX = 200
AGENDA_MAX = 20_000
CHAT_MAX = 500
CHAT_RATE = 8  # messages per person per meeting …
CHAT_WINDOW = 10  # … in any (sliding) span of this many seconds
MAX_DURATION = datetime.timedelta(hours=24)
PAST_GRACE = datetime.timedelta(minutes=5)  # "now" typed into a form is a minute old when it arrives
MAX_INVITED_UNITS = 5000
REMINDER_LEAD = datetime.timedelta(minutes=15)
KIND_OF_LEVEL = {1: UnitKind.CITY, 2: UnitKind.COUNTY, 3: UnitKind.TOWN, 4: UnitKind.VILLAGE}
TARGETED = {HostCommand.MUTE, HostCommand.STOP_VIDEO, HostCommand.REMOVE, HostCommand.ADMIT,
            HostCommand.PRESENT, HostCommand.LOWER_HAND, HostCommand.ALLOW_SPEAK}


# --------------------------------------------------------------------------- who may see what
def member_unit_ids(person):
    """The units a person belongs to for invitations: their posts' units and, for a post in a
    department, the units it belongs to: a 科室 belongs to its bureau, and a government's own
    office (办公室, ``is_office``) belongs to the government (县政府办公室 → 县政府). A bureau
    (县财政局) is a unit of its own: inviting the county does not invite every bureau.
    Nearest units first."""
    posts = [(p.unit_id, p.unit.kind, p.unit.path) for p in person.active_posts()]
    ids = [unit_id for unit_id, _kind, _path in posts]
    chains = [[int(x) for x in path.strip("/").split("/") if x][::-1]
              for _unit_id, kind, path in posts if kind == UnitKind.DEPARTMENT]
    if chains:
        info = {uid: (kind, office) for uid, kind, office in Unit.objects.filter(
            id__in={a for chain in chains for a in chain}).values_list("id", "kind", "is_office")}
        for chain in chains:
            for below, ancestor in zip(chain, chain[1:]):
                kind = info.get(ancestor, (None, False))[0]
                if kind == UnitKind.DEPARTMENT:
                    ids.append(ancestor)  # a 科室's bureau
                    continue
                if info.get(below, (None, False))[1]:
                    ids.append(ancestor)  # the government of its own office
                break
    return list(dict.fromkeys(ids))


def departments_of(unit_ids):
    """{department id: the invited unit it belongs to}: the sections (科室) of invited bureaus
    and, for an invited government, its own office (办公室) and that office's sections — the
    inverse of member_unit_ids. A department invited in its own right is not listed."""
    invited = set(unit_ids)
    owner = {}
    frontier = {uid: uid for uid in invited}
    kinds = dict(Unit.objects.filter(id__in=list(invited)).values_list("id", "kind"))
    while frontier:
        below = {}
        for dept_id, parent_id, office in Unit.objects.active().filter(
                kind=UnitKind.DEPARTMENT, parent_id__in=list(frontier)).values_list("id", "parent_id", "is_office"):
            if dept_id in invited or dept_id in owner:
                continue
            if kinds.get(parent_id, UnitKind.DEPARTMENT) != UnitKind.DEPARTMENT and not office:
                continue  # a government's bureau: a unit of its own
            owner[dept_id] = below[dept_id] = frontier[parent_id]
        frontier = below
    return owner


def visible_meetings(person, unit_ids=None):
    """Meetings a person may see: host, co-host, invited in person or through a unit. The
    break-glass superuser is no exception: a meeting's talk and pictures are its participants'."""
    if unit_ids is None:
        unit_ids = member_unit_ids(person)
    invited = Invitation.objects.filter(Q(person_id=person.id) | Q(unit_id__in=unit_ids)).values("meeting_id")
    co_hosted = Meeting.co_hosts.through.objects.filter(person_id=person.id).values("meeting_id")
    return Meeting.objects.filter(Q(host_id=person.id) | Q(id__in=invited) | Q(id__in=co_hosted))


def meetings_for(person, scope, unit_ids=None):
    """A list view's queryset: "upcoming" (未开始), "live" (进行中) or "past" (已结束/已取消)."""
    from django.db.models import Prefetch

    now = timezone.now()
    qs = (visible_meetings(person, unit_ids).select_related("host", "organiser_unit")
          .prefetch_related(Prefetch("co_hosts", queryset=Person.objects.only("id", "display_name", "username"))))
    if scope == "live":
        return qs.filter(state=MeetingState.LIVE).order_by("starts_at")
    if scope == "past":
        return qs.filter(Q(state__in=[MeetingState.ENDED, MeetingState.CANCELLED])
                         | Q(state=MeetingState.SCHEDULED, ends_at__lte=now)).order_by("-starts_at")
    if scope == "upcoming":
        return qs.filter(state=MeetingState.SCHEDULED, ends_at__gt=now).order_by("starts_at")
    raise ActionError(_("scope 应为 upcoming、live 或 past。"))


def is_host(person, meeting):
    return person.id == meeting.host_id or meeting.co_hosts.filter(id=person.id).exists()


def can_see(person, meeting):
    if is_host(person, meeting):
        return True
    return Invitation.objects.filter(meeting_id=meeting.id).filter(
        Q(person_id=person.id) | Q(unit_id__in=member_unit_ids(person))).exists()


MAX_ID = 2**63 - 1


def valid_id(value):
    """An id from a URL or a body as an int the database can hold, else None (→ a 404, never a 500)."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= MAX_ID else None


def _get_meeting(meeting_id):
    meeting_id = valid_id(meeting_id)
    try:
        if meeting_id is None:
            raise Meeting.DoesNotExist
        return Meeting.objects.select_related("host", "organiser_unit").get(id=meeting_id)
    except Meeting.DoesNotExist:
        raise ActionError(_("会议不存在。"), status=404) from None


def check_see(person, meeting_id):
    meeting = _get_meeting(meeting_id)
    if not can_see(person, meeting):
        raise ActionError(_("您未被邀请参加此会议，无权查看。"), status=403, code="not_invited")
    return meeting


def check_host(person, meeting):
    if not is_host(person, meeting):
        raise ActionError(_("只有主持人或联席主持人可以执行此操作。"), status=403)
    return meeting


def _check_open(meeting):
    if meeting.state == MeetingState.CANCELLED:
        raise ActionError(_("会议已取消。"), status=409)
    if meeting.state == MeetingState.ENDED:
        raise ActionError(_("会议已结束。"), status=409)


def check_join(person, meeting_id):
    """May this person enter the room now? Returns the Meeting or raises ActionError."""
    if person is None or not getattr(person, "is_authenticated", False) or not person.is_active:
        raise ActionError(_("请先登录。"), status=401)
    meeting = _get_meeting(meeting_id)
    if not can_see(person, meeting):
        raise ActionError(_("您未被邀请参加此会议，不能入会。"), status=403)
    _check_open(meeting)
    if is_host(person, meeting):
        return meeting
    participant = Participant.objects.filter(meeting_id=meeting.id, person_id=person.id).first()
    admitted = participant is not None and participant.admission == Participant.Admission.ADMITTED
    if participant is not None and participant.admission == Participant.Admission.REMOVED:
        raise ActionError(_("您已被主持人移出本次会议。"), status=403, code="removed")
    if meeting.locked and not admitted:
        raise ActionError(_("会议已锁定，暂时不能入会。"), status=403, code="locked")
    if meeting.waiting_room and not admitted:
        raise ActionError(_("请在等候室稍候，主持人准许后即可入会。"), status=403, code="waiting")
    return meeting


# --------------------------------------------------------------------------- recipients
def invited_person_ids(meeting):
    return set(Invitation.objects.filter(meeting_id=meeting.id, person__isnull=False)
               .values_list("person_id", flat=True))


def invited_unit_ids(meeting):
    return set(Invitation.objects.filter(meeting_id=meeting.id, unit__isnull=False)
               .values_list("unit_id", flat=True))


def _host_ids(meeting):
    return {meeting.host_id} | set(meeting.co_hosts.values_list("id", flat=True))


def _participant_ids(meeting):
    return set(Participant.objects.filter(meeting_id=meeting.id).values_list("person_id", flat=True))


def _with_departments(unit_ids):
    unit_ids = set(unit_ids)
    return unit_ids | set(departments_of(unit_ids))


def _notify_everyone(meeting, event):
    send_event(event, people=invited_person_ids(meeting) | _host_ids(meeting) | _participant_ids(meeting),
               units=_with_departments(invited_unit_ids(meeting)))


def _notify_room(meeting, event, extra=()):
    send_event(event, people=_host_ids(meeting) | _participant_ids(meeting) | set(extra))


# --------------------------------------------------------------------------- scheduling
def _parse_when(value, label):
    if isinstance(value, datetime.datetime):
        when = value
    else:
        from django.utils.dateparse import parse_datetime

        try:
            when = parse_datetime(str(value or "").strip())
        except ValueError:
            when = None
        if when is None:
            raise ActionError(_("%(label)s格式不正确。") % {"label": label})
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


def scope_unit(person, post):
    """The subtree a person may invite units from: their post's government (None = anywhere)."""
    if person.is_superuser and post is None:
        return None
    if post is None:
        raise ActionError(_("您当前没有在岗岗位，不能安排会议。"), status=403)
    government = post.unit.government
    return None if government.kind == UnitKind.CITY else government


def _in_scope(unit, scope):
    return scope is None or unit.path.startswith(scope.path)


def _int_list(values, label):
    out = []
    for v in values or ():
        n = valid_id(v)
        if n is None:
            raise ActionError(_("%(label)s编号不正确：%(v)s") % {"label": label, "v": str(v)[:30]})
        out.append(n)
    return out


def expand_units(*, unit_ids=(), levels=(), villages_of=(), scope=None):
    """Selections → {unit_id: (Unit, via)}: by unit, by level (within a unit), all villages of a town.

    levels: items {"level": 2..4, "within": unit id or None} (or plain ints); unknown, dissolved
    or out-of-scope units are refused with a clear message, never skipped silently.
    """
    chosen = {}
    ids = _int_list(unit_ids, _("单位"))
    if ids:
        found = {u.id: u for u in Unit.objects.filter(id__in=ids)}
        for uid in ids:
            unit = found.get(uid)
            if unit is None:
                raise ActionError(_("未知的单位：%(id)s") % {"id": uid})
            if unit.dissolved_at is not None:
                raise ActionError(_("单位“%(name)s”已撤销，不能邀请。") % {"name": unit.name})
            if not _in_scope(unit, scope):
                raise ActionError(_("只能邀请本单位及下级单位：%(name)s不在范围内。") % {"name": unit.name}, status=403)
            chosen.setdefault(unit.id, (unit, InvitationVia.UNIT))
    for item in levels or ():
        if isinstance(item, dict):
            level, within = item.get("level"), item.get("within")
        else:
            level, within = item, None
        try:
            level = int(level)
        except (TypeError, ValueError):
            raise ActionError(_("层级不正确：%(v)s") % {"v": str(level)[:20]}) from None
        if level not in KIND_OF_LEVEL:
            raise ActionError(_("层级应为1（市）至4（村、社区）：%(v)s") % {"v": level})
        base = scope
        if within not in (None, ""):
            base = Unit.objects.filter(id=_int_list([within], _("单位"))[0]).first()
            if base is None:
                raise ActionError(_("未知的单位：%(id)s") % {"id": within})
            if not _in_scope(base, scope):
                raise ActionError(_("只能邀请本单位及下级单位：%(name)s不在范围内。") % {"name": base.name}, status=403)
        qs = Unit.objects.active().filter(kind=KIND_OF_LEVEL[level])
        if base is not None:
            qs = qs.filter(path__startswith=base.path)
        for unit in qs:
            chosen.setdefault(unit.id, (unit, InvitationVia.LEVEL))
    towns = _int_list(villages_of, _("镇(街道)"))
    if towns:
        found = {u.id: u for u in Unit.objects.filter(id__in=towns)}
        for tid in towns:
            town = found.get(tid)
            if town is None:
                raise ActionError(_("未知的单位：%(id)s") % {"id": tid})
            if town.kind != UnitKind.TOWN:
                raise ActionError(_("“%(name)s”不是镇(街道)，不能按“所辖全部村(社区)”邀请。") % {"name": town.name})
            if not _in_scope(town, scope):
                raise ActionError(_("只能邀请本单位及下级单位：%(name)s不在范围内。") % {"name": town.name}, status=403)
            for unit in Unit.objects.active().filter(parent_id=town.id, kind=UnitKind.VILLAGE):
                chosen.setdefault(unit.id, (unit, InvitationVia.TOWN_VILLAGES))
    if len(chosen) > MAX_INVITED_UNITS:
        raise ActionError(_("一次最多邀请%(n)d个单位。") % {"n": MAX_INVITED_UNITS})
    return chosen


def _people(ids, label):
    ids = _int_list(ids, label)
    found = {p.id: p for p in Person.objects.filter(id__in=ids, is_active=True)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ActionError(_("未知的人员：%(id)s") % {"id": missing[0]})
    return [found[i] for i in dict.fromkeys(ids)]


def check_meeting_fields(*, kind, title, agenda, starts_at, ends_at, now=None, allow_past_start=False):
    now = now or timezone.now()
    if kind not in MeetingKind.values:
        raise ActionError(_("会议类型应为“会议”或“培训”。"))
    title = (title or "").strip()
    if not title:
        raise ActionError(_("会议名称不能为空。"))
    if len(title) > TITLE_MAX:
        raise ActionError(_("会议名称不能超过%(n)d个字。") % {"n": TITLE_MAX})
    agenda = (agenda or "").strip()
    if len(agenda) > AGENDA_MAX:
        raise ActionError(_("议程不能超过%(n)d个字。") % {"n": AGENDA_MAX})
    starts_at = _parse_when(starts_at, _("开始时间"))
    ends_at = _parse_when(ends_at, _("结束时间"))
    if not allow_past_start and starts_at < now - PAST_GRACE:
        raise ActionError(_("开始时间不能早于现在。"))
    if ends_at <= starts_at:
        raise ActionError(_("结束时间必须晚于开始时间。"))
    if ends_at - starts_at > MAX_DURATION:
        raise ActionError(_("会议时长不能超过24小时。"))
    return {"kind": kind, "title": title, "agenda": agenda, "starts_at": starts_at, "ends_at": ends_at}


def check_schedule(person, post, *, kind=MeetingKind.MEETING, title="", agenda="", starts_at=None, ends_at=None,
                   co_host_ids=(), person_ids=(), unit_ids=(), levels=(), villages_of=()):
    scope = scope_unit(person, post)
    fields = check_meeting_fields(kind=kind, title=title, agenda=agenda, starts_at=starts_at, ends_at=ends_at)
    co_hosts = [p for p in _people(co_host_ids, _("联席主持人")) if p.id != person.id]
    people = [p for p in _people(person_ids, _("人员")) if p.id != person.id]
    units = expand_units(unit_ids=unit_ids, levels=levels, villages_of=villages_of, scope=scope)
    if not people and not units and not co_hosts:
        raise ActionError(_("请至少邀请一个人员或单位。"))
    return fields, co_hosts, people, units


def do_schedule(person, post, *, kind=MeetingKind.MEETING, title="", agenda="", starts_at=None, ends_at=None,
                co_host_ids=(), person_ids=(), unit_ids=(), levels=(), villages_of=(), waiting_room=False,
                record=False, ip=None):
    fields, co_hosts, people, units = check_schedule(
        person, post, kind=kind, title=title, agenda=agenda, starts_at=starts_at, ends_at=ends_at,
        co_host_ids=co_host_ids, person_ids=person_ids, unit_ids=unit_ids, levels=levels, villages_of=villages_of)
    with transaction.atomic():
        meeting = Meeting.objects.create(
            host=person, host_post=post, organiser_unit=post.unit.government if post else None,
            waiting_room=bool(waiting_room), record=bool(record), **fields)
        meeting.co_hosts.set(co_hosts)
        _add_invitations(meeting, person, people, units)
        audit.record("meeting.schedule", person=person, post=post, obj=meeting, ip=ip,
                     data={"title": meeting.title, "kind": meeting.kind, "starts_at": meeting.starts_at,
                           "ends_at": meeting.ends_at, "people": [p.id for p in people],
                           "units": sorted(units), "co_hosts": [p.id for p in co_hosts]})
        send_event({"type": "meeting", "op": "invited", "meeting": meeting.id},
                   people=[p.id for p in people] + [p.id for p in co_hosts] + [person.id],
                   units=_with_departments(units))
    return meeting


def _add_invitations(meeting, actor, people, units):
    have_people = invited_person_ids(meeting)
    have_units = invited_unit_ids(meeting)
    new_people = [p for p in people if p.id not in have_people]
    new_units = {uid: v for uid, v in units.items() if uid not in have_units}
    Invitation.objects.bulk_create(
        [Invitation(meeting=meeting, person=p, via=InvitationVia.PERSON, invited_by=actor) for p in new_people]
        + [Invitation(meeting=meeting, unit=unit, via=via, invited_by=actor) for unit, via in new_units.values()]
    )
    return new_people, new_units


def do_invite(person, post, meeting, *, person_ids=(), unit_ids=(), levels=(), villages_of=(), ip=None):
    check_host(person, meeting)
    _check_open(meeting)
    scope = scope_unit(person, post) if not person.is_superuser else None
    people = [p for p in _people(person_ids, _("人员")) if p.id != meeting.host_id]
    units = expand_units(unit_ids=unit_ids, levels=levels, villages_of=villages_of, scope=scope)
    if not people and not units:
        raise ActionError(_("请至少选择一个人员或单位。"))
    with transaction.atomic():
        Meeting.objects.select_for_update().filter(id=meeting.id).first()
        new_people, new_units = _add_invitations(meeting, person, people, units)
        audit.record("meeting.invite", person=person, post=post, obj=meeting, ip=ip,
                     data={"people": [p.id for p in new_people], "units": sorted(new_units)})
        send_event({"type": "meeting", "op": "invited", "meeting": meeting.id},
                   people=[p.id for p in new_people] + [meeting.host_id], units=_with_departments(new_units))
    return len(new_people), len(new_units)


def do_uninvite(person, meeting, invitation_id, ip=None):
    check_host(person, meeting)
    _check_open(meeting)
    with transaction.atomic():
        invitation = Invitation.objects.filter(meeting_id=meeting.id, id=valid_id(invitation_id) or 0).first()
        if invitation is None:
            raise ActionError(_("没有这条邀请。"), status=404)
        data = {"person": invitation.person_id, "unit": invitation.unit_id}
        invitation.delete()
        audit.record("meeting.uninvite", person=person, obj=meeting, ip=ip, data=data)
        send_event({"type": "meeting", "op": "updated", "meeting": meeting.id},
                   people=[p for p in [data["person"], meeting.host_id] if p],
                   units=[data["unit"]] if data["unit"] else [])


def do_update(person, meeting, *, ip=None, **changes):
    """Change title, agenda, kind, times, co-hosts, waiting room, recording flag (host only)."""
    check_host(person, meeting)
    _check_open(meeting)
    allowed = {"kind", "title", "agenda", "starts_at", "ends_at", "waiting_room", "record", "co_host_ids"}
    unknown = set(changes) - allowed
    if unknown:
        raise ActionError(_("不能修改这些字段：%(f)s") % {"f": "、".join(sorted(unknown))})
    merged = {"kind": meeting.kind, "title": meeting.title, "agenda": meeting.agenda,
              "starts_at": meeting.starts_at, "ends_at": meeting.ends_at}
    merged.update({k: v for k, v in changes.items() if k in merged and v is not None})
    start_changed = _parse_when(merged["starts_at"], _("开始时间")) != meeting.starts_at
    if meeting.state == MeetingState.LIVE and start_changed:
        raise ActionError(_("会议已开始，不能修改开始时间。"), status=409)
    fields = check_meeting_fields(**merged, allow_past_start=not start_changed)
    co_hosts = None
    if changes.get("co_host_ids") is not None:
        co_hosts = [p for p in _people(changes["co_host_ids"], _("联席主持人")) if p.id != meeting.host_id]
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(id=meeting.id)
        for key, value in fields.items():
            setattr(meeting, key, value)
        for flag in ("waiting_room", "record"):
            if changes.get(flag) is not None:
                setattr(meeting, flag, bool(changes[flag]))
        if start_changed:
            meeting.reminded_at = None
        meeting.updated_at = timezone.now()
        meeting.save()
        if co_hosts is not None:
            meeting.co_hosts.set(co_hosts)
        audit.record("meeting.update", person=person, obj=meeting, ip=ip,
                     data={k: v for k, v in changes.items() if v is not None})
        _notify_everyone(meeting, {"type": "meeting", "op": "updated", "meeting": meeting.id})
    return meeting


def do_cancel(person, meeting, *, ip=None):
    check_host(person, meeting)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(id=meeting.id)
        if meeting.state == MeetingState.CANCELLED:
            raise ActionError(_("会议已取消。"), status=409)
        if meeting.state != MeetingState.SCHEDULED:
            raise ActionError(_("会议已开始或已结束，不能取消；请使用“结束会议”。"), status=409)
        meeting.state = MeetingState.CANCELLED
        meeting.cancelled_at = meeting.updated_at = timezone.now()
        meeting.save(update_fields=["state", "cancelled_at", "updated_at"])
        audit.record("meeting.cancel", person=person, obj=meeting, ip=ip)
        _notify_everyone(meeting, {"type": "meeting", "op": "cancelled", "meeting": meeting.id})
    return meeting


def do_add_material(person, meeting, uploaded, *, ip=None):
    check_host(person, meeting)
    if meeting.state == MeetingState.CANCELLED:
        raise ActionError(_("会议已取消。"), status=409)
    if uploaded is None or not getattr(uploaded, "name", ""):
        raise ActionError(_("请选择要上传的文件。"))
    if uploaded.size > settings.YW_MAX_UPLOAD_BYTES:
        raise ActionError(_("文件过大：最大%(mb)d MB。") % {"mb": settings.YW_MAX_UPLOAD_BYTES // (1024 * 1024)},
                          status=413)
    name = os.path.basename(uploaded.name.replace("\\", "/")).strip()[:200] or "file"
    with transaction.atomic():
        material = Material(meeting=meeting, name=name, size=uploaded.size,
                            content_type=(getattr(uploaded, "content_type", "") or "")[:100], uploaded_by=person)
        material.file.save(name, uploaded, save=False)
        material.save()
        audit.record("meeting.material", person=person, obj=meeting, ip=ip, data={"name": name, "size": uploaded.size})
        _notify_everyone(meeting, {"type": "meeting", "op": "updated", "meeting": meeting.id})
    return material


# --------------------------------------------------------------------------- in the room
def _unit_for(person, meeting):
    """The unit a person attends for: an invited unit they belong to, else their first post's."""
    units = member_unit_ids(person)
    invited = invited_unit_ids(meeting)
    for uid in units:
        if uid in invited:
            return uid
    return units[0] if units else None


def do_request_admission(person, meeting):
    """Into the waiting room (等候室): the hosts see the person and may admit them."""
    with transaction.atomic():
        participant, created = Participant.objects.get_or_create(
            meeting=meeting, person=person, defaults={"admission": Participant.Admission.WAITING})
        if not created and participant.admission == Participant.Admission.REMOVED:
            raise ActionError(_("您已被主持人移出本次会议。"), status=403)
        if created:
            audit.record("meeting.waiting", person=person, obj=meeting)
        send_event({"type": "meeting", "op": "roster", "meeting": meeting.id}, people=_host_ids(meeting))
    return participant


def do_participant_joined(person, meeting, media_mode=MediaMode.VIDEO, session_key=""):
    """The SFU (or the room page) reports that a person is in the room; opens an attendance interval."""
    if media_mode not in MediaMode.values:
        media_mode = MediaMode.VIDEO
    now = timezone.now()
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(id=meeting.id)
        _check_open(meeting)
        started = False
        # A host's arrival starts the meeting, or anyone's once the start time has come; an
        # early participant waits in the room without starting it.
        if meeting.state == MeetingState.SCHEDULED and (now >= meeting.starts_at or is_host(person, meeting)):
            meeting.state = MeetingState.LIVE
            meeting.started_at = meeting.updated_at = now
            meeting.save(update_fields=["state", "started_at", "updated_at"])
            started = True
        participant, _created = Participant.objects.get_or_create(meeting=meeting, person=person)
        participant.admission = Participant.Admission.ADMITTED
        participant.online = True
        participant.media_mode = media_mode
        participant.updated_at = now
        participant.save()
        key = (session_key or "")[:64]
        if key:
            open_same = Attendance.objects.filter(meeting=meeting, person=person, session_key=key,
                                                  left_at__isnull=True).first()
            if open_same is not None:  # a repeated report of the same session
                return open_same
        row = Attendance.objects.create(meeting=meeting, person=person, unit_id=_unit_for(person, meeting),
                                        session_key=key, media_mode=media_mode, joined_at=now)
        audit.record("meeting.join", person=person, obj=meeting, data={"mode": media_mode})
        if started:
            _notify_everyone(meeting, {"type": "meeting", "op": "started", "meeting": meeting.id})
        send_event({"type": "meeting", "op": "roster", "meeting": meeting.id}, people=_host_ids(meeting))
    return row


def do_participant_admitted(person, meeting, session_key):
    """A session that waited in the media server's join queue (admission control) is let in: its
    attendance interval starts now, not when it asked to join (waiting is not attending)."""
    now = timezone.now()
    with transaction.atomic():
        return (Attendance.objects.select_for_update()
                .filter(meeting_id=meeting.id, person_id=person.id, session_key=(session_key or "")[:64],
                        left_at__isnull=True, joined_at__lt=now)
                .update(joined_at=now))


def do_participant_left(person, meeting, session_key=None, *, admitted=True):
    """Closes the person's open interval(s): one session's if session_key is given, else all. A
    session that leaves before the join queue let it in (`admitted=False`) attended for no time."""
    now = timezone.now()
    with transaction.atomic():
        rows = Attendance.objects.select_for_update().filter(meeting_id=meeting.id, person_id=person.id,
                                                             left_at__isnull=True)
        if session_key:
            rows = rows.filter(session_key=session_key[:64])
        if not admitted:
            rows.update(joined_at=now)
        closed = rows.update(left_at=now)
        still = Attendance.objects.filter(meeting_id=meeting.id, person_id=person.id, left_at__isnull=True).exists()
        if not still:
            Participant.objects.filter(meeting_id=meeting.id, person_id=person.id).update(
                online=False, updated_at=now)
        if closed:
            audit.record("meeting.leave", person=person, obj=meeting)
            send_event({"type": "meeting", "op": "roster", "meeting": meeting.id}, people=_host_ids(meeting))
    return closed


def do_set_media_mode(person, meeting, media_mode):
    """Switch to audio-only (or back); the switch opens a new interval so minutes keep their mode."""
    if media_mode not in MediaMode.values:
        raise ActionError(_("未知的媒体模式。"))
    with transaction.atomic():
        row = (Attendance.objects.select_for_update().filter(meeting_id=meeting.id, person_id=person.id,
                                                             left_at__isnull=True).order_by("-joined_at").first())
        Participant.objects.filter(meeting_id=meeting.id, person_id=person.id).update(media_mode=media_mode)
        if row is None or row.media_mode == media_mode:
            return row
        now = timezone.now()
        row.left_at = now
        row.save(update_fields=["left_at"])
        new = Attendance.objects.create(meeting_id=meeting.id, person=person, unit_id=row.unit_id,
                                        session_key=row.session_key, media_mode=media_mode, joined_at=now)
        audit.record("meeting.media_mode", person=person, obj=meeting, data={"mode": media_mode})
        send_event({"type": "meeting", "op": "roster", "meeting": meeting.id}, people=_host_ids(meeting))
    return new


def _close_all_attendance(meeting, now):
    Attendance.objects.filter(meeting_id=meeting.id, left_at__isnull=True).update(left_at=now)
    Participant.objects.filter(meeting_id=meeting.id).update(online=False, hand_raised_at=None, updated_at=now)
    CheckInWindow.objects.filter(meeting_id=meeting.id, closes_at__gt=now).update(closes_at=now)


def do_host_command(person, meeting, command, target_person_id=None, *, ip=None):
    """主持人操作: mute one/all, stop video, remove, lock/unlock, admit, hand over presenting, end …

    Records a HostAction and an audit entry; sends {"type": "meeting", "op": "host", "command",
    "meeting", "target"} to the people in the room (the SFU and the pages act on it).
    """
    check_host(person, meeting)
    if command not in HostCommand.values:
        raise ActionError(_("未知的主持人操作：%(c)s") % {"c": str(command)[:30]})
    target = None
    if command in TARGETED:
        if target_person_id in (None, ""):
            raise ActionError(_("请指定要操作的参会人。"))
        target_person_id = valid_id(target_person_id)
        if target_person_id is None:
            raise ActionError(_("参会人编号不正确。"))
        target = Person.objects.filter(id=target_person_id).first()
        if target is None or not can_see(target, meeting):
            raise ActionError(_("该人员不是本次会议的参会人。"), status=404)
        if command == HostCommand.REMOVE and target.id in _host_ids(meeting):
            raise ActionError(_("不能移出主持人或联席主持人。"))
    if command in (HostCommand.RECORD_START, HostCommand.RECORD_STOP) and not meeting.record:
        raise ActionError(_("本次会议未开启录制。"), status=409)
    now = timezone.now()
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(id=meeting.id)
        _check_open(meeting)
        if command in (HostCommand.LOCK, HostCommand.UNLOCK):
            meeting.locked = command == HostCommand.LOCK
            meeting.save(update_fields=["locked"])
        elif command == HostCommand.PRESENT:
            meeting.presenter = target
            meeting.save(update_fields=["presenter"])
        elif command == HostCommand.END:
            meeting.state = MeetingState.ENDED
            meeting.ended_at = meeting.updated_at = now
            meeting.save(update_fields=["state", "ended_at", "updated_at"])
            _close_all_attendance(meeting, now)
        elif command == HostCommand.MUTE_ALL:
            Participant.objects.filter(meeting=meeting).exclude(person_id__in=_host_ids(meeting)).update(
                muted_by_host=True, updated_at=now)
        elif target is not None:
            participant, _c = Participant.objects.select_for_update().get_or_create(meeting=meeting, person=target)
            if command == HostCommand.MUTE:
                participant.muted_by_host = True
            elif command == HostCommand.STOP_VIDEO:
                participant.video_stopped_by_host = True
            elif command == HostCommand.LOWER_HAND:
                participant.hand_raised_at = None
            elif command == HostCommand.ALLOW_SPEAK:  # 允许发言: the host's mute is lifted, the hand goes down
                participant.hand_raised_at = None
                participant.muted_by_host = False
            elif command == HostCommand.ADMIT:
                participant.admission = Participant.Admission.ADMITTED
            elif command == HostCommand.REMOVE:
                participant.admission = Participant.Admission.REMOVED
                participant.online = False
                Attendance.objects.filter(meeting=meeting, person=target, left_at__isnull=True).update(left_at=now)
            participant.updated_at = now
            participant.save()
        HostAction.objects.create(meeting=meeting, actor=person, command=command, target=target, at=now)
        audit.record(f"meeting.host.{command}", person=person, obj=meeting, ip=ip,
                     data={"target": target.id if target else None})
        event = {"type": "meeting", "op": "host", "command": command, "meeting": meeting.id,
                 "target": target.id if target else None}
        if command == HostCommand.END:
            _notify_everyone(meeting, event)
        else:
            _notify_room(meeting, event, extra=[target.id] if target else ())
    return meeting


# --------------------------------------------------------------------------- raised hands (举手队列)
def hand_queue(meeting):
    """Raised hands in the order they went up, first come first heard: admitted participants'
    rows ordered by hand_raised_at (ties by row id, so two hands in the same instant keep one order)."""
    return (Participant.objects.filter(meeting_id=meeting.id, hand_raised_at__isnull=False,
                                       admission=Participant.Admission.ADMITTED)
            .order_by("hand_raised_at", "id"))


def queue_place(meeting, person):
    """The 1-based place of the person's raised hand in the queue, or None when it is not up."""
    mine = hand_queue(meeting).filter(person_id=person.id).values_list("hand_raised_at", "id").first()
    if mine is None:
        return None
    at, row_id = mine
    return hand_queue(meeting).filter(Q(hand_raised_at__lt=at) | Q(hand_raised_at=at, id__lt=row_id)).count() + 1


def _hand_event(meeting, person_id, up):
    _notify_room(meeting, {"type": "meeting", "op": "hand", "meeting": meeting.id, "person": person_id,
                           "up": bool(up)})


def do_raise_hand(person, meeting, up=True):
    """举手 / 放下. Raising a hand that is already up keeps its place in the queue."""
    meeting = check_join(person, meeting.id)
    now = timezone.now()
    with transaction.atomic():
        participant, _c = Participant.objects.select_for_update().get_or_create(meeting=meeting, person=person)
        if up and participant.hand_raised_at is not None:
            return participant  # already in the queue: no new place, no new event
        participant.hand_raised_at = now if up else None
        participant.updated_at = now
        participant.save(update_fields=["hand_raised_at", "updated_at"])
        audit.record("meeting.hand", person=person, obj=meeting, data={"up": bool(up)})
        _hand_event(meeting, person.id, up)
    return participant


def check_next_speaker(person, meeting):
    """The host's 下一位: the meeting must be open and someone's hand up."""
    check_host(person, meeting)
    _check_open(meeting)
    return meeting


def do_next_speaker(person, meeting, *, ip=None):
    """下一位: the first raised hand in the queue may speak (允许发言: unmuted, hand lowered).

    Two hosts pressing at once get two different people: the queue's head is taken under the
    meeting's row lock. Returns the Participant, or raises 409 when the queue is empty."""
    check_next_speaker(person, meeting)
    with transaction.atomic():
        Meeting.objects.select_for_update().filter(id=meeting.id).first()
        head = hand_queue(meeting).select_related("person").first()
        if head is None:
            raise ActionError(_("举手队列是空的。"), status=409)
        do_host_command(person, meeting, HostCommand.ALLOW_SPEAK, head.person_id, ip=ip)
    return head


def check_chat(person, meeting, text):
    meeting = check_join(person, meeting.id)
    text = (text or "").strip()
    if not text:
        raise ActionError(_("消息不能为空。"))
    if len(text) > CHAT_MAX:
        raise ActionError(_("消息过长：最多%(max)d个字，当前%(n)d个字。") % {"max": CHAT_MAX, "n": len(text)})
    return meeting, text


def check_chat_rate(person, meeting, now):
    """At most CHAT_RATE messages in any CHAT_WINDOW seconds (a sliding window over the kept
    messages, so no burst fits across a window boundary; refused attempts do not count).
    Call it inside the transaction that writes the message, after locking the person's row."""
    recent = ChatMessage.objects.filter(meeting_id=meeting.id, person_id=person.id,
                                        at__gt=now - datetime.timedelta(seconds=CHAT_WINDOW)).count()
    if recent >= CHAT_RATE:
        raise ActionError(_("发言太频繁：每%(s)d秒最多%(n)d条，请稍后再发。") % {"s": CHAT_WINDOW, "n": CHAT_RATE},
                          status=429)


def do_chat(person, meeting, text):
    meeting, text = check_chat(person, meeting, text)
    with transaction.atomic():
        # One person's messages are counted and written under a lock on their own row, so two
        # requests at once cannot both take the last place in the window (on SQLite, the
        # embedded default, every transaction begins IMMEDIATE: they are serialised anyway).
        list(Person.objects.select_for_update().filter(id=person.id).values_list("id", flat=True))
        now = timezone.now()
        check_chat_rate(person, meeting, now)
        message = ChatMessage.objects.create(meeting=meeting, person=person, at=now,
                                             person_name=(person.display_name or person.username)[:100], text=text)
        audit.record("meeting.chat", person=person, obj=meeting, data={"message": message.id, "length": len(text)})
        _notify_room(meeting, {"type": "meeting", "op": "chat", "meeting": meeting.id, "message": message.id})
    return message


def do_start_checkin(person, meeting, minutes=5):
    check_host(person, meeting)
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        raise ActionError(_("签到时长应为1至60分钟。")) from None
    if not 1 <= minutes <= 60:
        raise ActionError(_("签到时长应为1至60分钟。"))
    now = timezone.now()
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(id=meeting.id)
        _check_open(meeting)
        if meeting.state != MeetingState.LIVE:
            raise ActionError(_("会议开始后才能发起签到。"), status=409)
        CheckInWindow.objects.filter(meeting=meeting, closes_at__gt=now).update(closes_at=now)
        window = CheckInWindow.objects.create(meeting=meeting, opened_by=person, opens_at=now,
                                              closes_at=now + datetime.timedelta(minutes=minutes))
        audit.record("meeting.checkin_start", person=person, obj=meeting, data={"minutes": minutes})
        _notify_everyone(meeting, {"type": "meeting", "op": "checkin", "meeting": meeting.id, "window": window.id})
    return window


def do_check_in(person, meeting):
    meeting = check_see(person, meeting.id)
    _check_open(meeting)
    now = timezone.now()
    with transaction.atomic():
        window = CheckInWindow.objects.filter(meeting=meeting, opens_at__lte=now, closes_at__gt=now).last()
        if window is None:
            raise ActionError(_("当前没有进行中的签到。"), status=409)
        # 签到 proves presence: only someone in the room now may check in
        if not Attendance.objects.filter(meeting=meeting, person=person, left_at__isnull=True).exists():
            raise ActionError(_("请先进入会议，再签到。"), status=409)
        try:
            with transaction.atomic():
                checkin = CheckIn.objects.create(window=window, person=person, at=now)
        except IntegrityError:
            raise ActionError(_("您已签到，无需重复签到。"), status=409) from None
        audit.record("meeting.checkin", person=person, obj=meeting, data={"window": window.id})
        send_event({"type": "meeting", "op": "roster", "meeting": meeting.id}, people=_host_ids(meeting) | {person.id})
    return checkin


# --------------------------------------------------------------------------- recordings
def recordings_dir(meeting):
    """The spool folder on this machine where an SFU worker writes a recording while it runs (not
    MEDIA_ROOT: when the recording ends it goes into storage, which may be an S3 bucket)."""
    path = Path(settings.YW_SPOOL_DIR) / "recordings" / str(meeting.id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def recording_path(meeting):
    """Where the SFU should write a new recording of this meeting (a .webm in the spool folder)."""
    return str(recordings_dir(meeting) / f"{timezone.localtime():%Y%m%d-%H%M%S}-{os.getpid()}.webm")


def _inside_spool(path):
    root = (Path(settings.YW_SPOOL_DIR) / "recordings").resolve()
    try:
        Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    return True


def do_recording_saved(meeting, path, *, duration_seconds=0.0, size_bytes=None, started_at=None, person=None):
    """The SFU finished writing a WebM in its spool folder: put it into storage (streamed, with its
    SHA-256) and list it with the meeting (whoever could see it may play it)."""
    meeting = Meeting.objects.get(id=meeting.id if isinstance(meeting, Meeting) else int(meeting))
    path = str(path)
    if not _inside_spool(path):
        raise ActionError(_("录制文件必须保存在录制缓存目录中。"))
    if not os.path.isfile(path):
        raise ActionError(_("录制文件不存在。"), status=404)
    size_bytes = os.path.getsize(path)
    name = storage.save_local_file(f"meetings/{meeting.id}/recordings/{os.path.basename(path)}", path)
    person_id = person.id if isinstance(person, Person) else person
    try:
        with transaction.atomic():
            recording = Recording.objects.create(meeting=meeting, path=name,
                                                 started_at=started_at, duration_seconds=float(duration_seconds or 0),
                                                 size_bytes=int(size_bytes), recorded_by_id=person_id)
            audit.record("meeting.recording",
                         person=Person.objects.filter(id=person_id).first() if person_id else None,
                         obj=meeting, data={"recording": recording.id, "size": recording.size_bytes,
                                            "duration": recording.duration_seconds,
                                            "sha256": storage.record(name).sha256})
            _notify_room(meeting, {"type": "meeting", "op": "recording", "meeting": meeting.id,
                                   "recording": recording.id})
    except Exception:
        storage.delete(name)
        raise
    os.remove(path)  # stored: the spool copy goes
    return recording


def check_recording(person, meeting_id, recording_id):
    meeting = check_see(person, meeting_id)
    recording = Recording.objects.filter(meeting_id=meeting.id, id=valid_id(recording_id) or 0).first()
    if recording is None:
        raise ActionError(_("没有这个录制文件。"), status=404)
    if not storage.exists(recording.path):
        raise ActionError(_("录制文件已不在服务器上。"), status=404)
    return meeting, recording


# --------------------------------------------------------------------------- reminders
def send_reminders(now=None, lead=REMINDER_LEAD):
    """Remind invitees of meetings starting within `lead` (default 15 min). Call it every minute
    from a periodic job (`python manage.py meetings_remind`, cron or a systemd timer); each
    meeting is reminded once (reminded_at), also when several jobs run at the same time."""
    now = now or timezone.now()
    due = Meeting.objects.filter(state=MeetingState.SCHEDULED, reminded_at__isnull=True,
                                 starts_at__gt=now, starts_at__lte=now + lead)
    sent = 0
    for meeting_id in list(due.values_list("id", flat=True)):
        with transaction.atomic():
            claimed = Meeting.objects.filter(id=meeting_id, reminded_at__isnull=True).update(reminded_at=now)
            if not claimed:
                continue
            meeting = Meeting.objects.get(id=meeting_id)
            audit.record("meeting.reminder", obj=meeting)
            _notify_everyone(meeting, {"type": "meeting", "op": "reminder", "meeting": meeting.id})
            sent += 1
    return sent
