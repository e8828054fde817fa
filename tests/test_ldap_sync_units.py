"""ldap_sync and units: people whose unit the organisation does not know are conflicts (and see a page
saying so), a sync never dissolves a unit it did not create, and a dry run names every change."""
import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client

from office.models import DirectorySync, Person, Unit
from tests.ldap_server import (COUNTY_DN, PASSWORD, PEOPLE_BASE, SUFFIX, Slapd, ldap_settings,  # noqa: F401
                               org_entries, person, slapd_server)

pytestmark = pytest.mark.django_db

LOST = f"uid=lost,{PEOPLE_BASE}"
NOWHERE = f"uid=nowhere,{PEOPLE_BASE}"


@pytest.fixture
def directory(tmp_path, ldap_settings, seed_small):
    server = Slapd(tmp_path / "units").start()
    server.add(org_entries() + [
        person(LOST, "lost", "吕思", codes=["610499999999"]),   # a code no unit has
        person(NOWHERE, "nowhere", "倪禾"),                      # no ou of a unit, no code
    ])
    for key, value in server.settings().items():
        setattr(ldap_settings, key, value)
    yield server
    server.destroy()


def sync(*args):
    out = io.StringIO()
    call_command("ldap_sync", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_it_reports_people_whose_unit_is_unknown_as_conflicts(directory):
    out = sync()
    conflicts = {c["dn"]: c for c in DirectorySync.objects.first().conflicts}
    assert conflicts[LOST]["reason"] == "no-unit" and "610499999999" in conflicts[LOST]["code"]
    assert conflicts[NOWHERE]["reason"] == "no-unit"
    assert "冲突 3" in out  # with the ambiguous liuyang
    assert LOST in out and "没有对应的单位" in out


def test_it_lists_them_on_the_sync_page(directory, admin, client_for):
    sync()
    page = client_for(admin).get("/office/ldap/sync/").content.decode()
    assert "uid=lost" in page and "没有对应的单位" in page and "610499999999" in page


def test_it_shows_such_a_person_what_is_missing_and_whom_to_ask(directory, admin):
    client = Client()
    assert client.post("/login/", {"username": "lost", "password": PASSWORD}).status_code == 302
    page = client.get("/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "尚未分配岗位" in text and "610499999999" in text and "系统管理员" in text


def test_it_never_dissolves_a_unit_it_did_not_create(directory, ldap_settings):
    sync()
    county = Unit.objects.get(code="610402000000")  # seeded, matched by the first run
    created = Unit.objects.get(code="610402001003")  # created by the first run
    ldap_settings.LDAP_UNIT_BASE = f"ou=人民路街道办事处,{COUNTY_DN}"  # a narrower tree
    out = sync()
    county.refresh_from_db()
    created.refresh_from_db()
    assert county.dissolved_at is None
    assert created.dissolved_at is None  # still inside the narrower tree
    ldap_settings.LDAP_UNIT_BASE = f"ou=秦都区应急管理局,{COUNTY_DN}"
    sync()
    county.refresh_from_db()
    created.refresh_from_db()
    assert county.dissolved_at is None and Unit.objects.get(code="610402001000").dissolved_at is None
    assert created.dissolved_at is not None  # the sync's own unit, gone from its tree
    assert "停用 " in out


def test_it_names_every_change_in_a_dry_run(directory):
    out = sync("--dry-run")
    assert "新建单位：和平社区（人民路街道办事处）" in out
    assert "新建单位：秦都区应急管理局" in out
    assert "新建人员：王芳（wangfang）" in out
    assert not Person.objects.filter(username="wangfang").exists()
    sync()
    directory.delete(f"uid=wangfang,ou=秦都区人民政府办公室,{COUNTY_DN}")
    out = sync("--dry-run")
    assert "停用人员：王芳（wangfang）" in out
    assert Person.objects.get(username="wangfang").is_active


def test_it_signs_in_a_person_with_an_unknown_unit_code_without_a_post(directory):
    person = authenticate(None, username="lost", password=PASSWORD)
    assert person is not None and not person.posts.filter(active=True).exists()
