"""In real Chromium: a village cadre on a 360 px phone raises a hand and sees their place, the host
gives them the floor with 下一位; the cadre's question (with markup in it) reaches the host as
plain text, and the host's answer reaches the cadre's 问答 panel."""
import pytest

from tests.conftest import login
from tests.e2e.test_meetings_room_e2e import _leave_all
from tests.meetings_support import schedule

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_works_the_hand_queue_and_answers_a_question_in_the_room(seed_small, live_server_url, new_page):
    units, people = seed_small
    cadre_person = people["village_cadre"]
    meeting = schedule(people["county_secretary"], kind="training", title="农村人居环境整治培训",
                       villages_of=[units["人民路街道"].id])
    room = f"{live_server_url}/meetings/{meeting.id}/room/"
    host = new_page()
    login(host, live_server_url, "county_secretary")
    host.goto(room)
    cadre = new_page(width=360, height=740)
    login(cadre, live_server_url, "village_cadre")
    cadre.goto(room)
    for page in (host, cadre):
        page.wait_for_function("window.ywStats && window.ywStats.joined", timeout=20000)

    # the raised hand: a place for the cadre, a row in the host's queue
    cadre.click("#btn-hand")
    cadre.locator("#hand-place", has_text="排在第 1 位").wait_for(timeout=10000)
    host.locator(f"#hand-queue li[data-person='{cadre_person.id}']").wait_for(timeout=10000)
    host.click("#btn-next-speaker")
    cadre.locator("#room-banner", has_text="主持人已允许您发言").wait_for(timeout=10000)
    assert cadre.get_attribute("#btn-hand", "aria-pressed") == "false"
    host.locator("#hand-queue").wait_for(state="hidden", timeout=10000)  # the queue is empty again

    # 问答: markup arrives as text, never as markup
    hostile = '<img src=x onerror="window.pwned=1">垃圾分类的补助怎么申报？'
    cadre.fill("#qa-input", hostile)
    cadre.click("#qa-send")
    question = host.locator("#qa-list li.open")
    question.wait_for(timeout=10000)
    assert question.locator(".text").inner_text() == hostile
    assert host.locator("#qa-list img").count() == 0 and host.evaluate("window.pwned") is None
    question.locator("input[name=answer]").fill("请于月底前向镇政府申报。")
    question.locator("button[type=submit]").click()
    cadre.locator("#qa-list li.answered .answer", has_text="请于月底前向镇政府申报。").wait_for(timeout=15000)
    assert cadre.evaluate("document.documentElement.scrollWidth") <= 360
    _leave_all(meeting, host, cadre)
