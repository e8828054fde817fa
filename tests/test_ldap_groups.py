"""Directory groups: a required group and a denied group decide who may sign in; groups within groups
count (groupOfNames in groupOfNames; Active Directory's in-chain rule); group changes reach people
already signed in at their next re-check; a deleted person's directory posts end."""
import pytest
from django.contrib.auth import authenticate
from django.test import Client

from office import ldap
from office.errors import ActionError
from office.models import Person, Post
from tests.ldap_server import (COUNTY_OFFICE_DN, GROUP_BASE, LIJUN, PASSWORD, WANGFANG, Slapd, group,  # noqa: F401
                               ldap_settings, org_entries, slapd_server)

pytestmark = pytest.mark.django_db

APPS = f"cn=yw-users,{GROUP_BASE}"           # holds the office's 文书 group: nested membership
DENIED = f"cn=yw-banned,{GROUP_BASE}"
LEADERS_OF_LEADERS = f"cn=县级领导,{GROUP_BASE}"


@pytest.fixture
def directory(tmp_path, ldap_settings, seed_small):
    server = Slapd(tmp_path / "groups").start()
    server.add(org_entries() + [
        group(APPS, [f"cn=文书,{COUNTY_OFFICE_DN}"]),
        group(DENIED, [LIJUN]),
        group(LEADERS_OF_LEADERS, [f"cn=yw-users,{GROUP_BASE}"]),
    ])
    for key, value in server.settings(LDAP_RECHECK_SECONDS=0).items():
        setattr(ldap_settings, key, value)
    yield server
    server.destroy()


def roles_by_unit(username):
    return {p.unit.name: p.roles for p in
            Post.objects.filter(person__username=username, active=True).select_related("unit")}


def test_it_refuses_a_member_of_the_denied_group(directory, ldap_settings):
    ldap_settings.LDAP_DENY_GROUP = "yw-banned"
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="lijun", password=PASSWORD)
    assert refused.value.status == 403 and "不允许登录" in refused.value.message
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None


def test_it_lets_in_only_members_of_the_required_group_through_nested_groups(directory, ldap_settings):
    ldap_settings.LDAP_REQUIRE_GROUP = APPS  # a full DN; wangfang is in it through the 文书 group
    ldap_settings.LDAP_NESTED_GROUPS = "off"
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password=PASSWORD)
    assert refused.value.status == 403
    ldap_settings.LDAP_NESTED_GROUPS = "search"
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    with pytest.raises(ActionError):
        authenticate(None, username="lijun", password=PASSWORD)


def test_it_follows_groups_within_groups_for_roles(directory, ldap_settings):
    ldap_settings.LDAP_NESTED_GROUPS = "search"
    ldap_settings.LDAP_GROUP_ROLE_MAP = {"县级领导": "leader", "文书": "secretary"}
    authenticate(None, username="wangfang", password=PASSWORD)
    # 文书 → yw-users → 县级领导: two levels up, a global role group
    assert roles_by_unit("wangfang") == {"秦都区人民政府办公室": ["leader", "secretary"]}


def test_it_asks_active_directory_for_nested_groups_with_the_in_chain_rule(settings):
    # slapd has no LDAP_MATCHING_RULE_IN_CHAIN: the filter is checked as text (a fake for AD).
    settings.LDAP_URL = ["ldap://ad.example"]
    settings.LDAP_NESTED_GROUPS = "in_chain"
    cfg = ldap.get_config()
    assert ldap.group_filter_for(cfg, "CN=王 芳,OU=x") == "(member:1.2.840.113556.1.4.1941:=CN=王 芳,OU=x)"


def test_it_gives_a_signed_in_person_their_new_groups_at_the_next_recheck(directory):
    client = Client()
    assert client.post("/login/", {"username": "wangfang", "password": PASSWORD}).status_code == 302
    assert roles_by_unit("wangfang") == {"秦都区人民政府办公室": ["secretary"]}
    directory.modify(f"cn=yw-leader,{GROUP_BASE}", [("add", "member", WANGFANG)])
    directory.modify(f"cn=文书,{COUNTY_OFFICE_DN}", [("replace", "member", LIJUN)])
    assert client.get("/").status_code == 200
    assert roles_by_unit("wangfang") == {"秦都区人民政府办公室": ["leader"]}


def test_it_ends_the_directory_posts_of_a_deleted_person(directory):
    client = Client()
    assert client.post("/login/", {"username": "wangfang", "password": PASSWORD}).status_code == 302
    person = Person.objects.get(username="wangfang")
    assert Post.objects.filter(person=person, active=True).exists()
    directory.delete(WANGFANG)
    assert client.get("/").status_code == 302
    person.refresh_from_db()
    assert not person.is_active
    assert not Post.objects.filter(person=person, active=True).exists()


def test_it_does_not_hold_a_page_for_the_whole_timeout_of_a_hung_directory(directory, ldap_settings):
    from tests.ldap_server import Blackhole

    client = Client()
    assert client.post("/login/", {"username": "wangfang", "password": PASSWORD}).status_code == 302
    person = Person.objects.get(username="wangfang")
    hung = Blackhole()
    try:
        ldap_settings.LDAP_URL = [hung.url]
        ldap_settings.LDAP_TIMEOUT = 60  # the directory's answer cannot come while these pages run
        ldap_settings.LDAP_RECHECK_WAIT_MS = 200
        assert client.get("/").status_code == 200  # answered while the re-check still waits
        assert client.get("/").status_code == 200  # and the next page does not wait for it again
        future, _started = ldap._pending[person.id]
        assert not future.done()  # the re-check is still waiting on the directory, behind the pages
        person.refresh_from_db()
        assert person.is_active
    finally:
        hung.close()
