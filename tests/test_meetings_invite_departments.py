"""Inviting a unit invites the people of its departments (内设机构/科室) too: they see the meeting,
may join, are told, and count in the unit's attendance; other units' departments are not invited."""
import pytest

from office.errors import ActionError
from tests.meetings_support import schedule, sent_events  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def budget_section(units):
    """A 科室 inside 秦都区财政局 (a department of a department), with one person."""
    from office.models import Person, Post, Unit, UnitKind

    section = Unit.objects.create(parent=units["区财政局"], kind=UnitKind.DEPARTMENT, name="秦都区财政局预算科")
    section.refresh_path()
    section.save(update_fields=["path", "depth"])
    person = Person.objects.create(username="budget_clerk", display_name="预算科员")
    Post.objects.create(person=person, unit=section, is_handler=True)
    return person


def test_it_invites_the_departments_of_an_invited_unit_and_their_sections(
        city_secretary, county_handler, city_finance_secretary, budget_section, units, client_for, sent_events):
    from meetings.actions import check_join, visible_meetings

    meeting = schedule(city_secretary, title="全区财政工作会议", unit_ids=[units["秦都区"].id])
    for person in (county_handler, budget_section):
        assert meeting in visible_meetings(person)
        assert check_join(person, meeting.id) == meeting
        page = client_for(person).get(f"/meetings/{meeting.id}/")
        assert page.status_code == 200 and "全区财政工作会议" in page.content.decode()
    # a department of a unit that was not invited (the city's finance bureau) stays outside
    assert meeting not in visible_meetings(city_finance_secretary)
    with pytest.raises(ActionError, match="未被邀请"):
        check_join(city_finance_secretary, meeting.id)
    # the live event reaches the departments' open pages
    (event, people, event_units), = sent_events.of("invited")
    assert {units["秦都区"].id, units["区政府办"].id, units["区财政局"].id} <= set(event_units)
    assert units["市财政局"].id not in event_units


def test_it_counts_department_people_in_the_invited_units_attendance(
        city_secretary, county_secretary, county_handler, budget_section, units):
    from meetings.actions import do_participant_joined
    from meetings.models import Attendance
    from meetings.reports import attendance_report

    meeting = schedule(city_secretary, title="全区财政工作会议", unit_ids=[units["秦都区"].id])
    do_participant_joined(city_secretary, meeting, "video")
    do_participant_joined(county_handler, meeting, "video")
    assert Attendance.objects.get(meeting=meeting, person=county_handler).unit_id == units["秦都区"].id

    report = attendance_report(meeting)
    county = [g for g in report["units"] if g["unit_id"] == units["秦都区"].id][0]
    names = [p["name"] for p in county["people"]]
    assert set(names) == {"周区长", "吴秘书", "郑科员", "预算科员"}
    assert names.index("周区长") < names.index("郑科员")  # the unit's own people first
    assert (county["invited"], county["attended"], county["missed"]) == (4, 1, 3)
    assert [g["unit_id"] for g in report["units"] if g["unit_id"]] == [units["秦都区"].id]  # no extra groups


def test_it_keeps_an_explicitly_invited_department_as_its_own_unit(city_secretary, county_handler, budget_section,
                                                                  units):
    from meetings.actions import do_participant_joined
    from meetings.models import Attendance
    from meetings.reports import attendance_report

    meeting = schedule(city_secretary, unit_ids=[units["秦都区"].id, units["区财政局"].id])
    do_participant_joined(county_handler, meeting, "audio")
    assert Attendance.objects.get(meeting=meeting, person=county_handler).unit_id == units["区财政局"].id
    groups = {g["unit_id"]: {p["name"] for p in g["people"]} for g in attendance_report(meeting)["units"]}
    assert groups[units["区财政局"].id] == {"郑科员", "预算科员"}
    assert groups[units["秦都区"].id] == {"周区长", "吴秘书"}


def test_it_does_not_reach_up_from_an_invited_town_to_the_countys_departments(county_secretary, county_handler,
                                                                             units):
    from meetings.actions import visible_meetings

    meeting = schedule(county_secretary, unit_ids=[units["人民路街道"].id])
    assert meeting not in visible_meetings(county_handler)
