"""The service account's directory connections are kept for the next sign-in (a TLS handshake and a
bind saved each time), and a kept connection that the server dropped or that hangs costs no sign-in.
Passwords are checked by a bind on connections of their own, kept too: never in the clear, never on
the service account's connections, and a dropped one never counts as a wrong password."""
import os
import signal
import ssl

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


@pytest.fixture
def binds(monkeypatch):
    """Every bind sent: (DN, whether the connection was open and inside TLS when it was asked)."""
    from ldap3 import Connection

    sent = []
    real = Connection.bind

    def spying(self, *args, **kwargs):
        sent.append((self.user, not self.closed and isinstance(self.socket, ssl.SSLSocket)))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "bind", spying)
    return sent


def failures_counted(username):
    from office.auth import _key
    from office import safe_cache as cache

    return cache.get(_key("user", username), 0)


def test_it_opens_the_service_connection_once_for_several_sign_ins(ldap_settings, seed_small, connections_opened,
                                                                   binds):
    for username in ("wangfang", "lijun", "zhaomin", "wangfang"):
        assert authenticate(None, username=username, password=PASSWORD) is not None
    assert connections_opened.count("service") == 1
    # The passwords go over one kept connection of their own, each still checked by its own bind.
    assert connections_opened.count("user") == 1
    person_binds = [dn for dn, _tls in binds if dn.startswith("uid=")]
    assert [dn.split(",")[0] for dn in person_binds] == ["uid=wangfang", "uid=lijun", "uid=zhaomin", "uid=wangfang"]
    assert all(tls for _dn, tls in binds)
    (_key, password_conn, _at), = ldap.password_connections._idle
    (_key, service_conn, _at), = ldap.service_connections._idle
    assert password_conn is not service_conn
    assert password_conn.password is None  # nobody's password stays in memory with the connection


def test_a_wrong_password_on_a_kept_connection_is_refused_and_leaves_it_usable(ldap_settings, seed_small,
                                                                            connections_opened):
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    assert authenticate(None, username="lijun", password="not-his-password") is None
    # The connection a refused bind left anonymous checks the next password, and only that one signs in.
    assert authenticate(None, username="zhaomin", password="not-hers-either") is None
    assert authenticate(None, username="lijun", password=PASSWORD).username == "lijun"
    assert connections_opened.count("user") == 1
    from office.models import AuditEntry

    refused = AuditEntry.objects.filter(action="auth.ldap_failed").values_list("data", flat=True)
    assert sorted((d["username"], d["reason"]) for d in refused) == [("lijun", "bad-password"),
                                                                     ("zhaomin", "bad-password")]


def test_a_dropped_password_connection_counts_no_failure_and_checks_on_a_fresh_one(
        ldap_settings, seed_small, connections_opened, binds, client):
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    (_key, kept, _at), = ldap.password_connections._idle
    kept.socket.shutdown(2)  # what a server restart or an idle timeout does to it
    response = client.post("/login/", {"username": "lijun", "password": PASSWORD})
    assert response.status_code == 302
    assert failures_counted("lijun") == 0
    assert connections_opened.count("user") == 2
    # Dropped again: a wrong password is then counted once, from the fresh connection's answer.
    (_key, kept, _at), = ldap.password_connections._idle
    kept.socket.shutdown(2)
    client.logout()
    response = client.post("/login/", {"username": "zhaomin", "password": "wrong-password"})
    assert response.status_code == 401
    assert failures_counted("zhaomin") == 1
    assert all(tls for _dn, tls in binds)


def test_it_never_sends_a_password_on_a_kept_connection_that_was_closed(ldap_settings, seed_small,
                                                                        connections_opened, binds):
    """ldap3 reopens a closed connection on bind() without START_TLS: the password would go in clear."""
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    (_key, kept, _at), = ldap.password_connections._idle
    kept.strategy.close()  # closed without an unbind, as a network error leaves it
    assert kept.closed
    assert authenticate(None, username="lijun", password=PASSWORD) is not None
    assert all(tls for _dn, tls in binds)
    assert connections_opened.count("user") == 2


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


@pytest.fixture
def searches(monkeypatch):
    """The base DN and scope of every search sent with the service account."""
    sent = []
    real = ldap.search

    def spying(conn, base, filter_, attributes, *, scope="SUBTREE", size_limit=0):
        sent.append((base, scope))
        return real(conn, base, filter_, attributes, scope=scope, size_limit=size_limit)

    monkeypatch.setattr(ldap, "search", spying)
    return sent


def test_it_reads_the_ous_above_people_of_one_unit_once_a_minute(ldap_settings, seed_small, searches, monkeypatch):
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    first = [base for base, scope in searches if scope == "BASE"]
    assert first  # the ous above her, with their unit codes
    searches.clear()
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    assert [base for base, scope in searches if scope == "BASE"] == []
    assert [scope for _base, scope in searches] == ["SUBTREE", "SUBTREE"]  # her entry, her groups: always asked
    # A minute on, the ous are read again (a changed unit code reaches sign-ins).
    monkeypatch.setattr(ldap, "OU_KEEP_SECONDS", 0)
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    assert sorted(base for base, scope in searches if scope == "BASE") == sorted(first)


def test_the_login_page_never_sends_a_local_accounts_password_to_the_directory(ldap_settings, seed_small, admin,
                                                                               binds, client):
    from tests.conftest import PASSWORD as LOCAL_PASSWORD

    response = client.post("/login/", {"username": "admin", "password": LOCAL_PASSWORD})
    assert response.status_code == 302
    assert [dn for dn, _tls in binds if "admin" in dn.lower()] == []
