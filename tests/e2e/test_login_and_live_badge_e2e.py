"""In a real Chromium: sign in through the login page and watch the 待办 badge change live."""
import pytest

from tests.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_signs_in_and_updates_the_badge_when_an_event_arrives(seed_small, live_server_url, new_page):
    deputy = new_page()
    login(deputy, live_server_url, "city_deputy")
    assert deputy.url.rstrip("/") == live_server_url
    deputy.wait_for_function("document.getElementById('live-dot').classList.contains('on')")
    deputy.wait_for_function("document.getElementById('todo-badge').textContent === '0'")

    leader = new_page()
    login(leader, live_server_url, "city_leader")
    deputy_post = deputy.evaluate("fetch('/api/office/me').then(r => r.json()).then(d => d.current_post.id)")
    status = leader.evaluate("""async (postId) => {
        const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const now = new Date();
        const r = await fetch('/api/office/delegations', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
            body: JSON.stringify({to_post_id: postId, starts_at: now.toISOString(), ends_at: new Date(+now + 86400000).toISOString(), reason: '出差'})});
        return r.status; }""", deputy_post)
    assert status == 201
    # no reload: the badge and the list change because the event arrived over /ws/
    deputy.wait_for_function("document.getElementById('todo-badge').textContent === '1'", timeout=10000)
    deputy.locator("#todo-list").get_by_text("张市长").wait_for(timeout=10000)


def test_it_shows_a_clear_error_on_a_wrong_password(seed_small, live_server_url, new_page):
    page = new_page(width=360, height=740)
    login(page, live_server_url, "city_deputy", password="not-the-password")
    assert "用户名或密码不正确" in page.locator("#login-error").inner_text()


def test_it_fits_a_phone_screen(seed_small, live_server_url, new_page):
    page = new_page(width=360, height=740)
    login(page, live_server_url, "village_cadre")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.click(".nav-toggle")
    assert page.locator(".mainnav a", has_text="通讯录").is_visible()
