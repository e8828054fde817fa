"""The roster of a large room (a training of every village: 3,000 people and more), a page at a time.

Searched and filtered in the database, counted by state in one query, and only the page's
people get their minutes, units and check-ins: the cost of a page does not grow with the room.
Used by the host's roster (/api/meetings/<id>/roster, the 实时名单 page) and by the room's
people panel (/api/meetings/<id>/participants, online people only).
"""
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils.translation import gettext as _

from office.errors import ActionError

from meetings import reports
from meetings.models import Attendance, CheckIn, Participant

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
SEARCH_MAX = 50
STATES = ("all", "present", "online", "waiting", "hands", "away", "removed")


def check_query(q="", state="all", page=1, page_size=PAGE_SIZE):
    """The roster's query parameters, cleaned; bad ones are a Chinese 400."""
    q = (q or "").strip()
    if len(q) > SEARCH_MAX:
        raise ActionError(_("搜索词不能超过%(n)d个字。") % {"n": SEARCH_MAX})
    state = state or "all"
    if state not in STATES:
        raise ActionError(_("状态应为 all、present、online、waiting、hands、away 或 removed。"))
    try:
        page, page_size = int(page), int(page_size)
    except (TypeError, ValueError):
        raise ActionError(_("页码和每页人数应为正整数。")) from None
    if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
        raise ActionError(_("页码应从1开始，每页人数应为1至%(n)d。") % {"n": PAGE_SIZE_MAX})
    return q, state, min(page, 10**6), page_size


def counts(meeting):
    """{"total", "online", "waiting", "hands"} of the whole room, in one query."""
    admitted = Q(admission=Participant.Admission.ADMITTED)
    return Participant.objects.filter(meeting_id=meeting.id).aggregate(
        total=Count("id"),
        online=Count("id", filter=Q(online=True)),
        waiting=Count("id", filter=Q(admission=Participant.Admission.WAITING)),
        hands=Count("id", filter=admitted & Q(hand_raised_at__isnull=False)),
    )


def _filtered(meeting, q, state):
    qs = Participant.objects.filter(meeting_id=meeting.id)
    if state == "online":
        qs = qs.filter(online=True)
    elif state == "present":  # in the room or waiting to be let in: the host's people panel
        qs = qs.filter(Q(online=True) | Q(admission=Participant.Admission.WAITING))
    elif state == "waiting":
        qs = qs.filter(admission=Participant.Admission.WAITING)
    elif state == "hands":
        qs = qs.filter(admission=Participant.Admission.ADMITTED, hand_raised_at__isnull=False)
    elif state == "away":
        qs = qs.filter(online=False, admission=Participant.Admission.ADMITTED)
    elif state == "removed":
        qs = qs.filter(admission=Participant.Admission.REMOVED)
    if q:
        by_unit = Attendance.objects.filter(Q(unit__name__icontains=q) | Q(unit__short_name__icontains=q),
                                            meeting_id=meeting.id).values("person_id")
        qs = qs.filter(Q(person__display_name__icontains=q) | Q(person__username__icontains=q)
                       | Q(person_id__in=by_unit))
    if state == "hands":
        return qs.order_by("hand_raised_at", "id")  # the queue's order
    # those waiting for the host first, then those online, then the rest; the same order each time
    rank = Case(When(admission=Participant.Admission.WAITING, then=Value(0)), When(online=True, then=Value(1)),
                default=Value(2), output_field=IntegerField())
    return qs.annotate(rank=rank).order_by("rank", "id")


def page_of(meeting, *, q="", state="all", page=1, page_size=PAGE_SIZE, full=True):
    """One page of the roster: {"participants", "page", "pages", "page_size", "matched", "counts"}.

    full: the host's rows (admission, minutes, unit, check-in); else what the room shows."""
    q, state, page, page_size = check_query(q, state, page, page_size)
    qs = _filtered(meeting, q, state)
    matched = qs.count()
    pages = max(1, -(-matched // page_size))
    page = min(page, pages)
    rows = list(qs.select_related("person")[(page - 1) * page_size:page * page_size])
    hosts = meeting.host_ids()
    ids = [p.person_id for p in rows]
    out = []
    if full and rows:
        summaries = reports.person_summaries(meeting, person_ids=ids)
        checked = set(CheckIn.objects.filter(window__meeting_id=meeting.id, person_id__in=ids)
                      .values_list("person_id", flat=True))
        units = {pid: short or name for pid, short, name in Attendance.objects.filter(
            meeting_id=meeting.id, person_id__in=ids, unit__isnull=False).order_by("joined_at").values_list(
            "person_id", "unit__short_name", "unit__name")}
    for p in rows:
        row = {"person_id": p.person_id, "name": p.person.display_name or p.person.username, "online": p.online,
               "media_mode": p.media_mode, "hand": p.hand_raised_at is not None, "host": p.person_id in hosts,
               "presenter": p.person_id == meeting.presenter_id}
        if full:
            row |= {"admission": p.admission, "muted_by_host": p.muted_by_host, "unit": units.get(p.person_id, ""),
                    "checked_in": p.person_id in checked, "minutes": summaries.get(p.person_id, {}).get("minutes", 0.0)}
        out.append(row)
    return {"participants": out, "page": page, "pages": pages, "page_size": page_size, "matched": matched,
            "q": q, "state": state, "counts": counts(meeting)}
