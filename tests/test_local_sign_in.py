"""Local password accounts: sign in, wrong passwords, throttling, audit."""
import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.cache import cache
from django.test import Client

from office.models import AuditEntry

PASSWORD = "Demo-2026!"


@pytest.fixture(autouse=True)
def _clear_throttle():
    cache.clear()
    yield
    cache.clear()


def test_it_signs_in_with_a_local_password_and_lands_on_the_todo_page(county_secretary):
    client = Client()
    r = client.post("/login/", {"username": "county_secretary", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "待办" in page.content.decode()
    assert AuditEntry.objects.filter(action="auth.login", person_id_at=county_secretary.id).exists()


def test_it_hashes_passwords_with_argon2(county_secretary):
    assert identify_hasher(county_secretary.password).algorithm == "argon2"


def test_it_says_in_chinese_when_the_password_is_wrong(county_secretary):
    r = Client().post("/login/", {"username": "county_secretary", "password": "wrong-password"})
    assert r.status_code == 401
    assert "用户名或密码不正确" in r.content.decode()
    entry = AuditEntry.objects.filter(action="auth.login_failed").last()
    assert entry.data["username"] == "county_secretary"


def test_it_throttles_repeated_failures_per_account(county_secretary, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        client.post("/login/", {"username": "county_secretary", "password": "nope-nope"})
    r = client.post("/login/", {"username": "county_secretary", "password": PASSWORD})
    assert r.status_code == 429
    assert "失败次数过多" in r.content.decode()
    # another account from another address is not locked by it
    other = Client(REMOTE_ADDR="10.9.9.9").post("/login/", {"username": "town_secretary", "password": PASSWORD})
    assert other.status_code == 302


def test_it_throttles_one_address_trying_many_accounts(seed_small, settings):
    settings.LOGIN_MAX_FAILURES = 2  # 4x per address
    client = Client(REMOTE_ADDR="10.1.1.1")
    for name in ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]:
        client.post("/login/", {"username": name, "password": "nope-nope"})
    r = client.post("/login/", {"username": "town_secretary", "password": PASSWORD})
    assert r.status_code == 429


@pytest.mark.parametrize("username, password, words", [
    ("x" * 10_000, PASSWORD, "用户名过长"),
    ("", PASSWORD, "请输入用户名"),
    ("county_secretary", "", "请输入密码"),
    ("county\x00secretary", PASSWORD, ""),
])
def test_it_refuses_bad_sign_in_input_with_a_clear_message(county_secretary, username, password, words):
    r = Client().post("/login/", {"username": username, "password": password})
    assert r.status_code == 400
    assert words in r.content.decode()


def test_it_refuses_an_inactive_account(county_secretary):
    county_secretary.is_active = False
    county_secretary.save()
    r = Client().post("/login/", {"username": "county_secretary", "password": PASSWORD})
    assert r.status_code == 401


def test_it_signs_out_only_by_post(county_secretary, client_for):
    client = client_for(county_secretary)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302
