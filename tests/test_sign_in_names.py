"""One spelling of a username: full-width letters and capitals sign in as the same person and share
one lockout budget (NFKC + case folding, once, for the lookup and the throttle alike)."""
import pytest
from django.contrib.auth import authenticate
from django.test import Client

from office.models import Person
from tests.ldap_server import PASSWORD, ldap_settings, slapd_server  # noqa: F401

pytestmark = pytest.mark.django_db

LOCAL_PASSWORD = "Demo-2026!"


def test_it_signs_in_a_full_width_directory_username_as_the_same_person(ldap_settings, seed_small):
    plain = authenticate(None, username="wangfang", password=PASSWORD)
    wide = authenticate(None, username="ｗａｎｇｆａｎｇ", password=PASSWORD)
    capital = authenticate(None, username="WangFang", password=PASSWORD)
    assert plain is not None and wide.id == plain.id == capital.id
    assert Person.objects.filter(username__iexact="wangfang").count() == 1


def test_it_signs_in_a_local_account_typed_in_full_width_or_capitals(county_secretary):
    for typed in ("ｃｏｕｎｔｙ＿ｓｅｃｒｅｔａｒｙ", "County_Secretary"):
        response = Client().post("/login/", {"username": typed, "password": LOCAL_PASSWORD})
        assert response.status_code == 302, typed


def test_it_gives_other_spellings_no_fresh_lockout_budget(county_secretary, settings):
    settings.LOGIN_MAX_FAILURES = 3
    spellings = ["county_secretary", "ｃｏｕｎｔｙ＿ｓｅｃｒｅｔａｒｙ", "COUNTY_SECRETARY"]
    for i, typed in enumerate(spellings):
        # each from its own address: only the account's budget is in play
        Client(REMOTE_ADDR=f"10.0.0.{i + 1}").post("/login/", {"username": typed, "password": "wrong-one"})
    for typed in spellings + ["Ｃｏｕｎｔｙ_secretary"]:
        response = Client(REMOTE_ADDR="10.0.0.9").post("/login/", {"username": typed, "password": LOCAL_PASSWORD})
        assert response.status_code == 429, typed
