"""The service account's directory connections are kept for the next sign-in (a TLS handshake and a
bind saved each time), and a kept connection that the server dropped or that hangs costs no sign-in."""
import os
import signal

import pytest
from django.contrib.auth import authenticate

from office import ldap
from tests.ldap_server import PASSWORD, ldap_settings, org_entries, slapd_server  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def connections_opened(monkeypatch):
    opened = []
    real = ldap.connect

    def counting(cfg, user=None, password=None, urls=None):
        conn, bound = real(cfg, user=user, password=password, urls=urls)
        opened.append("user" if user is not None else "service")
        return conn, bound

    monkeypatch.setattr(ldap, "connect", counting)
    return opened


def test_it_opens_the_service_connection_once_for_several_sign_ins(ldap_settings, seed_small, connections_opened):
    for username in ("wangfang", "lijun", "zhaomin", "wangfang"):
        assert authenticate(None, username=username, password=PASSWORD) is not None
    assert connections_opened.count("service") == 1
    assert connections_opened.count("user") == 4  # each password is still checked by its own bind


def test_it_signs_in_on_a_fresh_connection_when_the_server_dropped_the_kept_one(
        ldap_settings, seed_small, connections_opened):
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    (_key, kept, _at), = ldap.service_connections._idle
    kept.socket.shutdown(2)  # what a server restart or an idle timeout does to it
    assert authenticate(None, username="lijun", password=PASSWORD) is not None
    assert connections_opened.count("service") == 2


def test_it_does_not_keep_a_connection_after_the_service_password_changes(ldap_settings, seed_small,
                                                                          connections_opened):
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    ldap_settings.LDAP_BIND_PASSWORD = "not-the-service-password"
    from office.errors import ActionError

    with pytest.raises(ActionError) as refused:
        authenticate(None, username="lijun", password=PASSWORD)
    assert refused.value.status == 503


def test_it_fails_over_when_the_server_of_the_kept_connection_hangs(ldap_settings, seed_small, slapd_server,
                                                                    tmp_path):
    from tests.ldap_server import Slapd

    second = Slapd(tmp_path / "second").start()
    try:
        second.add(org_entries())
        bundle = tmp_path / "both-cas.pem"  # each test slapd has its own CA
        bundle.write_text(open(slapd_server.ca_file).read() + open(second.ca_file).read())
        ldap_settings.LDAP_CA_FILE = str(bundle)
        ldap_settings.LDAP_URL = [slapd_server.url, second.url]
        ldap_settings.LDAP_TIMEOUT = 1
        assert authenticate(None, username="wangfang", password=PASSWORD) is not None
        (_key, kept, _at), = ldap.service_connections._idle
        assert kept.yw_url == slapd_server.url
        os.kill(slapd_server.pid(), signal.SIGSTOP)
        try:
            assert authenticate(None, username="lijun", password=PASSWORD) is not None
            (_key, kept, _at), = ldap.service_connections._idle
            assert kept.yw_url == second.url
        finally:
            os.kill(slapd_server.pid(), signal.SIGCONT)
    finally:
        second.destroy()
