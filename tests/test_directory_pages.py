"""Directory: browse the tree level by level, search units and people, see a unit's posts."""
import pytest
from django.urls import reverse


def test_it_shows_the_city_with_its_counties_and_departments(units, town_secretary, client_for, django_assert_max_num_queries):
    client = client_for(town_secretary)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("unit-detail", args=[units["咸阳市"].id])).content.decode()
    assert "咸阳市人民政府" in page and "秦都区人民政府" in page and "乾县人民政府" in page
    assert "咸阳市财政局" in page and "610400000000" in page
    assert "张市长" in page  # the city's people and posts


def test_it_goes_down_level_by_level_with_breadcrumbs(units, village_cadre, client_for):
    client = client_for(village_cadre)
    page = client.get(f"/directory/unit/{units['人民路街道'].id}/").content.decode()
    assert "人民路社区居民委员会" in page and "北街村民委员会" in page
    assert "咸阳市人民政府</a>" in page and "秦都区人民政府</a>" in page
    assert client.get("/directory/unit/999999/").status_code == 404


def test_it_finds_units_and_people_by_name(units, village_cadre, client_for):
    client = client_for(village_cadre)
    page = client.get("/directory/", {"q": "乾县"}).content.decode()
    assert "乾县人民政府" in page
    page = client.get("/directory/", {"q": "褚书记"}).content.decode()
    assert "人民路社区居民委员会" in page
    assert client.get("/api/office/people", {"q": "周区长"}).json()[0]["unit_name"] == "秦都区人民政府"
    assert client.get("/api/office/units", {"q": "薛录"}).json()[0]["name"] in ("薛录镇人民政府", "薛录村民委员会")


def test_it_needs_a_sign_in(units, client):
    assert client.get("/directory/").status_code == 302
    assert client.get("/api/office/units").status_code == 401
    assert client.get("/api/office/units").json()["detail"] == "请先登录。"


def test_it_lists_child_units_through_the_api(units, county_secretary, client_for):
    rows = client_for(county_secretary).get("/api/office/units", {"parent": units["秦都区"].id}).json()
    names = {r["name"] for r in rows}
    assert {"人民路街道办事处", "渭阳西路街道办事处", "秦都区财政局"} <= names


@pytest.mark.parametrize("width", [360, 1366])
def test_it_serves_the_shell_with_a_phone_viewport_meta(units, county_secretary, client_for, width):
    page = client_for(county_secretary).get(reverse("home")).content.decode()
    assert 'name="viewport"' in page and "width=device-width" in page
    assert "/static/office/app.css" in page and "cdn" not in page.lower()


def test_it_starts_at_the_persons_own_unit_with_office_phone_numbers(units, town_secretary, client_for):
    from office.models import Person

    Person.objects.filter(id=town_secretary.id).update(phone="029-33210001")
    page = client_for(town_secretary).get("/directory/").content.decode()
    assert '<strong aria-current="page">人民路街道办事处</strong>' in page  # the own unit, at the end of the breadcrumbs
    assert "秦都区人民政府" in page  # a step up the tree
    assert "029-33210001" in page
