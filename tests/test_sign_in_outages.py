"""A directory outage is nobody's failed password: it never feeds the sign-in throttle, so the local
administrator is not locked out by it and people are not left locked once the directory returns.
Passwords no directory could accept (TAB, a byte that is not UTF-8, NUL) are wrong passwords or a
clear 400, never "directory unavailable"."""
import pytest
from django.test import Client

from office.models import AuditEntry
from tests.ldap_server import PASSWORD, closed_port_url, ldap_settings, slapd_server  # noqa: F401

pytestmark = pytest.mark.django_db

LOCAL_PASSWORD = "Demo-2026!"
WRONG = "用户名或密码不正确"


def test_it_does_not_lock_out_the_local_admin_after_twenty_directory_outages(ldap_settings, seed_small, admin):
    ldap_settings.LOGIN_MAX_FAILURES = 5  # 20 per address
    ldap_settings.LDAP_URL = [closed_port_url()]
    client = Client(REMOTE_ADDR="10.20.0.1")
    for _ in range(20):
        response = client.post("/login/", {"username": "wangfang", "password": PASSWORD})
        assert response.status_code == 503
    response = client.post("/login/", {"username": "admin", "password": LOCAL_PASSWORD})
    assert response.status_code == 302


def test_it_lets_people_in_as_soon_as_the_directory_returns(ldap_settings, seed_small, slapd_server):
    ldap_settings.LOGIN_MAX_FAILURES = 3
    ldap_settings.LDAP_URL = [closed_port_url()]
    client = Client(REMOTE_ADDR="10.20.0.2")
    for _ in range(6):
        assert client.post("/login/", {"username": "wangfang", "password": PASSWORD}).status_code == 503
    ldap_settings.LDAP_URL = [slapd_server.url]
    assert client.post("/login/", {"username": "wangfang", "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("password", ["Passw0rd\t测试", "Passw0rd\ufffd", "\x07bell"])
def test_it_answers_a_password_with_a_control_character_as_a_wrong_password(ldap_settings, seed_small, password):
    response = Client().post("/login/", {"username": "wangfang", "password": password})
    assert response.status_code == 401
    assert WRONG in response.content.decode()
    assert not AuditEntry.objects.filter(action="auth.ldap_unavailable").exists()


def test_it_answers_a_password_that_is_not_utf8_as_a_wrong_password(ldap_settings, seed_small):
    body = b"username=wangfang&password=Passw0rd%FF%FE"
    response = Client().post("/login/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
    assert WRONG in response.content.decode()
    assert not AuditEntry.objects.filter(action="auth.ldap_unavailable").exists()


def test_it_refuses_a_nul_in_a_password_with_a_clear_chinese_400(ldap_settings, seed_small):
    response = Client().post("/login/", {"username": "wangfang", "password": "Passw0rd\x00x"})
    assert response.status_code == 400
    assert "密码不能包含空字符" in response.content.decode()
    assert not AuditEntry.objects.filter(action="auth.ldap_unavailable").exists()


def test_it_still_counts_wrong_directory_passwords(ldap_settings, seed_small):
    ldap_settings.LOGIN_MAX_FAILURES = 2
    client = Client(REMOTE_ADDR="10.20.0.3")
    for _ in range(2):
        assert client.post("/login/", {"username": "wangfang", "password": "not-her-password"}).status_code == 401
    assert client.post("/login/", {"username": "wangfang", "password": PASSWORD}).status_code == 429
