"""Bad input found from the outside gets a 4xx with a message in the reader's language, never a 500."""
import json
import re
import urllib.error
import urllib.request

import pytest

HUGE = "9" * 25
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def quiet_client(client_for):
    def make(person):
        client = client_for(person)
        client.raise_request_exception = False
        return client

    return make


def _chinese_detail(response):
    body = response.json()
    assert CJK.search(body["detail"]), body
    return body["detail"]


def test_it_lists_the_document_types_with_their_templates(units, county_secretary, quiet_client):
    r = quiet_client(county_secretary).get("/api/documents/types")
    assert r.status_code == 200
    types = {t["value"]: t for t in r.json()}
    assert len(types) == 15
    assert types["通知"]["label"] == "通知"
    assert types["请示"]["body_template"][-1]["text"] == "妥否，请批示。"


@pytest.mark.parametrize("url", [
    f"/api/documents/?page={HUGE}", f"/api/documents/?sender={HUGE}", f"/api/documents/inbox?sender={HUGE}",
    f"/api/documents/inbox?page={HUGE}", f"/api/documents/outbox?page={HUGE}", f"/api/documents/archive?page={HUGE}",
    f"/api/office/units?parent={HUGE}", f"/api/office/people?unit={HUGE}", f"/api/office/units/{HUGE}",
    f"/api/documents/{HUGE}", f"/api/meetings/units/expand?unit={HUGE}",
])
def test_it_answers_a_huge_number_in_the_api_with_a_chinese_4xx_or_nothing_found(units, county_secretary,
                                                                                 quiet_client, url):
    r = quiet_client(county_secretary).get(url)
    if r.status_code == 200:  # PostgreSQL compares the number as it is and finds nothing
        body = r.json()
        assert body in ([], {}) or body.get("count") == 0 or body.get("items") == [], (url, body)
        return
    assert 400 <= r.status_code < 500, (url, r.status_code, r.content[:200])
    _chinese_detail(r)


@pytest.mark.parametrize("url", [f"/documents/{HUGE}/", f"/directory/unit/{HUGE}/", f"/meetings/{HUGE}/",
                                 f"/documents/?page={HUGE}", f"/documents/archive/?page={HUGE}"])
def test_it_answers_a_huge_number_in_a_page_address_without_a_500(units, county_secretary, quiet_client, url):
    r = quiet_client(county_secretary).get(url)
    assert r.status_code in (200, 400, 404), (url, r.status_code)


def test_it_answers_every_api_error_with_a_chinese_json_body(units, county_secretary, quiet_client, client):
    c = quiet_client(county_secretary)
    r = c.get("/api/no-such-thing")
    assert r.status_code == 404
    _chinese_detail(r)
    r = c.delete("/api/documents/types")
    assert r.status_code == 405
    _chinese_detail(r)
    client.raise_request_exception = False
    r = client.get("/api/documents/")
    assert r.status_code == 401
    _chinese_detail(r)
    r = c.post("/api/documents/", "{not json", content_type="application/json")
    assert r.status_code == 400
    _chinese_detail(r)


def test_it_answers_an_unexpected_api_failure_with_a_chinese_json_500(units, county_secretary, quiet_client,
                                                                        monkeypatch):
    from documents import queries

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "search", broken)
    r = quiet_client(county_secretary).get("/api/documents/")
    assert r.status_code == 500
    assert "boom" not in _chinese_detail(r)


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_static_path_that_climbs_out_with_404(server_factory):
    url = server_factory().url
    for path in ("/static/..%2f..%2fvar/yiwangtong.sqlite3", "/static/%2e%2e/%2e%2e/README.md",
                 "/static/..%2f..%2f..%2fetc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + path, timeout=10)
        assert e.value.code == 404, path
        assert "没有找到" in e.value.read().decode()


@pytest.mark.parametrize("url", ["/api/office/units?q=a%00b", "/api/documents/?q=%00", "/api/office/people?q%00=x"])
def test_it_refuses_a_nul_in_the_query_string_with_a_chinese_400(units, county_secretary, quiet_client, url):
    # found by the fuzzer on PostgreSQL, whose text columns cannot hold NUL: a 500 before
    r = quiet_client(county_secretary).get(url)
    assert r.status_code == 400
    assert "NUL" in _chinese_detail(r)


def test_it_refuses_a_nul_in_a_page_query_inside_the_shell(units, county_secretary, quiet_client):
    r = quiet_client(county_secretary).get("/documents/?q=%00")
    assert r.status_code == 400
    assert "NUL" in r.content.decode()


def test_it_refuses_a_nul_deep_in_a_json_body_and_keeps_the_draft(units, county_secretary, quiet_client):
    from documents.models import Document
    from tests.test_documents_support import draft

    paper = draft(county_secretary, title="关于做好冬季防火工作的通知", main=[units["人民路街道"].id])
    body = json.dumps({"body": [{"kind": "p", "text": "第一段"}, {"kind": "p", "text": "x\x00y"}]})  # as \u0000
    r = quiet_client(county_secretary).patch(f"/api/documents/{paper.id}", body, content_type="application/json")
    assert r.status_code == 400
    assert "NUL" in _chinese_detail(r)
    assert Document.objects.get(id=paper.id).version == paper.version


def test_it_takes_the_text_backslash_u0000_which_holds_no_nul(units, county_secretary, quiet_client):
    # the JSON string "C:\\u0000" is a backslash followed by u0000: text, not a NUL (refused before,
    # when the raw body was searched for the escape)
    from documents.models import Document
    from tests.test_documents_support import draft

    paper = draft(county_secretary, title="关于做好冬季防火工作的通知", main=[units["人民路街道"].id])
    title = "关于路径C:\\u0000说明的通知"
    r = quiet_client(county_secretary).patch(f"/api/documents/{paper.id}", json.dumps({"title": title}),
                                             content_type="application/json")
    assert r.status_code == 200, r.content.decode()
    assert Document.objects.get(id=paper.id).title == title


def test_it_refuses_a_nul_in_a_json_body_with_a_chinese_400(units, county_secretary, quiet_client):
    # found by the fuzzer on PostgreSQL: a NUL in the archive export's 全宗 code answered 500
    r = quiet_client(county_secretary).post("/api/documents/archive/export", '{"fonds": "Z1\\u0000", "year": 2026}',
                                            content_type="application/json")
    assert r.status_code == 400
    assert "NUL" in _chinese_detail(r)


@pytest.mark.parametrize("where", ["field", "field name", "file field name"])
def test_it_refuses_a_nul_in_a_page_form_with_a_chinese_400_and_saves_nothing(units, county_secretary,
                                                                              quiet_client, where):
    # a page's form (not the API) posted with a NUL: PostgreSQL cannot store it, so without an
    # early check it ends as a 500 wherever the view writes it
    from django.core.files.uploadedfile import SimpleUploadedFile

    from documents.models import Document
    from meetings.models import Meeting

    before = (Document.objects.count(), Meeting.objects.count())
    data = {"doc_type": "通知", "title": "关于冬季防火的通知", "main": [units["人民路街道"].id]}
    if where == "field":
        data["title"] = "关于冬季\x00防火的通知"
    elif where == "field name":
        data["ti\x00tle"] = "x"
    else:
        data["attach\x00ment"] = SimpleUploadedFile("附件.pdf", b"%PDF-1.4\n", content_type="application/pdf")
    for url in ("/documents/new/", "/meetings/new/"):
        r = quiet_client(county_secretary).post(url, data)
        assert r.status_code == 400, (url, r.status_code)
        assert "NUL" in r.content.decode() and "控制字符" in r.content.decode()
    assert (Document.objects.count(), Meeting.objects.count()) == before
