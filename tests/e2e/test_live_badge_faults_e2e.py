"""In a real Chromium: the header's live badge says when the live link is down (Redis, the event
bus, stopped) and when it is back, and events arrive again without a reload."""
import pytest

from tests.conftest import ServerProcess, database_url_for_tests, login
from tests.fault_services import Redis

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_says_when_the_live_link_is_down_and_when_it_is_back(seed_small, new_page, tmp_path):
    redis = Redis(tmp_path / "redis").start()
    server = ServerProcess({"DATABASE_URL": database_url_for_tests(), "REDIS_URL": redis.url,
                            "YW_CHANNEL_PREFIX": "badge", "YW_EVENT_BUS_REFRESH": "2"})
    try:
        server.start(timeout=120)
        page = new_page()
        login(page, server.url, "city_deputy")
        page.wait_for_function("document.getElementById('live-dot').classList.contains('on')", timeout=20000)
        assert page.locator("#live-text").is_hidden()

        redis.stop()
        page.wait_for_function("!document.getElementById('live-dot').classList.contains('on')", timeout=20000)
        page.locator("#live-text").get_by_text("实时连接已断开").wait_for(timeout=20000)
        assert "实时连接已断开" in page.get_attribute("#live-dot", "title")

        redis.start()
        page.wait_for_function("document.getElementById('live-dot').classList.contains('on')", timeout=40000)
        page.locator("#live-text").get_by_text("实时连接已恢复").wait_for(timeout=5000)
        assert page.get_attribute("#live-dot", "title") == "实时连接正常"
    finally:
        server.stop()
        redis.stop()
