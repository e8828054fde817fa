"""Who may open the administration pages: the system administrator everything, a unit's administrator
their own county and below (not another county's units or people), everyone else the shell's 403
page, and an anonymous visitor the sign-in page."""
import pytest

from office.models import Post, Unit
from tests.admin_support import unit_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def qian_admin(units):
    return unit_admin(units)


def _pages(units, people):
    """(path, whose) for every administration page; whose: the county the page's object belongs to."""
    village = units["北街村"]
    cadre = people["village_cadre2"]
    return [
        ("/office/admin/", None), ("/office/admin/units/", None), ("/office/admin/units/?q=北街", None),
        ("/office/admin/people/", None), ("/office/admin/people/?q=卫", None), ("/office/admin/people/new/", None),
        ("/office/admin/delegations/", None),
        (f"/office/admin/units/{village.id}/", "秦都区"), (f"/office/admin/units/{units['人民路街道'].id}/children/", "秦都区"),
        (f"/office/admin/people/{cadre.id}/", "秦都区"), (f"/office/admin/people/new/?unit={village.id}", "秦都区"),
        (f"/documents/files/seals/{village.id}/keepers/", "秦都区"),
        (f"/office/admin/units/{units['薛录村'].id}/", "乾县"),
        (f"/documents/files/seals/{units['薛录村'].id}/keepers/", "乾县"),
    ]


def test_it_lets_the_system_administrator_open_every_page(units, seed_small, admin, client_for):
    client = client_for(admin)
    for path, _whose in _pages(units, seed_small[1]):
        r = client.get(path)
        assert r.status_code == 200, path


def test_it_lets_a_unit_administrator_open_only_their_own_countys_pages(units, seed_small, qian_admin, client_for):
    client = client_for(qian_admin)
    for path, whose in _pages(units, seed_small[1]):
        r = client.get(path)
        if whose == "秦都区":
            assert r.status_code == 403, path
            assert "无权" in r.content.decode() and "北街村民委员会" not in r.content.decode()
        else:
            assert r.status_code == 200, path
    tree = client.get("/office/admin/units/").content.decode()
    assert "乾县人民政府" in tree and "秦都区人民政府" not in tree
    found = client.get("/office/admin/units/", {"q": "村"}).content.decode()
    assert "薛录村民委员会" in found and "北街村民委员会" not in found
    people = client.get("/office/admin/people/").content.decode()
    assert "蒋秘书" in people and "卫文书" not in people


def test_it_shows_the_shells_403_page_to_a_village_cadre(units, seed_small, village_cadre, client_for):
    client = client_for(village_cadre)
    for path, _whose in _pages(units, seed_small[1]):
        r = client.get(path)
        assert r.status_code == 403, path
        page = r.content.decode()
        assert 'class="topbar"' in page and "无权" in page
    r = client.post(f"/office/admin/units/{units['北街村'].id}/", {"op": "dissolve"})
    assert r.status_code == 403
    assert Unit.objects.get(id=units["北街村"].id).dissolved_at is None


def test_it_sends_an_anonymous_visitor_to_sign_in(units, seed_small, client):
    for path, _whose in _pages(units, seed_small[1]):
        r = client.get(path)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), path


def test_it_offers_the_administration_link_only_to_administrators(units, admin, qian_admin, village_cadre, client_for):
    assert 'href="/office/admin/"' in client_for(admin).get("/").content.decode()
    assert 'href="/office/admin/"' in client_for(qian_admin).get("/").content.decode()
    assert 'href="/office/admin/"' not in client_for(village_cadre).get("/").content.decode()
    assert Post.objects.filter(person=qian_admin, is_admin=True).count() == 1


def test_it_keeps_a_unit_administrator_inside_their_county_through_the_api_too(units, qian_admin, client_for):
    import json

    client = client_for(qian_admin)
    post = lambda url, body: client.post(url, json.dumps(body), content_type="application/json")  # noqa: E731
    r = post("/api/office/units", {"parent_id": units["人民路街道"].id, "kind": "village", "name": "外县村民委员会"})
    assert r.status_code == 403 and r.json()["detail"] == "您无权管理该单位。"
    r = post("/api/office/units", {"parent_id": None, "kind": "city", "name": "宝鸡市人民政府"})
    assert r.status_code == 403
    r = post("/api/office/units", {"parent_id": units["薛录镇"].id, "kind": "village", "name": "新庄村民委员会"})
    assert r.status_code == 201 and r.json()["level"] == 4
    r = post("/api/office/posts", {"person_id": qian_admin.id, "unit_id": units["北街村"].id, "roles": ["admin"]})
    assert r.status_code == 403 and not Post.objects.filter(person=qian_admin, unit=units["北街村"]).exists()


def test_it_speaks_english_to_an_english_reader(units, admin, client_for):
    client = client_for(admin)
    page = client.get("/office/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You are a system administrator and may administer every unit." in page and "系统管理员，可以" not in page
    tree = client.get("/office/admin/units/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Unit tree" in tree and "单位树" not in tree
    r = client.post(f"/office/admin/units/{units['人民路街道'].id}/", {"op": "create_child", "child-name": "",
                                                                     "child-kind": "village"},
                    HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 400 and "Please fill in Name." in r.content.decode()


def test_it_refuses_every_change_to_those_who_may_not_make_it(units, seed_small, qian_admin, village_cadre, client,
                                                              client_for):
    from django.test import Client

    from documents.models import SealKeeper
    from office.models import Delegation, Person

    def state():
        return (list(Unit.objects.order_by("id").values_list("id", "name", "parent_id", "dissolved_at")),
                list(Person.objects.order_by("id").values_list("id", "username", "display_name", "is_active")),
                list(Post.objects.order_by("id").values_list("id", "unit_id", "active")),
                Delegation.objects.count(), SealKeeper.objects.count())

    before = state()
    cadre2_post = Post.objects.get(person=seed_small[1]["village_cadre2"])
    body = {"op": "update", "edit-name": "改名", "child-name": "新单位", "child-kind": "village", "display_name": "某人",
            "username": "someone", "person-display_name": "改名", "person-username": "x", "post": cadre2_post.id,
            "post-unit": units["北街村"].code}
    anonymous = Client()
    for path, whose in _pages(units, seed_small[1]):
        for op in ("update", "create_child", "dissolve", "add_post", "end_post", "add", "remove", "create", "end"):
            r = client_for(village_cadre).post(path, {**body, "op": op})
            assert r.status_code == 403, (path, op)
            r = anonymous.post(path, {**body, "op": op})
            assert r.status_code == 302 and r["Location"].startswith("/login/"), (path, op)
            if whose == "秦都区":
                assert client_for(qian_admin).post(path, {**body, "op": op}).status_code == 403, (path, op)
    assert state() == before
