"""In a real Chromium: a directory account signs in through the login page and lands on its 待办."""
import pytest

from office.models import Person
from tests.conftest import ServerProcess, database_url_for_tests, login
from tests.ldap_server import PASSWORD, SUFFIX, slapd_server  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ldap_env(server):
    values = server.settings()
    return {
        "LDAP_URL": ",".join(values["LDAP_URL"]),
        "LDAP_BIND_DN": values["LDAP_BIND_DN"],
        "LDAP_BIND_PASSWORD": values["LDAP_BIND_PASSWORD"],
        "LDAP_USER_BASE": SUFFIX,
        "LDAP_GROUP_BASE": values["LDAP_GROUP_BASE"],
        "LDAP_START_TLS": "1",
        "LDAP_CA_FILE": values["LDAP_CA_FILE"],
        "LDAP_DISABLED_ATTR": "employeeType",
        "LDAP_DISABLED_VALUES": "disabled",
        "LDAP_TIMEOUT": "3",
    }


@pytest.fixture
def web(seed_small, slapd_server):
    server = ServerProcess({"DATABASE_URL": database_url_for_tests(), **ldap_env(slapd_server)}).start()
    yield server
    server.stop()


def test_it_signs_in_a_directory_account_and_lands_on_its_todo_page(web, new_page):
    page = new_page()
    login(page, web.url, "wangfang", password=PASSWORD)
    assert page.url.rstrip("/") == web.url
    assert page.locator("h1").first.inner_text().startswith("工作台")
    assert page.locator(".person-name").inner_text() == "王芳"
    assert "秦都区人民政府办公室" in page.locator(".who").inner_text()
    person = Person.objects.get(username="wangfang")
    assert person.source == "ldap" and person.display_name == "王芳"


def test_it_shows_a_disabled_directory_account_a_clear_message(web, new_page):
    page = new_page(width=360, height=740)
    login(page, web.url, "sunli", password=PASSWORD)
    assert "/login/" in page.url
    assert "停用" in page.locator("#login-error").inner_text()
