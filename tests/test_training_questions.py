"""问答: participants send questions to the presenter, who answers in text or marks them answered
live; everyone in the room sees the answered ones. Only the meeting's own people take part."""
import pytest

from tests.meetings_support import schedule
from tests.training_support import training_events  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def training(county_secretary, village_cadre, village_cadre2, town_secretary, units):
    """A live training of 人民路街道's villages (人民路社区, 北街村) with 陈文书 as presenter."""
    from meetings.actions import do_host_command, do_participant_joined

    meeting = schedule(county_secretary, kind="training", title="农村人居环境整治培训",
                       villages_of=[units["人民路街道"].id], person_ids=[town_secretary.id])
    for person in (county_secretary, village_cadre, village_cadre2, town_secretary):
        do_participant_joined(person, meeting, "video", session_key=f"s-{person.id}")
    do_host_command(county_secretary, meeting, "present", town_secretary.id)
    meeting.refresh_from_db()
    return meeting


@pytest.fixture
def other_town_cadre(units):
    """A village cadre of 西兰路社区 (渭阳西路街道): the training did not invite that town."""
    from office.models import Person, Post

    person = Person.objects.create_user("xilan_cadre", "x", display_name="西兰路书记")
    Post.objects.create(person=person, unit=units["西兰路社区"], title="社区书记", is_secretary=True)
    return person


def _url(meeting, tail=""):
    return f"/api/training/{meeting.id}/questions{tail}"


def _ask(client, meeting, text):
    return client.post(_url(meeting), {"text": text}, content_type="application/json")


def _answer(client, meeting, question_id, **body):
    return client.post(_url(meeting, f"/{question_id}/answer"), body, content_type="application/json")


def test_it_puts_a_question_before_the_presenter_and_shows_the_answer_to_the_room(
        training, client_for, village_cadre, village_cadre2, town_secretary, county_secretary, training_events):
    from office.models import AuditEntry

    asked = _ask(client_for(village_cadre), training, "  厕所改造的补助标准是多少？  ")
    assert asked.status_code == 201 and asked.json()["text"] == "厕所改造的补助标准是多少？"
    question_id = asked.json()["id"]
    (event, people, _u), = training_events.of("question")
    assert {town_secretary.id, county_secretary.id, village_cadre.id} <= set(people)
    assert village_cadre2.id not in people  # an open question is not the room's yet
    # the presenter sees it, open; the neighbour does not (yet); the asker sees their own
    presenter_view = client_for(town_secretary).get(_url(training)).json()
    assert presenter_view["can_answer"] and presenter_view["open"] == 1
    assert [q["text"] for q in presenter_view["questions"]] == ["厕所改造的补助标准是多少？"]
    assert client_for(village_cadre2).get(_url(training)).json()["questions"] == []
    mine = client_for(village_cadre).get(_url(training)).json()["questions"]
    assert mine[0]["mine"] and not mine[0]["answered"]
    answered = _answer(client_for(town_secretary), training, question_id, text="每户补助800元。")
    assert answered.status_code == 200 and answered.json()["answer"] == "每户补助800元。"
    room_view = client_for(village_cadre2).get(_url(training)).json()
    assert [(q["name"], q["answer"]) for q in room_view["questions"]] == [("褚书记", "每户补助800元。")]
    (event, people, _u), = training_events.of("answer")
    assert {village_cadre.id, village_cadre2.id, town_secretary.id} <= set(people)
    assert AuditEntry.objects.filter(action="meeting.question").exists()
    assert AuditEntry.objects.filter(action="meeting.answer").exists()
    again = _answer(client_for(county_secretary), training, question_id, live=True)
    assert again.status_code == 409 and again.json()["detail"] == "该问题已答复。"


def test_it_lists_unanswered_questions_first_and_marks_live_answers(training, client_for, village_cadre,
                                                                    village_cadre2, county_secretary):
    first = _ask(client_for(village_cadre), training, "第一个问题").json()["id"]
    _ask(client_for(village_cadre2), training, "第二个问题")
    _ask(client_for(village_cadre), training, "第三个问题")
    host = client_for(county_secretary)
    assert _answer(host, training, first, live=True).status_code == 200  # 已现场答复: no text needed
    view = host.get(_url(training)).json()
    assert [q["text"] for q in view["questions"]] == ["第二个问题", "第三个问题", "第一个问题"]
    assert view["open"] == 2 and view["questions"][2]["answered_live"]
    empty = _answer(host, training, view["questions"][0]["id"], text="  ")
    assert empty.status_code == 400 and "请填写答复" in empty.json()["detail"]


@pytest.mark.parametrize("text, status, message", [
    ("", 400, "问题不能为空"), ("   ", 400, "问题不能为空"), ("问" * 301, 400, "问题过长：最多300个字，当前301个字"),
    ("机密★\n关于整治资金的安排", 400, "涉密内容不得通过本系统发送"),
])
def test_it_refuses_an_empty_long_or_classified_question_in_chinese(training, client_for, village_cadre, text,
                                                                    status, message):
    from meetings.training.models import Question

    response = _ask(client_for(village_cadre), training, text)
    assert response.status_code == status and message in response.json()["detail"]
    assert not Question.objects.exists()


def test_it_limits_how_often_one_person_may_ask(training, client_for, village_cadre, village_cadre2):
    from meetings.training.actions import QUESTION_RATE

    client = client_for(village_cadre)
    for i in range(QUESTION_RATE):
        assert _ask(client, training, f"问题{i}").status_code == 201
    refused = _ask(client, training, "再问一个")
    assert refused.status_code == 429 and "提问太频繁" in refused.json()["detail"]
    assert _ask(client_for(village_cadre2), training, "我的问题").status_code == 201  # the limit is per person


def test_it_keeps_outsiders_and_other_towns_out_and_lets_only_answerers_answer(
        training, client_for, village_cadre, village_cadre2, outsider, other_town_cadre):
    from meetings.training.models import Question

    question_id = _ask(client_for(village_cadre), training, "补助什么时候发放？").json()["id"]
    for stranger in (outsider, other_town_cadre):
        client = client_for(stranger)
        assert client.get(_url(training)).status_code == 404
        assert _ask(client, training, "我也想问").status_code == 404
        refused = _answer(client, training, question_id, text="随便答")
        assert refused.status_code == 404 and refused.json()["detail"] == "会议不存在。"
    not_presenter = _answer(client_for(village_cadre2), training, question_id, text="我来答")
    assert not_presenter.status_code == 403 and "只有主持人或主讲人" in not_presenter.json()["detail"]
    assert not Question.objects.get(id=question_id).answered
    assert _answer(client_for(village_cadre2), training, 999999, text="x").status_code == 403


def test_it_returns_markup_in_a_question_as_plain_text(training, client_for, village_cadre, town_secretary):
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    assert _ask(client_for(village_cadre), training, hostile).status_code == 201
    view = client_for(town_secretary).get(_url(training))
    assert view["Content-Type"].startswith("application/json") and view.json()["questions"][0]["text"] == hostile
    # the room page renders questions only through room-ui.js, which escapes every field
    page = client_for(town_secretary).get(f"/meetings/{training.id}/room/").content.decode()
    assert "onerror" not in page and 'id="qa-list"' in page
