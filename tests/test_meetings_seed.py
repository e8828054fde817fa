"""seed_meetings gives a demo login a meeting in 5 minutes and a training tomorrow, once."""
import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from meetings.models import Invitation, Meeting
from office import todo
from office.models import Person, Unit

pytestmark = pytest.mark.django_db


def seed(*args):
    out = StringIO()
    call_command("seed_meetings", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_org():
    call_command("seed_demo", "--size", "small", stdout=StringIO(), stderr=StringIO())


def test_it_schedules_a_meeting_in_five_minutes_and_a_training_tomorrow_for_the_demo_town(demo_org, client_for):
    before = timezone.now()
    out = seed("--if-empty")
    assert out.count("已创建示例") == 2
    meeting = Meeting.objects.get(kind="meeting")
    training = Meeting.objects.get(kind="training")
    host = Person.objects.get(username="city_secretary")
    assert meeting.host_id == training.host_id == host.id
    assert datetime.timedelta(minutes=3) < meeting.starts_at - before <= datetime.timedelta(minutes=5)
    assert timezone.localtime(training.starts_at).date() == timezone.localtime(before).date() + datetime.timedelta(days=1)
    town = Person.objects.get(username="town_secretary").posts.first().unit
    villages = set(Unit.objects.filter(parent=town, kind="village").values_list("id", flat=True))
    assert len(villages) == 3
    assert set(Invitation.objects.filter(meeting=training).values_list("unit_id", flat=True)) == villages
    assert set(Invitation.objects.filter(meeting=meeting).values_list("unit_id", flat=True)) == villages | {town.id}

    cadre = Person.objects.get(username="village_cadre")
    titles = [item["title"] for item in todo.items_for(cadre)]
    assert any(meeting.title in t for t in titles) and any(training.title in t for t in titles)
    html = client_for(cadre).get("/meetings/").content.decode()
    assert meeting.title in html and training.title in html
    town_titles = [item["title"] for item in todo.items_for(Person.objects.get(username="town_secretary"))]
    assert any(meeting.title in t for t in town_titles) and not any(training.title in t for t in town_titles)
    # the host and a village cadre may enter the room right away
    from meetings.actions import check_join

    assert check_join(cadre, meeting.id).id == meeting.id


def test_it_creates_nothing_twice(demo_org):
    seed("--if-empty")
    assert "未创建示例会议" in seed("--if-empty")
    assert "示例会议已存在" in seed()
    assert Meeting.objects.count() == 2


def test_it_seeds_a_fresh_demo_when_the_old_one_has_ended(demo_org):
    seed()
    Meeting.objects.update(state="ended")
    seed("--if-empty")
    assert Meeting.objects.filter(state="scheduled").count() == 2


def test_it_refuses_in_one_line_without_the_demo_organisation(db):
    with pytest.raises(CommandError, match="seed_demo"):
        seed("--if-empty")
