"""A training's course page: schedule, materials, the units and people expected, 签到 during the
session and one's own replay progress."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.training_support import later, recording, training  # noqa: F401

pytestmark = pytest.mark.django_db


def test_it_shows_schedule_materials_expected_people_and_replay_progress(training, recording, client_for,
                                                                        county_secretary, village_cadre):
    from meetings.actions import do_add_material
    from meetings.training.actions import do_record_progress

    do_add_material(county_secretary, training, SimpleUploadedFile("培训讲义.txt", "讲义".encode(), "text/plain"))
    do_record_progress(village_cadre, training.id, recording.id, [[0, 25]], 25, now=later(20))
    page = client_for(village_cadre).get(f"/meetings/{training.id}/course/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "农村人居环境整治培训" in html and "培训讲义.txt" in html
    assert "人民路社区" in html and "北街村" in html and "褚书记" in html and "卫文书" in html
    assert "您已观看回放 25%" in html
    assert f"/meetings/{training.id}/recordings/{recording.id}/" in html
    assert "completion-link" not in html  # the report is the organiser's


def test_it_offers_checkin_on_the_course_page_while_a_window_is_open(training, client_for, county_secretary,
                                                                    village_cadre):
    from meetings.actions import do_participant_joined, do_start_checkin
    from meetings.models import CheckIn

    client = client_for(village_cadre)
    assert "checkin-button" not in client.get(f"/meetings/{training.id}/course/").content.decode()
    do_start_checkin(county_secretary, training, 5)
    assert "checkin-button" in client.get(f"/meetings/{training.id}/course/").content.decode()
    do_participant_joined(village_cadre, training, "video")
    client.post(f"/meetings/{training.id}/checkin/")
    assert CheckIn.objects.filter(person=village_cadre).exists()
    assert "您已签到" in client.get(f"/meetings/{training.id}/course/").content.decode()


def test_it_links_the_course_and_the_report_from_the_meeting_page(training, client_for, county_secretary):
    html = client_for(county_secretary).get(f"/meetings/{training.id}/").content.decode()
    assert f"/meetings/{training.id}/course/" in html and f"/meetings/{training.id}/completion/" in html


def test_it_answers_a_bad_meeting_id_with_a_chinese_404(client_for, village_cadre):
    response = client_for(village_cadre).get("/meetings/99999999/course/")
    assert response.status_code == 404 and "会议不存在" in response.content.decode()
