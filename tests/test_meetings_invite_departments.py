"""Inviting a unit invites the people of the offices and sections that belong to it: a
government's own office (办公室) with the government, a bureau's sections (科室) with the bureau.
They see the meeting, may join, are told, and count in the unit's attendance. A government's
bureaus (县财政局) are units of their own, invited by name."""
import pytest

from office.errors import ActionError
from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


def _person_in(unit, username, name):
    from office.models import Person, Post

    person = Person.objects.create(username=username, display_name=name)
    Post.objects.create(person=person, unit=unit, is_handler=True)
    return person


@pytest.fixture
def office_clerk(units):
    """A clerk of 秦都区人民政府办公室, the county government's own office."""
    return _person_in(units["区政府办"], "office_clerk", "办公室文书")


@pytest.fixture
def budget_section(units):
    """A 科室 inside 秦都区财政局 (a department of a department), with one person."""
    from office.models import Unit, UnitKind

    section = Unit.objects.create(parent=units["区财政局"], kind=UnitKind.DEPARTMENT, name="秦都区财政局预算科")
    section.refresh_path()
    section.save(update_fields=["path", "depth"])
    return _person_in(section, "budget_clerk", "预算科员")


def test_it_invites_a_governments_own_office_with_the_government(
        city_secretary, office_clerk, county_handler, budget_section, units, client_for, sent_events):
    from meetings.actions import check_join, visible_meetings

    meeting = schedule(city_secretary, title="全区安全生产会议", unit_ids=[units["秦都区"].id])
    assert meeting in visible_meetings(office_clerk)
    assert check_join(office_clerk, meeting.id) == meeting
    page = client_for(office_clerk).get(f"/meetings/{meeting.id}/")
    assert page.status_code == 200 and "全区安全生产会议" in page.content.decode()
    # the county's finance bureau and its section are units of their own: not invited
    for person in (county_handler, budget_section):
        assert meeting not in visible_meetings(person)
        with pytest.raises(ActionError, match="未被邀请"):
            check_join(person, meeting.id)
    (event, people, event_units), = sent_events.of("invited")
    assert {units["秦都区"].id, units["区政府办"].id} <= set(event_units)
    assert units["区财政局"].id not in event_units


def test_it_invites_a_bureaus_sections_with_the_bureau(
        city_secretary, county_handler, city_finance_secretary, budget_section, units, client_for, sent_events):
    from meetings.actions import check_join, visible_meetings

    meeting = schedule(city_secretary, title="全区财政工作会议", unit_ids=[units["区财政局"].id])
    for person in (county_handler, budget_section):
        assert meeting in visible_meetings(person)
        assert check_join(person, meeting.id) == meeting
        page = client_for(person).get(f"/meetings/{meeting.id}/")
        assert page.status_code == 200 and "全区财政工作会议" in page.content.decode()
    # another government's bureau (the city's finance bureau) stays outside
    assert meeting not in visible_meetings(city_finance_secretary)
    with pytest.raises(ActionError, match="未被邀请"):
        check_join(city_finance_secretary, meeting.id)
    (event, people, event_units), = sent_events.of("invited")
    assert {units["区财政局"].id} <= set(event_units)
    assert units["市财政局"].id not in event_units and units["秦都区"].id not in event_units


def test_it_counts_office_people_in_the_invited_governments_attendance(
        city_secretary, county_secretary, office_clerk, county_handler, units):
    from meetings.actions import do_participant_joined
    from meetings.models import Attendance
    from meetings.reports import attendance_report

    meeting = schedule(city_secretary, title="全区安全生产会议", unit_ids=[units["秦都区"].id])
    do_participant_joined(city_secretary, meeting, "video")
    do_participant_joined(office_clerk, meeting, "video")
    assert Attendance.objects.get(meeting=meeting, person=office_clerk).unit_id == units["秦都区"].id

    report = attendance_report(meeting)
    county = [g for g in report["units"] if g["unit_id"] == units["秦都区"].id][0]
    names = [p["name"] for p in county["people"]]
    assert set(names) == {"周区长", "吴秘书", "办公室文书"}
    assert names.index("周区长") < names.index("办公室文书")  # the unit's own people first
    assert (county["invited"], county["attended"], county["missed"]) == (3, 1, 2)
    assert [g["unit_id"] for g in report["units"] if g["unit_id"]] == [units["秦都区"].id]  # no extra groups


def test_it_keeps_an_explicitly_invited_department_as_its_own_unit(city_secretary, office_clerk, county_handler,
                                                                  budget_section, units):
    from meetings.actions import do_participant_joined
    from meetings.models import Attendance
    from meetings.reports import attendance_report

    meeting = schedule(city_secretary, unit_ids=[units["秦都区"].id, units["区政府办"].id, units["区财政局"].id])
    do_participant_joined(office_clerk, meeting, "audio")
    assert Attendance.objects.get(meeting=meeting, person=office_clerk).unit_id == units["区政府办"].id
    groups = {g["unit_id"]: {p["name"] for p in g["people"]} for g in attendance_report(meeting)["units"]}
    assert groups[units["区政府办"].id] == {"办公室文书"}
    assert groups[units["区财政局"].id] == {"郑科员", "预算科员"}
    assert groups[units["秦都区"].id] == {"周区长", "吴秘书"}


def test_it_does_not_reach_up_from_an_invited_town_to_the_countys_departments(county_secretary, county_handler,
                                                                             units):
    from meetings.actions import visible_meetings

    meeting = schedule(county_secretary, unit_ids=[units["人民路街道"].id])
    assert meeting not in visible_meetings(county_handler)
