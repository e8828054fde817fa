"""The organiser's completion report: live, by replay or not at all, per county, town and village,
with an SVG chart per level, CSV and PDF, and one click reminding the units not completed."""
import csv
import io

import pytest

from tests.training_support import later, recording, training, training_events  # noqa: F401

pytestmark = pytest.mark.django_db


def watch(person, recording, seconds):
    from meetings.training.actions import do_record_progress

    for step in range(10, seconds + 1, 10):
        do_record_progress(person, recording.meeting_id, recording.id, [[0, step]], step, now=later(step))


@pytest.fixture
def watched(training, recording, village_cadre):
    """褚书记 (人民路社区) watched 80 s of the 100 s recording; 卫文书 (北街村) did nothing."""
    watch(village_cadre, recording, 80)
    return training


def test_it_counts_live_replay_and_missing_per_county_town_and_village(watched, village_cadre, village_cadre2,
                                                                       county_secretary):
    from meetings.training.completion import completion_report

    report = completion_report(watched)
    status = {p["name"]: p["status"] for u in report["units"] for p in u["people"]}
    assert status == {"褚书记": "replay", "卫文书": "none", "吴秘书": "live"}
    levels = {level["kind"]: {r["name"]: (r["expected"], r["live"], r["replay"], r["missing"])
                              for r in level["rows"]} for level in report["levels"]}
    assert levels["county"] == {"秦都区": (2, 0, 1, 1)}
    assert levels["town"] == {"人民路街道": (2, 0, 1, 1)}
    assert levels["village"] == {"人民路社区": (1, 0, 1, 0), "北街村": (1, 0, 0, 1)}
    assert report["totals"] == {"expected": 3, "live": 1, "replay": 1, "missing": 1}


def test_it_keeps_someone_below_the_required_share_as_not_completed(training, recording, village_cadre, settings):
    from meetings.training.completion import completion_report

    settings.TRAINING_REPLAY_PERCENT = 90
    watch(village_cadre, recording, 80)
    status = {p["name"]: p["status"] for u in completion_report(training)["units"] for p in u["people"]}
    assert status["褚书记"] == "none"


def test_it_shows_a_chart_per_level_with_names_escaped(watched, client_for, county_secretary, units):
    from office.models import Unit

    Unit.objects.filter(id=units["北街村"].id).update(short_name='<script>alert("x")</script>北街村')
    page = client_for(county_secretary).get(f"/meetings/{watched.id}/completion/")
    assert page.status_code == 200
    html = page.content.decode()
    for level in ("county", "town", "village"):
        assert f'data-level="{level}"' in html
    assert '<svg' in html and 'class="completion-chart"' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;北街村" in html
    assert 'data-live="0" data-replay="1" data-missing="0"' in html  # 人民路社区's bar


def test_it_exports_csv_with_formulas_neutralised_and_a_pdf_in_chinese(watched, client_for, county_secretary,
                                                                        village_cadre2):
    from office.models import Person

    Person.objects.filter(id=village_cadre2.id).update(display_name="=HYPERLINK(\"http://x\")")
    client = client_for(county_secretary)
    response = client.get(f"/meetings/{watched.id}/completion.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["县(市、区)", "镇(街道)", "村(社区)"]
    by_name = {r[4]: r for r in rows[1:]}
    assert by_name["褚书记"][:3] == ["秦都区人民政府", "人民路街道办事处", "人民路社区居民委员会"]
    assert by_name["褚书记"][5] == "观看回放" and by_name["褚书记"][7] == "80%"
    assert "'=HYPERLINK(\"http://x\")" in by_name and by_name["'=HYPERLINK(\"http://x\")"][5] == "未完成"
    pdf = client.get(f"/meetings/{watched.id}/completion.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and b"STSong-Light" in pdf.content


def test_it_reminds_the_units_not_completed_with_a_notice_and_a_todo(watched, recording, client_for,
                                                                     county_secretary, village_cadre2, units,
                                                                     training_events):
    from meetings.training.models import CompletionReminder
    from office import todo

    response = client_for(county_secretary).post(f"/meetings/{watched.id}/completion/remind/")
    assert response.status_code == 302
    assert list(CompletionReminder.objects.values_list("unit_id", flat=True)) == [units["北街村"].id]
    event, people, unit_ids = training_events.of("completion_reminder")[0]
    assert people == [village_cadre2.id] and unit_ids == [units["北街村"].id]
    items = [i for i in todo.items_for(village_cadre2) if i["kind"] == "training"]
    assert [i["url"] for i in items] == [f"/meetings/{watched.id}/course/"] and "请观看回放" in items[0]["title"]
    watch(village_cadre2, recording, 80)  # done by replay: the 待办 goes
    assert not [i for i in todo.items_for(village_cadre2) if i["kind"] == "training"]


def test_it_answers_a_remind_with_nobody_missing_with_a_chinese_409(watched, recording, client_for,
                                                                    county_secretary, village_cadre2):
    watch(village_cadre2, recording, 80)
    response = client_for(county_secretary).post(f"/api/training/{watched.id}/remind")
    assert response.status_code == 409 and response.json()["detail"] == "所有单位均已完成，无需催办。"


def test_it_refuses_the_report_to_an_outsider_with_404_and_to_an_invitee_with_403(watched, client_for, outsider,
                                                                                   village_cadre):
    outsider_client = client_for(outsider)
    for url in ("completion/", "completion.csv", "completion.pdf", "course/"):
        response = outsider_client.get(f"/meetings/{watched.id}/{url}")
        assert response.status_code == 404 and "会议不存在" in response.content.decode()
    assert outsider_client.post(f"/api/training/{watched.id}/remind").status_code == 404
    response = client_for(village_cadre).get(f"/meetings/{watched.id}/completion/")
    assert response.status_code == 403 and "只有主持人" in response.content.decode()
    assert client_for(village_cadre).post(f"/api/training/{watched.id}/remind").status_code == 403


def test_it_builds_the_page_in_as_many_queries_for_more_units(watched, client_for, county_secretary, units,
                                                              django_assert_max_num_queries):
    from meetings.actions import do_invite
    from tests.meetings_support import post_of

    client = client_for(county_secretary)
    with django_assert_max_num_queries(40) as few:
        assert client.get(f"/meetings/{watched.id}/completion/").status_code == 200
    do_invite(county_secretary, post_of(county_secretary), watched, villages_of=[units["渭阳西路街道"].id])
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(f"/meetings/{watched.id}/completion/").content.decode()
    assert "陈杨寨村" in page
