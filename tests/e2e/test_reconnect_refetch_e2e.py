"""Events are hints: a page whose socket dropped refetches its state when it reconnects."""
from datetime import timedelta

import pytest
from django.utils import timezone

from office import actions
from office.models import Post
from tests.conftest import ServerProcess, database_url_for_tests, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_refetches_the_badge_after_the_server_comes_back(seed_small, new_page):
    units, people = seed_small
    server = ServerProcess({"DATABASE_URL": database_url_for_tests()}).start()
    try:
        page = new_page()
        login(page, server.url, "city_deputy")
        page.wait_for_function("document.getElementById('live-dot').classList.contains('on')")
        page.wait_for_function("document.getElementById('todo-badge').textContent === '0'")

        server.stop()  # the socket drops; whatever happens now is never pushed
        page.wait_for_function("!document.getElementById('live-dot').classList.contains('on')")
        now = timezone.now()
        actions.do_delegate(actor=people["city_leader"], from_post=Post.objects.get(person=people["city_leader"]),
                            to_post=Post.objects.get(person=people["city_deputy"]), starts_at=now,
                            ends_at=now + timedelta(days=1))

        server = ServerProcess({"DATABASE_URL": database_url_for_tests()}, port=server.port).start()
        page.wait_for_function("document.getElementById('todo-badge').textContent === '1'", timeout=30000)
        page.locator("#todo-list").get_by_text("张市长").wait_for(timeout=10000)
    finally:
        server.stop()
