"""`manage.py ldap_sync` imports the directory (a real slapd) into units, people, posts and roles."""
import io

import pytest
from django.core.management import CommandError, call_command

from office.models import AuditEntry, DirectorySync, Person, Post, Unit
from tests.ldap_server import (LIJUN, NEW_VILLAGE_DN, PEOPLE_BASE, TOWN_DN, WANGFANG, Slapd,  # noqa: F401
                               closed_port_url, ldap_settings, org_entries, ou, person, slapd_server)

pytestmark = pytest.mark.django_db


def sync(*args):
    out = io.StringIO()
    call_command("ldap_sync", "--no-progress", *args, stdout=out)
    return out.getvalue()


def roles_by_unit(username):
    return {p.unit.name: p.roles for p in
            Post.objects.filter(person__username=username, active=True).select_related("unit")}


def snapshot():
    """Every row the sync may touch, with every field."""
    return (
        sorted(Unit.objects.values_list("id", "name", "short_name", "code", "parent_id", "path", "dissolved_at")),
        sorted(Person.objects.values_list("id", "username", "display_name", "email", "phone", "title",
                                          "is_active", "source", "ldap_dn")),
        sorted(Post.objects.values_list("id", "person_id", "unit_id", "title", "is_leader", "is_secretary",
                                        "is_handler", "is_archivist", "is_admin", "active", "source")),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def directory(ldap_settings, seed_small):
    return ldap_settings


@pytest.fixture
def own_directory(tmp_path, ldap_settings, seed_small):
    """A slapd of the test's own, which the test changes."""
    server = Slapd(tmp_path / "own").start()
    server.add(org_entries())
    for key, value in server.settings().items():
        setattr(ldap_settings, key, value)
    yield server
    server.destroy()


def test_it_imports_the_ou_tree_people_posts_and_roles(directory):
    units_before = Unit.objects.count()
    city = Unit.objects.get(kind="city")
    out = sync()
    # Existing units are matched (by code, then by name under the parent); two new ones are created.
    assert Unit.objects.count() == units_before + 2
    assert Unit.objects.get(kind="city").id == city.id
    village = Unit.objects.get(code="610402001003")
    assert (village.name, village.kind, village.parent.name) == ("和平社区", "village", "人民路街道办事处")
    department = Unit.objects.get(name="秦都区应急管理局")
    assert (department.kind, department.parent.short_name) == ("department", "秦都区")
    assert not Unit.objects.filter(name__in=["people", "groups", "services"]).exists()
    # People and their posts, roles from groups.
    wang = Person.objects.get(username="wangfang")
    assert (wang.display_name, wang.email, wang.source, wang.ldap_dn) == ("王芳", "wangfang@qindu.gov.cn", "ldap",
                                                                          WANGFANG)
    assert roles_by_unit("wangfang") == {"秦都区人民政府办公室": ["secretary"]}
    assert roles_by_unit("zhaomin") == {"人民路街道办事处": ["handler"], "人民路社区居民委员会": ["secretary", "handler"]}
    assert roles_by_unit("zhouqiang") == {"咸阳市人民政府办公室": ["leader"]}
    assert roles_by_unit("chenjing") == {"咸阳市人民政府": ["handler"]}
    # Not imported: the disabled newcomer, the ambiguous username (a conflict).
    assert not Person.objects.filter(username__in=["sunli", "liuyang"]).exists()
    log = DirectorySync.objects.get()
    assert log.status == "ok" and not log.dry_run
    assert log.summary["people"] == {"created": 5} and log.summary["units"] == {"created": 2}
    assert log.summary["posts"] == {"created": 6}
    assert [c["reason"] for c in log.conflicts] == ["ambiguous-username"]
    assert "单位：新建 2，更新 0，停用 0" in out and "人员：新建 5" in out and "冲突 1" in out
    # Every change is in the audit log.
    assert AuditEntry.objects.filter(action="person.create", data__via="sync").count() == 5
    assert AuditEntry.objects.filter(action="unit.create").count() >= 2
    # A new person's posts are recorded with them.
    created = AuditEntry.objects.filter(action="person.create", data__via="sync")
    assert sum(len(e.data["posts"]) for e in created) == 6
    assert AuditEntry.objects.filter(action="ldap.sync").count() == 1


def test_it_changes_nothing_on_a_second_run_over_an_unchanged_directory(directory):
    sync()
    before = snapshot()
    out = sync()
    assert snapshot() == before
    assert "单位：新建 0，更新 0，停用 0；人员：新建 0，更新 0，停用 0；岗位：新建 0，更新 0，停用 0" in out
    last = DirectorySync.objects.first()
    assert last.summary["changed"] is False and last.status == "ok"


def test_it_changes_nothing_in_a_dry_run_and_reports_what_it_would_do(directory):
    before = snapshot()
    out = sync("--dry-run")
    assert snapshot() == before
    assert "试运行" in out and "人员：新建 5" in out
    log = DirectorySync.objects.get()
    assert log.dry_run and log.summary["people"] == {"created": 5}


def test_it_deactivates_people_who_left_or_were_disabled_and_keeps_their_rows(own_directory):
    sync()
    wang_posts = list(Post.objects.filter(person__username="wangfang").values_list("id", flat=True))
    own_directory.delete(WANGFANG)
    own_directory.modify(LIJUN, [("add", "employeeType", "disabled")])
    out = sync()
    wang, li = Person.objects.get(username="wangfang"), Person.objects.get(username="lijun")
    assert not wang.is_active and not li.is_active
    assert not Post.objects.filter(id__in=wang_posts, active=True).exists()
    assert Post.objects.filter(id__in=wang_posts).count() == len(wang_posts)
    assert "人员：新建 0，更新 0，停用 2" in out
    assert AuditEntry.objects.filter(action="person.deactivate", object_id=str(wang.id)).exists()
    # Back in the directory: active again on the next run.
    own_directory.modify(LIJUN, [("delete", "employeeType", "disabled")])
    sync()
    assert Person.objects.get(username="lijun").is_active
    assert roles_by_unit("lijun") == {"秦都区人民政府办公室": ["leader"]}


def test_it_dissolves_a_unit_that_left_the_directory_but_keeps_it(own_directory):
    sync()
    village = Unit.objects.get(code="610402001003")
    own_directory.delete(NEW_VILLAGE_DN)
    out = sync()
    village.refresh_from_db()
    assert village.dissolved_at is not None
    assert "单位：新建 0，更新 0，停用 1" in out
    # Units that were never in the directory (the seeded 乾县) are left alone.
    assert Unit.objects.get(code="610424000000").dissolved_at is None


def test_it_matches_a_unit_by_code_before_its_name_and_renames_it(own_directory):
    seeded = Unit.objects.get(code="610402001002")  # 北街村民委员会 in the organisation
    own_directory.add([ou(f"ou=北街社区,{TOWN_DN}", "610402001002")])
    sync()
    seeded.refresh_from_db()
    assert seeded.name == "北街社区"
    assert Unit.objects.filter(code="610402001002").count() == 1
    assert AuditEntry.objects.filter(action="unit.update", object_id=str(seeded.id)).exists()


def test_it_records_conflicts_instead_of_failing(own_directory):
    # Two ous with the same code, and a directory person named like a local account.
    own_directory.add([ou(f"ou=重复社区,{TOWN_DN}", "610402001003")])
    own_directory.add([person(f"uid=admin,{PEOPLE_BASE}", "admin", "目录里的管理员")])
    sync()
    reasons = {c["reason"] for c in DirectorySync.objects.first().conflicts}
    assert {"duplicate-code", "local-account-exists", "ambiguous-username"} <= reasons
    admin = Person.objects.get(username="admin")
    assert admin.source == "local" and admin.display_name != "目录里的管理员"


def test_it_says_in_one_line_when_the_directory_is_down(directory):
    directory.LDAP_URL = [closed_port_url()]
    with pytest.raises(CommandError) as failed:
        sync()
    assert "目录服务暂时无法连接" in str(failed.value) and "\n" not in str(failed.value)
    log = DirectorySync.objects.get()
    assert log.status == "failed" and "目录服务暂时无法连接" in log.error
    assert not Person.objects.filter(source="ldap").exists()


def test_it_refuses_to_run_without_a_directory(settings, db):
    settings.LDAP_URL = []
    with pytest.raises(CommandError, match="LDAP_URL"):
        sync()


def test_it_shows_the_last_sync_its_summary_and_conflicts_to_an_administrator(directory, client_for, admin,
                                                                               county_secretary):
    sync()
    page = client_for(admin).get("/office/ldap/sync/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "最近一次同步" in html and "用户名在目录中对应多个条目" in html and "uid=liuyang" in html
    assert client_for(county_secretary).get("/office/ldap/sync/").status_code == 403


def test_it_refuses_to_act_on_a_listing_the_directory_cut_short(tmp_path, ldap_settings, seed_small):
    # A server that gives the service account at most 3 entries: the sync must not take the rest as gone.
    server = Slapd(tmp_path / "limited", sizelimit=3, service_unlimited=False).start()
    try:
        server.add(org_entries())
        for key, value in server.settings().items():
            setattr(ldap_settings, key, value)
        before = snapshot()
        with pytest.raises(CommandError) as failed:
            sync()
        assert "部分条目" in str(failed.value)
        assert snapshot()[:3] == before[:3]
        assert DirectorySync.objects.get().status == "failed"
    finally:
        server.destroy()


def test_it_follows_a_person_whose_username_changed_by_their_entry(own_directory):
    dn = f"cn=何平,{PEOPLE_BASE}"  # the uid is not part of this DN, so it can change in place
    own_directory.add([person(dn, "heping", "何平", codes=["610402000000"])])
    sync()
    before = Person.objects.get(username="heping")
    own_directory.modify(dn, [("replace", "uid", "heping2")])
    out = sync()
    after = Person.objects.get(ldap_dn=dn)
    assert after.id == before.id and after.username == "heping2" and after.is_active
    assert not Person.objects.filter(username="heping").exists()
    assert "人员：新建 0，更新 1，停用 0" in out
