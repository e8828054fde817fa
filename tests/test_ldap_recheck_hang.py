"""While the directory hangs, signed-in people's pages do not wait for it: once a re-check has found
the directory unavailable, later re-checks go on in the background until one succeeds again."""
import os
import signal
import time

import pytest
from django.core.cache import cache
from django.test import Client

from office import ldap
from office.models import Person
from tests.ldap_server import PASSWORD, WANGFANG, Slapd, ldap_settings, org_entries, slapd_server  # noqa: F401
from tests.test_ldap_signin import dir_units  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hanging_slapd(tmp_path, ldap_settings):
    server = Slapd(tmp_path / "own").start()
    server.add(org_entries())
    for key, value in server.settings(LDAP_RECHECK_SECONDS=1, LDAP_TIMEOUT=3, LDAP_RECHECK_WAIT_MS=2000).items():
        setattr(ldap_settings, key, value)
    ldap._failing_since = None
    yield server
    os.kill(server.pid(), signal.SIGCONT)
    server.destroy()
    ldap._failing_since = None


def signed_in(username):
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def timed_page(client):
    started = time.monotonic()
    assert client.get("/").status_code == 200
    return time.monotonic() - started


def test_it_stops_making_pages_wait_once_a_recheck_found_the_directory_hung(hanging_slapd, dir_units):
    first, second = signed_in("wangfang"), signed_in("lijun")
    os.kill(hanging_slapd.pid(), signal.SIGSTOP)
    cache.clear()  # both re-checks are due
    assert timed_page(first) >= 1.5  # nothing known yet: the asking page waits (LDAP_RECHECK_WAIT_MS)
    deadline = time.monotonic() + 10
    while ldap._failing_since is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the re-check runs on until the directory's timeout
    assert ldap._failing_since is not None
    cache.clear()  # the outage flag is forgotten too: only the failed re-check is remembered
    assert timed_page(second) < 1.0  # would wait the full 2 s for the hung directory
    assert Person.objects.get(username="lijun").is_active


def test_it_acts_on_a_recheck_that_answered_in_the_background_and_forgets_the_outage(hanging_slapd, dir_units):
    client = signed_in("wangfang")
    ldap._failing_since = time.monotonic() - 5  # an outage seen earlier
    cache.clear()
    hanging_slapd.modify(WANGFANG, [("add", "employeeType", "disabled")])
    client.get("/")  # this re-check does not wait, but it succeeds in the background
    deadline = time.monotonic() + 10
    while ldap._failing_since is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ldap._failing_since is None
    cache.clear()
    response = client.get("/")  # the background answer is used: the disabled entry ends the session
    assert response.status_code == 302
