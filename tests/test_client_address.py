"""The sign-in throttle and the audit log see the client's address: behind a configured trusted proxy
(YW_TRUSTED_PROXIES) it comes from X-Forwarded-For, from anyone else X-Forwarded-For is ignored."""
import pytest
from django.test import Client, RequestFactory

from office.audit import client_ip

pytestmark = pytest.mark.django_db

LOCAL_PASSWORD = "Demo-2026!"


def request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote} if remote is not None else {}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    req = RequestFactory().get("/", **extra)
    if remote is None:
        req.META.pop("REMOTE_ADDR", None)
    return req


def test_it_ignores_forwarded_for_without_a_trusted_proxy(settings):
    settings.YW_TRUSTED_PROXIES = []
    assert client_ip(request("10.1.2.3", "6.6.6.6")) == "10.1.2.3"


def test_it_ignores_forwarded_for_from_an_address_that_is_not_a_trusted_proxy(settings):
    settings.YW_TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(request("10.1.2.3", "6.6.6.6")) == "10.1.2.3"


def test_it_takes_the_last_untrusted_hop_behind_trusted_proxies(settings):
    settings.YW_TRUSTED_PROXIES = ["127.0.0.1", "10.8.0.0/16"]
    # The client may send its own forged X-Forwarded-For: only what our proxies appended counts.
    assert client_ip(request("127.0.0.1", "6.6.6.6, 172.16.5.9, 10.8.1.1")) == "172.16.5.9"


def test_it_treats_daphne_on_a_unix_socket_as_the_proxy_when_configured(settings):
    settings.YW_TRUSTED_PROXIES = ["unix"]
    assert client_ip(request(None, "172.16.5.9")) == "172.16.5.9"
    settings.YW_TRUSTED_PROXIES = []
    assert client_ip(request(None, "172.16.5.9")) == ""


def test_it_locks_out_only_the_failing_client_behind_the_proxy(settings, seed_small):
    settings.YW_TRUSTED_PROXIES = ["unix"]
    settings.LOGIN_MAX_FAILURES = 2  # 8 per address
    attacker = Client(REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="172.16.0.66")
    for i in range(10):
        attacker.post("/login/", {"username": f"nobody{i}", "password": "wrong-one"})
    assert attacker.post("/login/", {"username": "town_secretary", "password": LOCAL_PASSWORD}).status_code == 429
    colleague = Client(REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="172.16.0.7")
    assert colleague.post("/login/", {"username": "town_secretary", "password": LOCAL_PASSWORD}).status_code == 302
