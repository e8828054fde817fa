"""工作台: panels with counts, rows that say what, from whom, by when, and one button to act."""
import datetime

import pytest
from django.utils import timezone

from documents import actions
from documents.models import Receipt
from tests.test_documents_support import dispatched, draft, post_of, sign_off


def _panel(html, name):
    start = html.index(f'class="panel panel-{name}"')
    return html[start:html.index("</section>", start)]


@pytest.mark.django_db
def test_it_shows_an_incoming_document_with_type_urgency_sender_deadline_and_one_action(
        units, city_secretary, city_leader, county_secretary, client_for, django_assert_max_num_queries):
    dispatched(city_secretary, city_leader, main=[units["秦都区"].id], urgency="特急", title="关于防汛的紧急通知")
    client = client_for(county_secretary)
    with django_assert_max_num_queries(30):
        html = client.get("/").content.decode()
    todo = _panel(html, "todo")
    assert "关于防汛的紧急通知" in todo and ">通知<" in todo and ">特急<" in todo
    assert "咸阳市人民政府" in todo  # the sender
    assert "时限" in todo and "剩" in todo
    assert 'class="button act primary"' in todo and ">签收<" in todo
    assert '<span class="count" id="todo-total">1</span>' in todo


@pytest.mark.django_db
def test_it_marks_an_overdue_row_in_red_and_puts_the_most_urgent_first(
        units, city_secretary, city_leader, county_secretary, client_for):
    dispatched(city_secretary, city_leader, main=[units["秦都区"].id], title="普通的通知")
    dispatched(city_secretary, city_leader, main=[units["秦都区"].id], urgency="加急", title="加急的通知")
    late = Receipt.objects.get(document__title="普通的通知")
    Receipt.objects.filter(id=late.id).update(deadline=timezone.now() - datetime.timedelta(days=2))
    todo = _panel(client_for(county_secretary).get("/").content.decode(), "todo")
    assert todo.index("加急的通知") < todo.index("普通的通知")
    assert 'class="row overdue"' in todo and "已超期 2 天" in todo


@pytest.mark.django_db
def test_it_offers_a_next_step_when_a_panel_is_empty(units, village_cadre, client_for):
    html = client_for(village_cadre).get("/").content.decode()
    todo = _panel(html, "todo")
    assert "没有等您办理的事项" in todo and 'href="/documents/new/"' in todo and "查看已办" in todo
    assert "暂无待办事项" not in html
    for name in ("read", "meeting", "notice", "done"):
        assert f'panel-{name}' in html


@pytest.mark.django_db
def test_it_puts_sign_offs_first_for_a_leader_and_lists_what_was_done(units, city_secretary, city_leader, client_for):
    doc = draft(city_secretary, main=[units["秦都区"].id], title="待领导签发的通知")
    sign_off(doc, city_secretary, city_leader)
    html = client_for(city_leader).get("/").content.decode()
    assert "待我签批与办理" in html
    todo = _panel(html, "todo")
    assert "待签发：待领导签发的通知" in todo and ">签发<" in todo
    assert html.index("panel-meeting") < html.index("panel-read")  # the leader's meetings come early
    step = doc.steps.get(kind="signoff")
    actions.do_decide(person=city_leader, step_id=step.id, decision="agree")
    done = _panel(client_for(city_leader).get("/").content.decode(), "done")
    assert "待领导签发的通知" in done and '<span class="count">1</span>' in done


@pytest.mark.django_db
def test_it_lists_received_notices_under_notices(units, city_secretary, city_leader, county_secretary, client_for):
    dispatched(city_secretary, city_leader, main=[units["秦都区"].id], title="关于表彰先进的通报", doc_type="通报")
    notice = _panel(client_for(county_secretary).get("/").content.decode(), "notice")
    assert "关于表彰先进的通报" in notice and ">通报<" in notice
    assert post_of(county_secretary) is not None
