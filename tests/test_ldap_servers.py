"""Which directory server is asked, and why one could not be: a dead server is remembered and asked
last; a refused certificate, a hung server, a stopped one and a wrong service password are each
reported as what they are (audit cause, message), not all as one "unavailable"."""
import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from office.errors import ActionError
from office.models import AuditEntry
from tests.ldap_server import (PASSWORD, Blackhole, closed_port_url, ldap_settings, make_test_ca,  # noqa: F401
                               slapd_server)

pytestmark = pytest.mark.django_db


def refused(username="wangfang"):
    with pytest.raises(ActionError) as caught:
        authenticate(None, username=username, password=PASSWORD)
    return caught.value


def last_cause():
    return AuditEntry.objects.filter(action="auth.ldap_unavailable").order_by("-id").first().data["cause"]


def test_it_asks_a_hung_first_server_only_once_in_a_while(ldap_settings, seed_small, slapd_server):
    hung = Blackhole()
    try:
        ldap_settings.LDAP_URL = [hung.url, slapd_server.url]
        ldap_settings.LDAP_TIMEOUT = 1
        assert authenticate(None, username="wangfang", password=PASSWORD) is not None
        tried = len(hung._held)
        assert tried >= 1
        for username in ("lijun", "zhaomin", "wangfang"):
            assert authenticate(None, username=username, password=PASSWORD) is not None
        assert len(hung._held) == tried  # remembered as dead: not asked again
    finally:
        hung.close()


def test_it_asks_a_dead_server_again_once_the_others_fail(ldap_settings, seed_small, slapd_server):
    ldap_settings.LDAP_URL = [slapd_server.url, closed_port_url()]
    ldap_settings.LDAP_DEAD_SECONDS = 3600
    from office import ldap
    ldap._dead_until[slapd_server.url] = 10 ** 12  # marked dead long ago, but it is the only one that works
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None


def test_it_says_when_the_servers_certificate_is_refused(ldap_settings, seed_small, tmp_path):
    other_ca, _cert, _key = make_test_ca(tmp_path)
    ldap_settings.LDAP_CA_FILE = str(other_ca)
    error = refused()
    assert error.status == 503 and "证书" in error.message
    assert last_cause() == "tls"


def test_it_says_a_stopped_server_is_unreachable_not_a_certificate_fault(ldap_settings, seed_small):
    ldap_settings.LDAP_URL = [closed_port_url()]
    error = refused()
    assert error.status == 503 and "证书" not in error.message and "暂时无法连接" in error.message
    assert last_cause() == "unreachable"


def test_it_says_a_hung_server_timed_out(ldap_settings, seed_small):
    hung = Blackhole()
    try:
        ldap_settings.LDAP_URL = [hung.url]
        ldap_settings.LDAP_TIMEOUT = 1
        error = refused()
        assert error.status == 503 and "证书" not in error.message
        assert last_cause() == "timeout"
    finally:
        hung.close()


def test_it_says_the_sync_service_password_is_wrong_in_one_line(ldap_settings, seed_small):
    ldap_settings.LDAP_BIND_PASSWORD = "not-the-service-password"
    with pytest.raises(CommandError) as failed:
        call_command("ldap_sync", "--no-progress", stdout=io.StringIO())
    message = str(failed.value)
    assert "服务账号" in message and "LDAP_BIND_PASSWORD" in message and "\n" not in message
    assert "暂时无法连接" not in message
