"""Bad input at the directory sign-in: each refused with a clear message, never a 500, always audited."""
import pytest
from django.contrib.auth import authenticate
from django.test import Client

from office.errors import ActionError
from office.models import AuditEntry, Person
from tests.ldap_server import PASSWORD, ldap_settings, slapd_server  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(ldap_settings, seed_small):
    return ldap_settings


def audited_since(last_id):
    return list(AuditEntry.objects.filter(id__gt=last_id, action__startswith="auth.").order_by("id"))


def last_seq():
    last = AuditEntry.objects.order_by("-id").first()
    return last.id if last else 0


def post_login(username, password=PASSWORD):
    return Client().post("/login/", {"username": username, "password": password})


@pytest.mark.parametrize("username", ["*)(uid=*", "admin)(|(uid=*", "*", "wangfang)(uid=*", "wang*"])
def test_it_escapes_filter_injection_so_nobody_signs_in(directory, username):
    before = last_seq()
    assert authenticate(None, username=username, password=PASSWORD) is None
    entries = audited_since(before)
    assert any(e.action == "auth.ldap_failed" and e.data["reason"] == "not-found" for e in entries)
    assert not Person.objects.filter(source="ldap").exists()
    response = post_login(username)
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


@pytest.mark.parametrize("username, message", [
    ("wang\x00fang", "空字符"),
    ("w" * 10_000, "用户名过长"),
    (b"wang\xff\xfefang", "UTF-8"),
    ("wang\ufffdfang", "UTF-8"),
    ("\udcffwang", "UTF-8"),
    ("wang\x07fang", "控制字符"),
])
def test_it_refuses_malformed_usernames_before_the_directory_with_a_clear_message(directory, username, message):
    before = last_seq()
    with pytest.raises(ActionError) as refused:
        authenticate(None, username=username, password=PASSWORD)
    assert refused.value.status == 400 and message in refused.value.message
    entry = AuditEntry.objects.get(id__gt=before, action="auth.ldap_refused")
    assert "\x00" not in entry.data["username"] and len(entry.data["username"]) <= 64


@pytest.mark.parametrize("body", [
    "username=wang%00fang&password=x",                # NUL
    "username=" + "w" * 10_000 + "&password=x",      # over-long
    "username=wang%FF%FEfang&password=x",            # not UTF-8
])
def test_it_answers_malformed_usernames_at_the_login_page_with_a_4xx(directory, body):
    before = last_seq()
    response = Client().post("/login/", body, content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500
    page = response.content.decode()
    assert any(text in page for text in ("空字符", "过长", "UTF-8", "Null characters", "不允许"))
    assert audited_since(before)


def test_it_refuses_an_empty_password_before_any_bind(directory):
    before = last_seq()
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password="")
    assert refused.value.status == 400 and "请输入密码" in refused.value.message
    assert [e.data["reason"] for e in audited_since(before)] == ["请输入密码。"]
    assert not Person.objects.filter(username="wangfang").exists()
    assert post_login("wangfang", "").status_code == 400


def test_it_refuses_a_wrong_password(directory):
    before = last_seq()
    assert authenticate(None, username="wangfang", password="not-the-password") is None
    assert [e.data["reason"] for e in audited_since(before)] == ["bad-password"]
    response = post_login("wangfang", "not-the-password")
    assert response.status_code == 401 and "用户名或密码不正确" in response.content.decode()


def test_it_refuses_a_disabled_account_with_a_clear_message(directory):
    before = last_seq()
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="sunli", password=PASSWORD)
    assert refused.value.status == 403 and "停用" in refused.value.message
    assert [e.data["reason"] for e in audited_since(before)] == ["disabled"]
    response = post_login("sunli")
    assert response.status_code == 403 and "停用" in response.content.decode()
    assert not Person.objects.filter(username="sunli", is_active=True).exists()


def test_it_does_not_reveal_a_disabled_account_to_a_wrong_password(directory):
    assert authenticate(None, username="sunli", password="wrong") is None


def test_it_refuses_a_username_that_matches_two_entries(directory):
    before = last_seq()
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="liuyang", password=PASSWORD)
    assert refused.value.status == 409 and "多个账号" in refused.value.message
    entry = audited_since(before)[0]
    assert entry.data["reason"] == "ambiguous" and len(entry.data["dns"]) == 2
    response = post_login("liuyang")
    assert response.status_code == 409 and "多个账号" in response.content.decode()
    assert not Person.objects.filter(username="liuyang").exists()


def test_it_refuses_an_over_long_password(directory):
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password="x" * 5000)
    assert refused.value.status == 400
