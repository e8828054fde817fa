"""The document page sets the 公文 in the paper's faces: subset WOFF2 web fonts of this document's
characters (小标宋 title, 仿宋 body, 黑体/楷体 headings), served locally, kept a year by the reader's
browser, and only to those who may read the document."""
import io
import re

import pytest
from fontTools.ttLib import TTFont

from tests.test_documents_support import draft

pytestmark = pytest.mark.django_db

BODY = [{"kind": "p", "text": "为切实做好今冬明春火灾防控工作，保障人民群众生命财产安全，现通知如下："},
        {"kind": "h1", "text": "一、压实防火责任"}, {"kind": "h2", "text": "（一）落实属地管理"},
        {"kind": "p", "text": "各镇街要在十二月底前完成隐患排查，整改情况于2027年1月5日前报送市应急管理局。"}]
TITLE = "关于做好冬季防火工作的通知"


def _faces(page_html):
    return dict(re.findall(r'@font-face\{font-family:"([^"]+)";src:url\("([^"]+)"\)', page_html))


def _codepoints(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    assert resp["Content-Type"] == "font/woff2"
    assert "max-age=31536000" in resp["Cache-Control"] and "immutable" in resp["Cache-Control"]
    assert "private" in resp["Cache-Control"], "a document's characters are not for shared caches"
    data = b"".join(resp.streaming_content) if resp.streaming else resp.content
    assert data[:4] == b"wOF2"
    font = TTFont(io.BytesIO(data))
    assert font.flavor == "woff2"
    return set(font.getBestCmap()), len(data)


def test_it_serves_each_face_of_the_paper_with_every_character_it_shows(
        city_secretary, client_for):
    doc = draft(city_secretary, title=TITLE, body=BODY)
    client = client_for(city_secretary)
    page = client.get(f"/documents/{doc.id}/").content.decode()
    faces = _faces(page)
    assert set(faces) == {"YW XiaoBiaoSong", "YW FangSong", "YW HeiTi", "YW KaiTi"}
    assert all(u.startswith(f"/documents/{doc.id}/fonts/") for u in faces.values()), "served locally"

    title, size = _codepoints(client, faces["YW XiaoBiaoSong"])
    assert {ord(c) for c in TITLE + doc.unit.name} <= title
    assert size < 60_000, "the title face holds the title's characters, not the whole repertoire"
    body, _size = _codepoints(client, faces["YW FangSong"])
    text = "".join(b["text"] for b in BODY if b["kind"] == "p")
    assert {ord(c) for c in text} <= body, "every character of the body"
    heading, _size = _codepoints(client, faces["YW HeiTi"])
    assert {ord(c) for c in "一、压实防火责任"} <= heading
    kai, _size = _codepoints(client, faces["YW KaiTi"])
    assert {ord(c) for c in "（一）落实属地管理"} <= kai


def test_it_gives_an_edited_document_new_font_addresses(city_secretary, client_for):
    from django.core.cache import cache

    from documents import actions
    from tests.test_documents_support import post_of

    cache.clear()  # the subsets other tests made for the same document id
    doc = draft(city_secretary, title=TITLE, body=BODY)
    client = client_for(city_secretary)
    before = _faces(client.get(f"/documents/{doc.id}/").content.decode())
    data = {"title": "关于做好春季森林防火工作的通知", "doc_type": "通知", "body": BODY}
    actions.do_update_document(person=city_secretary, post=post_of(city_secretary), doc=doc, data=data)
    after = _faces(client.get(f"/documents/{doc.id}/").content.decode())
    assert after["YW XiaoBiaoSong"] != before["YW XiaoBiaoSong"]
    assert after["YW FangSong"] == before["YW FangSong"], "the body did not change"
    assert {ord(c) for c in "春森林"} <= _codepoints(client, after["YW XiaoBiaoSong"])[0]
    resp = client.get(before["YW XiaoBiaoSong"])
    assert resp.status_code == 404 and "刷新" in resp.content.decode()


def test_it_refuses_a_documents_fonts_to_someone_who_may_not_read_it(city_secretary, village_cadre, client_for):
    doc = draft(city_secretary, title=TITLE, body=BODY)
    url = _faces(client_for(city_secretary).get(f"/documents/{doc.id}/").content.decode())["YW FangSong"]
    assert client_for(village_cadre).get(url).status_code == 404
    assert client_for(city_secretary).get(url.replace("fangsong", "songti")).status_code == 404
