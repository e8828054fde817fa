"""404, 403 and 500 pages render inside the suite's shell, in the reader's language, with a way back."""
import pytest

from tests.test_documents_support import dispatched, post_of


@pytest.fixture
def county_notice(units, county_secretary, county_leader):
    town = post_of(county_leader).unit.children.get(short_name="人民路街道")
    return dispatched(county_secretary, county_leader, main=[town.id])


def _quiet(client):
    client.raise_request_exception = False
    return client


def _in_shell(html):
    assert 'class="topbar"' in html and 'href="/documents/"' in html  # the navigation
    assert 'href="/"' in html and "history.back()" in html  # a way back


def test_it_shows_a_village_cadre_following_an_old_link_a_404_inside_the_shell(county_notice, village_cadre,
                                                                                client_for):
    r = _quiet(client_for(village_cadre)).get(f"/documents/{county_notice.id}/")
    assert r.status_code == 404
    html = r.content.decode()
    _in_shell(html)
    assert "没有找到" in html and county_notice.title not in html
    assert "Not Found" not in html and "The requested resource" not in html


def test_it_shows_the_404_page_in_english_to_an_english_reader(county_notice, village_cadre, client_for):
    r = _quiet(client_for(village_cadre)).get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 404
    html = r.content.decode()
    _in_shell(html)
    assert "Not found" in html and "Back to the previous page" in html
    assert "没有找到" not in html


def test_it_shows_an_anonymous_reader_the_404_page_with_a_way_to_sign_in(units, client):
    r = _quiet(client).get("/no/such/page/")
    assert r.status_code == 404
    html = r.content.decode()
    assert "没有找到" in html and 'href="/login/?next=/no/such/page/"' in html and 'href="/"' in html


def test_it_tells_a_recipient_in_the_shell_that_only_the_sender_tracks_the_document(county_notice, town_secretary,
                                                                                     client_for):
    c = _quiet(client_for(town_secretary))
    assert c.get(f"/documents/{county_notice.id}/").status_code == 200
    r = c.get(f"/documents/{county_notice.id}/tracking/")
    assert r.status_code == 403
    html = r.content.decode()
    _in_shell(html)
    assert "只有发文单位可以查看该公文的办理跟踪" in html


def test_it_shows_a_server_failure_as_a_500_page_inside_the_shell(units, county_secretary, client_for, monkeypatch):
    from documents import queries

    def broken(*args, **kwargs):
        raise RuntimeError("boom: secret detail")

    monkeypatch.setattr(queries, "search", broken)
    r = _quiet(client_for(county_secretary)).get("/documents/?box=all")
    assert r.status_code == 500
    html = r.content.decode()
    _in_shell(html)
    assert "服务器出错了" in html and "secret detail" not in html and "Traceback" not in html
