"""Replay (回放) counts: watched positions merged as intervals, resumed on any device, refused when
they could not have been watched, only for people who could see the meeting."""
import pytest

from office.errors import ActionError
from tests.training_support import later, recording, training, training_events  # noqa: F401

pytestmark = pytest.mark.django_db


def _url(recording):
    return f"/api/training/{recording.meeting_id}/recordings/{recording.id}/progress"


def _post(client, recording, ranges, position=0):
    return client.post(_url(recording), {"ranges": ranges, "position": position}, content_type="application/json")


def test_it_merges_played_ranges_so_rewatching_does_not_count_twice(recording, client_for, village_cadre):
    client = client_for(village_cadre)
    first = _post(client, recording, [[0, 10]], 10)
    assert first.status_code == 200 and first.json()["watched_seconds"] == 10
    # the same ten seconds again plus five new ones overlapping: 20 s, not 35
    again = _post(client, recording, [[0, 10], [5, 20]], 20).json()
    assert again["watched_seconds"] == 20 and again["share"] == 0.2 and not again["completed"]
    from meetings.training.models import ReplayProgress

    assert ReplayProgress.objects.get(person=village_cadre).intervals == [[0.0, 20.0]]


def test_it_resumes_where_the_person_stopped_on_another_device(recording, client_for, village_cadre):
    _post(client_for(village_cadre), recording, [[0, 12]], 12.5)
    phone = client_for(village_cadre)  # another session: the position is kept on the server
    state = phone.get(_url(recording)).json()
    assert state["position"] == 12.5 and state["watched_seconds"] == 12
    page = phone.get(f"/meetings/{recording.meeting_id}/recordings/{recording.id}/").content.decode()
    assert f'data-progress="{_url(recording)}"' in page and "12%" in page


def test_it_counts_a_replay_watched_to_the_required_share_as_completed(recording, training, village_cadre,
                                                                       training_events, settings):
    from meetings.training.actions import completed_by_replay, do_record_progress

    settings.TRAINING_REPLAY_PERCENT = 80
    for step in range(1, 9):  # 10 s of video every 10 s of wall time: 80 s in all
        do_record_progress(village_cadre, training.id, recording.id, [[0, step * 10]], step * 10,
                           now=later(step * 10))
        assert completed_by_replay(training, village_cadre) == (step == 8)
    assert village_cadre.id in training_events.people_for("completion")


def test_it_refuses_more_watched_time_than_could_have_passed(recording, client_for, village_cadre):
    response = _post(client_for(village_cadre), recording, [[0, 95]], 95)
    assert response.status_code == 400 and "超过了实际经过的时间" in response.json()["detail"]
    assert client_for(village_cadre).get(_url(recording)).json()["watched_seconds"] == 0


@pytest.mark.parametrize("ranges, position", [("abc", 0), ([[5, 1]], 0), ([[-1, 3]], 0), ([[0, 1, 2]], 0),
                                              ([[0, "x"]], 0), ([[0, 5]], -3), ([[0, 1]] * 201, 0)])
def test_it_answers_bad_progress_with_a_chinese_400(recording, client_for, village_cadre, ranges, position):
    response = _post(client_for(village_cadre), recording, ranges, position)
    assert response.status_code in (400, 422)
    assert "观看进度格式不正确" in response.json()["detail"] or "请求数据格式不正确" in response.json()["detail"]


def test_it_hides_the_replay_from_an_outsider_of_another_county(recording, client_for, outsider):
    client = client_for(outsider)
    assert client.get(_url(recording)).status_code == 404
    response = _post(client, recording, [[0, 5]], 5)
    assert response.status_code == 404 and response.json()["detail"] == "会议不存在。"
    from meetings.training.actions import do_record_progress

    with pytest.raises(ActionError):
        do_record_progress(outsider, recording.meeting_id, recording.id, [[0, 5]], 5)


def test_it_answers_404_for_a_recording_of_another_meeting(recording, client_for, village_cadre):
    response = client_for(village_cadre).get(f"/api/training/{recording.meeting_id}/recordings/999999/progress")
    assert response.status_code == 404 and response.json()["detail"] == "没有这个录制文件。"
