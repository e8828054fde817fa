"""The shell: a language switch remembered per person, one active top-bar item, breadcrumbs, a favicon,
and the API's documentation only for signed-in people."""
import re

import pytest
from django.test import Client

from office.models import Person


@pytest.mark.django_db
def test_it_remembers_the_chosen_language_on_the_person_for_every_device(units, county_secretary, client_for):
    desk = client_for(county_secretary)
    response = desk.post("/language/", {"language": "en", "next": "/directory/"})
    assert response.status_code == 302 and response["Location"] == "/directory/"
    assert Person.objects.get(id=county_secretary.id).language == "en"
    assert "Workbench" in desk.get("/").content.decode()
    phone = client_for(Person.objects.get(id=county_secretary.id))  # another browser, no language cookie
    page = phone.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Workbench" in page.content.decode() and "工作台" not in page.content.decode()
    assert page.cookies["django_language"].value == "en"  # websockets follow the cookie
    desk.post("/language/", {"language": "zh-hans", "next": "/"})
    assert "工作台" in desk.get("/").content.decode()


@pytest.mark.django_db
def test_it_refuses_an_unknown_language_without_an_error_page(units, county_secretary, client_for):
    c = client_for(county_secretary)
    response = c.post("/language/", {"language": "xx"}, follow=True)
    assert response.status_code == 200 and "不支持这种语言" in response.content.decode()
    assert Person.objects.get(id=county_secretary.id).language == ""


@pytest.mark.django_db
def test_it_marks_one_top_bar_item_active_and_serves_a_favicon(units, county_secretary, client_for):
    html = client_for(county_secretary).get("/documents/archive/").content.decode()
    nav = html[html.index('<nav class="mainnav"'):html.index("</nav>", html.index('<nav class="mainnav"'))]
    assert len(re.findall(r'class="active"', nav)) == 1
    assert 'rel="icon"' in html and "favicon.svg" in html


@pytest.mark.django_db
def test_it_shows_the_api_documentation_only_to_signed_in_people(units, county_secretary, client_for):
    assert Client().get("/api/docs").status_code == 302
    page = client_for(county_secretary).get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    # in the suite's Chinese shell (top bar, heading), Swagger UI served locally with the suite's colours
    assert '<header class="topbar">' in html and "<h1>接口文档</h1>" in html and "工作台" in html
    assert "ninja/swagger-ui-bundle.js" in html and "office/apidocs.css" in html and "cdn" not in html.lower()
    assert "API documentation" in client_for(county_secretary).get("/api/docs", HTTP_ACCEPT_LANGUAGE="en").content.decode()
