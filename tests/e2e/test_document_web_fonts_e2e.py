"""In a real Chromium, the on-screen 公文 is drawn in the suite's own web fonts: every glyph of the
title, the headings and the body comes from the subset WOFF2 faces the page declares (DevTools'
CSS.getPlatformFontsForNode says which font drew each text node), and a second visit takes them
from the browser's cache."""
import pytest

from tests.conftest import login
from tests.test_documents_support import draft

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BODY = [{"kind": "p", "text": "为切实做好今冬明春火灾防控工作，保障人民群众生命财产安全，现通知如下："},
        {"kind": "h1", "text": "一、压实防火责任"}, {"kind": "h2", "text": "（一）落实属地管理"},
        {"kind": "p", "text": "各镇街要在十二月底前完成隐患排查，整改情况于2027年1月5日前报送。"}]
TITLE = "关于做好冬季防火工作的通知"
NODES = {"YW XiaoBiaoSong": ".doc-paper .doc-title", "YW HeiTi": ".doc-body .b-h1", "YW KaiTi": ".doc-body .b-h2",
         "YW FangSong": ".doc-body .b-p"}


def _fonts_drawing(cdp, selector):
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def test_it_draws_the_document_in_its_own_web_fonts_and_caches_them(
        seed_small, live_server_url, new_page, city_secretary):
    doc = draft(city_secretary, title=TITLE, body=BODY)
    page = new_page(width=1366, height=768)
    login(page, live_server_url, "city_secretary")
    fetched = []
    page.on("requestfinished", lambda r: fetched.append(r.url) if "/fonts/" in r.url else None)
    page.goto(f"{live_server_url}/documents/{doc.id}/")
    loaded = page.evaluate("""async () => { await document.fonts.ready;
        return [...document.fonts].filter(f => f.family.startsWith('"YW ') || f.family.startsWith('YW '))
          .map(f => [f.family.replace(/"/g, ''), f.status]); }""")
    assert sorted(loaded) == sorted([[family, "loaded"] for family in NODES]), loaded
    assert page.evaluate("(t) => document.fonts.check('24px \"YW XiaoBiaoSong\"', t)", TITLE)

    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    for family, selector in NODES.items():
        text = page.locator(selector).first.inner_text().strip()
        used = _fonts_drawing(cdp, selector)
        custom = sum(f["glyphCount"] for f in used if f["isCustomFont"])
        others = [f for f in used if not f["isCustomFont"]]
        assert custom >= len(text.replace(" ", "")) and not others, (family, text, used)

    assert len(fetched) == 4 and all(u.startswith(f"{live_server_url}/documents/{doc.id}/fonts/") for u in fetched)
    fetched.clear()
    page.goto(f"{live_server_url}/documents/")
    page.goto(f"{live_server_url}/documents/{doc.id}/")
    page.evaluate("document.fonts.ready.then(() => true)")
    from_network = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => e.name.includes('/fonts/') && e.transferSize > 0).map(e => e.name)""")
    assert from_network == [], "a second visit takes the fonts from the cache"
