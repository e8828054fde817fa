"""The JSON API publishes its OpenAPI schema and a docs page served without any CDN."""
import re


def test_it_publishes_the_openapi_schema_with_every_app(units, county_secretary, client_for):
    client = client_for(county_secretary)
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "一网通 API"
    paths = schema["paths"]
    assert "/api/office/me" in paths and "/api/office/units" in paths
    assert any(p.startswith("/api/documents/") for p in paths)
    assert any(p.startswith("/api/meetings/") for p in paths)


def test_it_serves_the_docs_page_from_its_own_static_files(units, county_secretary, client_for):
    page = client_for(county_secretary).get("/api/docs").content.decode()
    # Scripts and stylesheets (the page sits in the suite's shell, so its links to pages are not assets).
    assets = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page) + re.findall(r'<link[^>]*\shref="([^"]+)"', page)
    assert any("swagger-ui" in a for a in assets)
    assert all(a.startswith(("/static/", "/jsi18n/")) and "//" not in a for a in assets), assets


def test_it_answers_malformed_json_with_a_chinese_4xx(units, admin, client_for):
    r = client_for(admin).post("/api/office/units", "{\"kind\": ", content_type="application/json")
    assert 400 <= r.status_code < 500
    assert r.json()["detail"] in ("请求正文不是有效的 JSON。", "请求数据格式不正确。")


def test_it_describes_the_endpoints_in_the_readers_language(units, county_secretary, client_for):
    client = client_for(county_secretary)
    english = client.get("/api/openapi.json", HTTP_ACCEPT_LANGUAGE="en").json()
    chinese = client.get("/api/openapi.json", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    english_again = client.get("/api/openapi.json", HTTP_ACCEPT_LANGUAGE="en").json()
    me_en = english["paths"]["/api/office/me"]["get"]
    me_zh = chinese["paths"]["/api/office/me"]["get"]
    assert me_en["summary"] == "Current user and posts"
    assert me_en["tags"] == ["Organisation"]
    assert english["info"]["description"].startswith("Xianyang")
    assert me_zh["summary"] == "当前用户与岗位"
    assert me_zh["tags"] == ["组织机构"]
    assert english_again["paths"]["/api/office/me"]["get"]["summary"] == "Current user and posts"
