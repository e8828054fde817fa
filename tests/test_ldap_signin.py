"""Staff sign in through the directory (a real slapd with START_TLS and a test CA)."""
import time

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from office.errors import ActionError
from tests.conftest import PASSWORD as LOCAL_PASSWORD
from office.models import AuditEntry, Person, Post, Unit

from tests.ldap_server import (CHENJING, PASSWORD, WANGFANG, Blackhole, Slapd, closed_port_url,  # noqa: F401
                               ldap_settings, make_test_ca, org_entries, slapd_server)

pytestmark = pytest.mark.django_db

DOWN = "目录服务暂时无法连接"


@pytest.fixture
def dir_units(seed_small):
    """The test organisation; the test directory's ous map onto its units."""
    return seed_small[0]


def roles_by_unit(person):
    return {p.unit.name: p.roles for p in Post.objects.filter(person=person, active=True).select_related("unit")}


def test_it_signs_in_a_directory_person_and_creates_them_with_their_post(ldap_settings, dir_units):
    person = authenticate(None, username="wangfang", password=PASSWORD)
    assert person is not None
    person.refresh_from_db()
    assert (person.username, person.display_name, person.email, person.phone, person.title) == (
        "wangfang", "王芳", "wangfang@qindu.gov.cn", "029-33210001", "文书")
    assert person.source == "ldap" and person.ldap_dn == WANGFANG
    assert not person.has_usable_password()
    # 文书 is a group inside the office's ou: the secretary role in that unit.
    assert roles_by_unit(person) == {"秦都区人民政府办公室": ["secretary"]}
    assert AuditEntry.objects.filter(action="auth.ldap_login", person_id_at=person.id).exists()
    assert AuditEntry.objects.filter(action="person.create", object_id=str(person.id)).exists()


def test_it_gives_a_person_in_two_units_two_posts(ldap_settings, dir_units):
    person = authenticate(None, username="zhaomin", password=PASSWORD)
    assert roles_by_unit(person) == {
        "人民路街道办事处": ["handler"],            # the ou path; yw-handler is a global group
        "人民路社区居民委员会": ["secretary", "handler"],       # departmentNumber + the community's 文书 group
    }


def test_it_takes_the_unit_from_the_code_attribute_when_the_entry_sits_outside_the_tree(ldap_settings, dir_units):
    person = authenticate(None, username="chenjing", password=PASSWORD)
    assert person.ldap_dn == CHENJING
    assert roles_by_unit(person) == {"咸阳市人民政府": ["handler"]}


def test_it_takes_roles_from_a_group_search_when_memberof_is_not_used(ldap_settings, dir_units, slapd_server):
    ldap_settings.LDAP_MEMBEROF_ATTR = ""
    ldap_settings.LDAP_GROUP_BASE = "dc=xianyang,dc=gov,dc=cn"
    person = authenticate(None, username="zhaomin", password=PASSWORD)
    assert roles_by_unit(person) == {"人民路街道办事处": ["handler"], "人民路社区居民委员会": ["secretary", "handler"]}


def test_it_updates_the_person_and_their_posts_when_the_directory_changes(ldap_settings, dir_units, slapd_server):
    person = authenticate(None, username="lijun", password=PASSWORD)
    assert roles_by_unit(person) == {"秦都区人民政府办公室": ["leader"]}
    slapd_server.modify(person.ldap_dn, [("replace", "cn", "李军军"), ("replace", "title", "区委书记"),
                                         ("add", "departmentNumber", "610402001000")])
    slapd_server.modify("cn=yw-leader,ou=groups,dc=xianyang,dc=gov,dc=cn",
                        [("delete", "member", person.ldap_dn)])
    try:
        again = authenticate(None, username="lijun", password=PASSWORD)
        assert again.id == person.id
        again.refresh_from_db()
        assert (again.display_name, again.title) == ("李军军", "区委书记")
        assert roles_by_unit(again) == {"秦都区人民政府办公室": [], "人民路街道办事处": []}
        assert AuditEntry.objects.filter(action="person.update", object_id=str(person.id)).exists()
    finally:
        slapd_server.modify(person.ldap_dn, [("replace", "cn", "李军"), ("replace", "title", "区长"),
                                             ("delete", "departmentNumber", "610402001000")])
        slapd_server.modify("cn=yw-leader,ou=groups,dc=xianyang,dc=gov,dc=cn",
                            [("add", "member", person.ldap_dn)])


def test_it_writes_nothing_when_a_second_signin_finds_nothing_changed(ldap_settings, dir_units):
    authenticate(None, username="zhaomin", password=PASSWORD)
    writes = AuditEntry.objects.exclude(action__startswith="auth.").count()
    authenticate(None, username="zhaomin", password=PASSWORD)
    assert AuditEntry.objects.exclude(action__startswith="auth.").count() == writes
    assert Person.objects.filter(username="zhaomin").count() == 1


def test_it_refuses_a_wrong_password_and_records_it(ldap_settings, dir_units):
    assert authenticate(None, username="wangfang", password="wrong-password") is None
    entry = AuditEntry.objects.filter(action="auth.ldap_failed").latest("seq")
    assert entry.data["reason"] == "bad-password" and entry.data["username"] == "wangfang"
    assert not Person.objects.filter(username="wangfang").exists()


def test_it_signs_in_through_the_login_page_and_lands_on_the_home_page(ldap_settings, dir_units):
    client = Client()
    response = client.post("/login/", {"username": "wangfang", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_it_keeps_local_accounts_working_while_the_directory_is_down(ldap_settings, dir_units, admin):
    ldap_settings.LDAP_URL = [closed_port_url()]
    admin.refresh_from_db()
    assert admin.source == "local" and admin.is_superuser
    assert authenticate(None, username="admin", password=LOCAL_PASSWORD).id == admin.id
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password=PASSWORD)
    assert refused.value.status == 503 and DOWN in refused.value.message
    response = Client().post("/login/", {"username": "wangfang", "password": PASSWORD})
    assert response.status_code == 503 and DOWN in response.content.decode()
    assert AuditEntry.objects.filter(action="auth.ldap_unavailable").exists()


def test_it_says_the_directory_is_down_within_the_timeout_when_a_server_hangs(ldap_settings, dir_units):
    hung = Blackhole()
    try:
        ldap_settings.LDAP_URL = [hung.url]
        ldap_settings.LDAP_TIMEOUT = 1
        started = time.monotonic()
        with pytest.raises(ActionError) as refused:
            authenticate(None, username="wangfang", password=PASSWORD)
        assert time.monotonic() - started < 4
        assert refused.value.status == 503
    finally:
        hung.close()


def test_it_fails_over_from_a_stopped_server_to_a_running_one(ldap_settings, dir_units, slapd_server, tmp_path):
    stopped = Slapd(tmp_path / "stopped").start()
    stopped.stop()
    ldap_settings.LDAP_URL = [stopped.url, slapd_server.url]
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None


def test_it_fails_over_from_a_hung_server_to_a_running_one(ldap_settings, dir_units, slapd_server):
    hung = Blackhole()
    try:
        ldap_settings.LDAP_URL = [hung.url, slapd_server.url]
        ldap_settings.LDAP_TIMEOUT = 1
        assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    finally:
        hung.close()


def test_it_refuses_a_server_whose_certificate_the_configured_ca_did_not_sign(ldap_settings, dir_units, tmp_path):
    other_ca, _cert, _key = make_test_ca(tmp_path)
    ldap_settings.LDAP_CA_FILE = str(other_ca)
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password=PASSWORD)
    assert refused.value.status == 503


def test_it_refuses_a_certificate_made_out_to_another_host_name(ldap_settings, dir_units, tmp_path):
    impostor = Slapd(tmp_path / "impostor", cert_names=("ldap.elsewhere.example",)).start()
    try:
        impostor.add(org_entries())
        for key, value in impostor.settings().items():
            setattr(ldap_settings, key, value)
        with pytest.raises(ActionError) as refused:
            authenticate(None, username="wangfang", password=PASSWORD)
        assert refused.value.status == 503
    finally:
        impostor.destroy()


def test_it_needs_start_tls_because_the_server_refuses_plain_binds(ldap_settings, dir_units):
    ldap_settings.LDAP_START_TLS = False
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password=PASSWORD)
    assert refused.value.status == 503


def test_it_signs_in_over_ldaps_with_the_configured_ca(ldap_settings, dir_units, slapd_server, tmp_path):
    ldap_settings.LDAP_URL = [slapd_server.ldaps_url]
    ldap_settings.LDAP_START_TLS = False
    assert authenticate(None, username="wangfang", password=PASSWORD) is not None
    other_ca, _cert, _key = make_test_ca(tmp_path)
    ldap_settings.LDAP_CA_FILE = str(other_ca)
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password=PASSWORD)
    assert refused.value.status == 503


def test_it_gives_no_directory_post_in_a_unit_marked_local(ldap_settings, dir_units):
    Unit.objects.filter(code="610402001001").update(is_local=True)
    person = authenticate(None, username="zhaomin", password=PASSWORD)
    assert roles_by_unit(person) == {"人民路街道办事处": ["handler"]}


def test_it_leaves_a_local_account_with_the_same_name_to_the_local_backend(ldap_settings, dir_units):
    Person.objects.create_user("wangfang", password="local-pass-123", display_name="本地王芳")
    assert authenticate(None, username="wangfang", password=PASSWORD) is None
    person = authenticate(None, username="wangfang", password="local-pass-123")
    assert person.source == "local" and person.display_name == "本地王芳"


# --- sessions: an entry gone or disabled ends them; a directory outage does not ---------------------
@pytest.fixture
def own_slapd(tmp_path, ldap_settings):
    """A slapd of this test's own (the test stops or changes it)."""
    server = Slapd(tmp_path / "own").start()
    server.add(org_entries())
    for key, value in server.settings(LDAP_RECHECK_SECONDS=0).items():
        setattr(ldap_settings, key, value)
    yield server
    server.destroy()


def signed_in_client(username):
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.get("/").status_code == 200
    return client


def test_it_ends_the_session_of_a_person_disabled_in_the_directory(own_slapd, dir_units):
    client = signed_in_client("wangfang")
    own_slapd.modify(WANGFANG, [("add", "employeeType", "disabled")])
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Person.objects.get(username="wangfang").is_active
    assert AuditEntry.objects.filter(action="person.deactivate", data__reason="disabled").exists()
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="wangfang", password=PASSWORD)
    assert refused.value.status == 403


def test_it_ends_the_session_of_a_person_whose_entry_is_gone(own_slapd, dir_units):
    client = signed_in_client("wangfang")
    own_slapd.delete(WANGFANG)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Person.objects.get(username="wangfang").is_active


def test_it_rechecks_the_directory_at_most_every_recheck_interval(own_slapd, dir_units, ldap_settings):
    ldap_settings.LDAP_RECHECK_SECONDS = 300
    client = signed_in_client("wangfang")
    own_slapd.modify(WANGFANG, [("add", "employeeType", "disabled")])
    assert client.get("/").status_code == 200  # within the interval: the cached check stands
    from django.core.cache import cache
    cache.clear()  # the interval has passed
    assert client.get("/").status_code == 302


def test_it_keeps_people_signed_in_while_the_directory_is_stopped(own_slapd, dir_units, ldap_settings):
    ldap_settings.LDAP_TIMEOUT = 1
    client = signed_in_client("wangfang")
    own_slapd.stop()
    started = time.monotonic()
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200
    assert time.monotonic() - started < 4
    assert Person.objects.get(username="wangfang").is_active
    with pytest.raises(ActionError) as refused:
        authenticate(None, username="lijun", password=PASSWORD)
    assert refused.value.status == 503


@pytest.mark.django_db(transaction=True)
def test_it_signs_in_the_same_new_person_twice_at_once(ldap_settings, seed_small):
    import threading

    from django.db import connection

    results, barrier = [], threading.Barrier(2)

    def attempt():
        try:
            barrier.wait()
            results.append(authenticate(None, username="zhaomin", password=PASSWORD))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, Person) for r in results), results
    assert Person.objects.filter(username="zhaomin").count() == 1
    assert Post.objects.filter(person__username="zhaomin", active=True).count() == 2


def test_it_reads_the_fields_the_attribute_map_names(ldap_settings, dir_units):
    from office.ldap_config import parse_attr_map

    ldap_settings.LDAP_ATTR_MAP = parse_attr_map("display_name=sn,phone=mail")
    person = authenticate(None, username="wangfang", password=PASSWORD)
    assert (person.display_name, person.phone) == ("王", "wangfang@qindu.gov.cn")


def test_it_maps_a_group_given_by_its_full_dn_to_a_role(ldap_settings, dir_units):
    from office.ldap_config import parse_group_role_map

    ldap_settings.LDAP_GROUP_ROLE_MAP = parse_group_role_map(
        "cn=yw-handler,ou=groups,dc=xianyang,dc=gov,dc=cn=archivist")
    person = authenticate(None, username="chenjing", password=PASSWORD)
    assert roles_by_unit(person) == {"咸阳市人民政府": ["archivist"]}


@pytest.mark.parametrize("attr, values, entry_values, disabled", [
    ("employeeType", ["disabled"], ["staff"], False),
    ("employeeType", ["disabled"], ["Disabled"], True),
    ("pwdAccountLockedTime", [], ["20260101000000Z"], True),     # presence alone
    ("pwdAccountLockedTime", [], [], False),
    ("userAccountControl", [], ["514"], True),                    # Active Directory: 512 + ACCOUNTDISABLE
    ("userAccountControl", [], ["512"], False),
])
def test_it_recognises_disabled_entries_of_several_directories(settings, attr, values, entry_values, disabled):
    from office import ldap

    settings.LDAP_URL = ["ldap://127.0.0.1:1"]
    settings.LDAP_DISABLED_ATTR, settings.LDAP_DISABLED_VALUES = attr, values
    entry = ldap.Entry(dn="uid=x,dc=y", attrs={attr.lower(): entry_values} if entry_values else {})
    assert ldap.is_disabled(ldap.get_config(), entry) is disabled
