"""The archive's settings as page forms: the 全宗 (code, name, 立档单位), each unit's setting (which
全宗 a village goes into under 代管, 请示 and 批复 as one 件 or two) and the 保管期限表 — for the
全宗's 档案员 and administrators only, with Chinese refusals."""
import pytest

from documents.archive import assemble
from documents.archive.models import Fonds, RetentionRule, UnitSetting
from tests.archive_support import filed_sent, isolated_files, with_fonds  # noqa: F401

DO = "/documents/archive/do/"


@pytest.fixture
def fonds(seed_small):
    with_fonds()
    return Fonds.objects.get(code="Z001")


def test_the_archivist_renames_the_fonds_from_the_page(fonds, archivist, client_for):
    c = client_for(archivist)
    page = c.get("/documents/archive/settings/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="fonds-form"' in text and "咸阳市人民政府" in text
    assert 'id="fonds-create"' not in text  # setting up a 全宗 is for administrators
    resp = c.post(DO, {"op": "fonds-update", "fonds": "Z001", "code": "Z001", "name": "咸阳市人民政府全宗",
                       "back": "/documents/archive/settings/?fonds=Z001"})
    assert resp.status_code == 302 and resp["Location"].endswith("?fonds=Z001")
    assert Fonds.objects.get(id=fonds.id).name == "咸阳市人民政府全宗"


def test_a_fonds_code_in_use_by_an_archival_code_cannot_change(fonds, units, city_secretary, city_leader, archivist,
                                                               client_for):
    from documents.archive import actions

    item = filed_sent(city_secretary, city_leader, title="关于全宗号测试的通知", main=[units["秦都区"].id])
    actions.do_accept(person=archivist, item_id=item.id)
    c = client_for(archivist)
    assert "全宗号已用于档号" in c.get("/documents/archive/settings/").content.decode()
    resp = c.post(DO, {"op": "fonds-update", "fonds": "Z001", "code": "Z009", "name": fonds.name})
    assert resp.status_code == 409 and "该全宗号已用于档号，不能修改" in resp.content.decode()
    assert Fonds.objects.get(id=fonds.id).code == "Z001"


def test_an_administrator_sets_up_a_fonds_for_a_unit_from_the_page(fonds, admin, units, client_for):
    c = client_for(admin)
    village = units["北街村"]
    text = c.get("/documents/archive/settings/").content.decode()
    assert 'id="fonds-create"' in text and "北街村" in text
    resp = c.post(DO, {"op": "fonds-create", "code": "Z10112", "name": "北街村档案", "unit": village.id})
    assert resp.status_code == 302 and "fonds=Z10112" in resp["Location"]
    made = Fonds.objects.get(code="Z10112")
    assert made.unit_id == village.id and assemble.fonds_for(village) == made
    bad = c.post(DO, {"op": "fonds-create", "code": "北街", "name": "x", "unit": village.id})
    assert bad.status_code == 400 and "全宗号只能由英文字母和数字组成" in bad.content.decode()


def test_the_town_archivist_sets_a_villages_fonds_and_request_with_reply(seed_small, units, client_for):
    from office.models import Person, Post

    with_fonds()
    town = units["人民路街道"]
    village = units["北街村"]
    keeper = Person.objects.create_user("town_keeper", "x", display_name="孔档案")
    Post.objects.create(person=keeper, unit=town, title="档案员", is_archivist=True)
    c = client_for(keeper)
    text = c.get("/documents/archive/settings/").content.decode()
    assert 'id="unit-settings"' in text and "北街村" in text and "合为一件" in text
    resp = c.post(DO, {"op": "setting", "fonds": "Z1011", "unit": village.id, "target": "Z1011",
                       "request_with_reply": "0", "back": "/documents/archive/settings/?fonds=Z1011"})
    assert resp.status_code == 302
    s = UnitSetting.objects.get(unit=village)
    assert s.request_with_reply is False and s.fonds.code == "Z1011"
    assert not assemble.request_with_reply(village)
    away = c.post(DO, {"op": "setting", "fonds": "Z1011", "unit": village.id, "target": "Z001"})
    assert away.status_code == 403 and "档案员" in away.content.decode()  # not their 全宗 to receive it


def test_people_who_keep_no_fonds_are_refused_in_chinese(fonds, city_secretary, county_secretary, client_for):
    for person in (city_secretary, county_secretary):
        c = client_for(person)
        page = c.get("/documents/archive/settings/")
        assert page.status_code == 403 and "只有本全宗的档案员或系统管理员" in page.content.decode()
        resp = c.post(DO, {"op": "fonds-update", "fonds": "Z001", "code": "Z001", "name": "改名"})
        assert resp.status_code == 403
    assert Fonds.objects.get(id=fonds.id).name != "改名"


def test_the_archivist_edits_the_retention_schedule_on_a_phone_friendly_form(fonds, archivist, city_secretary,
                                                                             client_for):
    c = client_for(archivist)
    page = c.get("/documents/archive/manage/").content.decode()
    assert 'id="rule-form"' in page and 'class="grid-form" id="rule-form"' in page
    assert 'class="table cards" id="rules-table"' in page
    resp = c.post(DO, {"op": "rule", "fonds": "Z001", "order": "1", "doc_type": "通知", "direction": "sent",
                       "keyword": "安全生产", "retention": "Y", "note": "安全生产类发文永久"})
    assert resp.status_code == 302
    rule = RetentionRule.objects.get(fonds=fonds, keyword="安全生产")
    assert assemble.suggest_retention(fonds, doc_type="通知", direction="sent", sender_level=1,
                                      title="关于安全生产大检查的通知")[0] == "Y"
    page = c.get("/documents/archive/manage/").content.decode()
    assert 'name="op" value="rule-update"' in page and f'name="rule" value="{rule.id}"' in page
    changed = c.post(DO, {"op": "rule-update", "fonds": "Z001", "rule": rule.id, "order": "1", "doc_type": "通知",
                          "direction": "sent", "keyword": "安全生产", "retention": "D30", "note": "改为30年"})
    assert changed.status_code == 302
    assert RetentionRule.objects.get(id=rule.id).retention == "D30"
    assert assemble.suggest_retention(fonds, doc_type="通知", direction="sent", sender_level=1,
                                      title="关于安全生产大检查的通知")[0] == "D30"
    bad = c.post(DO, {"op": "rule-update", "fonds": "Z001", "rule": rule.id, "retention": "D99"})
    assert bad.status_code == 400 and RetentionRule.objects.get(id=rule.id).retention == "D30"
    bad = c.post(DO, {"op": "rule", "fonds": "Z001", "retention": "D99"})
    assert bad.status_code == 400 and "保管期限只能是" in bad.content.decode()
    refused = client_for(city_secretary).post(DO, {"op": "rule-delete", "fonds": "Z001", "rule": rule.id})
    assert refused.status_code == 403 and RetentionRule.objects.filter(id=rule.id).exists()


def test_the_same_fonds_changes_go_through_the_api(fonds, archivist, admin, units, county_secretary, client_for):
    api = "/api/documents/archive/fonds"
    resp = client_for(archivist).patch(f"{api}/Z001", {"name": "咸阳市人民政府（全宗）"},
                                       content_type="application/json")
    assert resp.status_code == 200 and resp.json()["name"] == "咸阳市人民政府（全宗）"
    refused = client_for(county_secretary).patch(f"{api}/Z001", {"name": "x"}, content_type="application/json")
    assert refused.status_code == 403
    made = client_for(admin).post(api, {"code": "Z10113", "unit_id": units["北街村"].id},
                                  content_type="application/json")
    assert made.status_code == 201 and made.json()["unit"] == units["北街村"].name
    again = client_for(archivist).post(api, {"code": "Z10114", "unit_id": units["人民路社区"].id},
                                       content_type="application/json")
    assert again.status_code == 403
