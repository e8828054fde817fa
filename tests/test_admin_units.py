"""The unit tree in the administration pages: one level at a time, search by name or code, and a unit's
page to edit, add below and deactivate, by the tree's rules, with Chinese errors in the form."""
import re

import pytest

from office.models import AuditEntry, Unit, UnitKind
from tests.admin_support import errors

pytestmark = pytest.mark.django_db


def test_it_shows_only_the_top_of_the_tree_and_loads_a_level_when_asked(
        units, admin, client_for, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        page = client.get("/office/admin/units/").content.decode()
    assert "咸阳市人民政府" in page and "/office/admin/units/%d/children/" % units["咸阳市"].id in page
    assert "秦都区人民政府" not in page and "北街村民委员会" not in page  # never the whole tree at once
    with django_assert_max_num_queries(8):
        level = client.get(f"/office/admin/units/{units['人民路街道'].id}/children/").content.decode()
    assert "人民路社区居民委员会" in level and "北街村民委员会" in level and "<html" not in level
    counties = client.get(f"/office/admin/units/{units['咸阳市'].id}/children/").content.decode()
    assert counties.index("秦都区人民政府") < counties.index("咸阳市财政局")  # governments before departments


def test_it_finds_a_village_by_name_or_code_with_its_place_in_the_tree(
        units, admin, client_for, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        page = client.get("/office/admin/units/", {"q": "北街"}).content.decode()
    assert f'href="/office/admin/units/{units["北街村"].id}/"' in page
    assert "秦都区人民政府 › 人民路街道办事处" in page
    page = client.get("/office/admin/units/", {"q": "610424002"}).content.decode()
    assert "薛录镇人民政府" in page and "薛录村民委员会" in page and "北街村民委员会" not in page
    assert "没有匹配的单位" in client.get("/office/admin/units/", {"q": "不存在的村"}).content.decode()


def test_it_edits_a_units_names_and_code_and_records_it(units, admin, client_for):
    village = units["北街村"]
    client = client_for(admin)
    r = client.post(f"/office/admin/units/{village.id}/", {
        "op": "update", "edit-name": "北街社区居民委员会", "edit-short_name": "北街社区", "edit-code": "610402001012",
        "edit-kind": "village", "edit-parent": units["人民路街道"].id})
    assert r.status_code == 302
    village.refresh_from_db()
    assert (village.name, village.short_name, village.code) == ("北街社区居民委员会", "北街社区", "610402001012")
    entry = AuditEntry.objects.filter(action="unit.update").last()
    assert entry.person_id_at == admin.id and entry.data["changes"]["code"] == ["610402001002", "610402001012"]
    page = client.get(r["Location"]).content.decode()
    assert "已保存单位信息" in page and 'value="北街社区居民委员会"' in page


def test_it_moves_a_village_to_another_town_with_its_path(units, admin, client_for):
    village = units["北街村"]
    r = client_for(admin).post(f"/office/admin/units/{village.id}/", {
        "op": "update", "edit-name": village.name, "edit-short_name": village.short_name, "edit-code": village.code,
        "edit-kind": "village", "edit-parent": units["渭阳西路街道"].id})
    assert r.status_code == 302
    village.refresh_from_db()
    assert village.parent_id == units["渭阳西路街道"].id and village.path.startswith(units["渭阳西路街道"].path)


def test_it_refuses_a_wrong_shape_with_chinese_errors_in_the_form(units, admin, client_for):
    client = client_for(admin)
    town = units["人民路街道"]
    base = {"op": "update", "edit-name": town.name, "edit-short_name": town.short_name, "edit-code": town.code,
            "edit-kind": "town", "edit-parent": units["秦都区"].id}
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-kind": "county"})
    assert r.status_code == 400 and any("直接隶属于" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-kind": "village",
                                                         "edit-parent": units["渭阳西路街道"].id})
    assert r.status_code == 409 and any("新的级别不符" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-name": ""})
    assert r.status_code == 400 and "请填写名称。" in errors(r.content.decode())
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-code": "61040200100X"})
    assert r.status_code == 400 and any("6、9或12位数字" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-code": units["渭阳西路街道"].code})
    assert r.status_code == 409 and any("已被其他单位使用" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-parent": "99999999"})
    assert r.status_code == 400 and "请从列表中选择上级单位。" in errors(r.content.decode())
    dept = units["区财政局"]
    r = client.post(f"/office/admin/units/{units['秦都区'].id}/", {
        "op": "update", "edit-name": "秦都区人民政府", "edit-kind": "county", "edit-code": "610402000000",
        "edit-parent": units["咸阳市"].id, "edit-short_name": "秦都区"})
    assert r.status_code == 302  # unchanged: fine
    town.refresh_from_db()
    assert town.kind == UnitKind.TOWN and town.code == "610402001000" and dept.parent_id == units["秦都区"].id


def test_it_refuses_a_cycle(units, admin, client_for):
    client = client_for(admin)
    dept = units["区财政局"]
    r = client.post(f"/office/admin/units/{dept.id}/", {"op": "create_child", "child-name": "预算股",
                                                         "child-kind": "department"})
    assert r.status_code == 302
    sub = Unit.objects.get(name="预算股")
    assert sub.parent_id == dept.id and sub.path.startswith(dept.path)
    # a department may only move under units of its parent's kind: its own child is not offered
    r = client.post(f"/office/admin/units/{dept.id}/", {"op": "update", "edit-name": dept.name, "edit-kind": "department",
                                                         "edit-parent": sub.id})
    assert r.status_code == 400 and "请从列表中选择上级单位。" in errors(r.content.decode())
    assert Unit.objects.get(id=dept.id).parent_id == units["秦都区"].id


def test_it_adds_a_village_under_a_town_and_deactivates_it(units, admin, client_for):
    client = client_for(admin)
    town = units["人民路街道"]
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "create_child", "child-name": "新华村民委员会",
                                                         "child-short_name": "新华村", "child-code": "610402001003",
                                                         "child-kind": "village"})
    assert r.status_code == 302
    village = Unit.objects.get(code="610402001003")
    assert village.parent_id == town.id and village.level == 4
    assert "新华村民委员会" in client.get(f"/office/admin/units/{town.id}/children/").content.decode()
    r = client.post(f"/office/admin/units/{village.id}/", {"op": "dissolve"})
    assert r.status_code == 302
    village.refresh_from_db()
    assert village.dissolved_at is not None
    assert AuditEntry.objects.filter(action="unit.dissolve", object_id=str(village.id), person_id_at=admin.id).exists()
    assert "新华村民委员会" not in client.get(f"/office/admin/units/{town.id}/children/").content.decode()
    page = client.get(f"/office/admin/units/{village.id}/").content.decode()
    assert "已撤销" in page and 'id="dissolve-unit"' not in page


def test_it_refuses_bad_new_units_and_to_deactivate_a_unit_with_live_children(units, admin, client_for):
    client = client_for(admin)
    town = units["人民路街道"]
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "create_child", "child-name": "跳级镇", "child-kind": "town"})
    assert r.status_code == 400 and any("必须直接隶属于" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "create_child", "child-name": "北街村民委员会",
                                                         "child-kind": "village"})
    assert r.status_code == 409 and any("已有名为" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "create_child", "child-name": "长" * 101,
                                                         "child-kind": "village"})
    assert r.status_code == 400 and "名称不能超过100个字符。" in errors(r.content.decode())
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "dissolve"})
    assert r.status_code == 409 and any("下级单位" in e for e in errors(r.content.decode()))
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "nonsense"})
    assert r.status_code == 400
    assert Unit.objects.get(id=town.id).dissolved_at is None and not Unit.objects.filter(name="跳级镇").exists()


def test_it_keeps_a_unit_administrator_inside_their_county(units, client_for):
    from tests.admin_support import unit_admin

    qian = unit_admin(units)
    client = client_for(qian)
    town = units["薛录镇"]
    base = {"op": "update", "edit-name": town.name, "edit-short_name": town.short_name, "edit-code": town.code,
            "edit-kind": "town"}
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-parent": units["秦都区"].id})
    assert r.status_code == 400  # 秦都区 is not among the places offered
    assert Unit.objects.get(id=town.id).parent_id == units["乾县"].id
    r = client.post(f"/office/admin/units/{units['乾县'].id}/", {"op": "dissolve"})
    assert r.status_code == 403 and "最上级单位" in r.content.decode()
    r = client.post(f"/office/admin/units/{units['秦都区'].id}/", {"op": "create_child", "child-name": "外县镇",
                                                                   "child-kind": "town"})
    assert r.status_code == 403 and not Unit.objects.filter(name="外县镇").exists()
    r = client.post(f"/office/admin/units/{town.id}/", {**base, "edit-name": "薛录镇政府", "edit-parent": units["乾县"].id})
    assert r.status_code == 302 and Unit.objects.get(id=town.id).name == "薛录镇政府"


def test_it_shows_a_units_people_with_links_to_add_one_and_to_its_seal_keepers(units, admin, client_for,
                                                                              django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(14):
        page = client.get(f"/office/admin/units/{units['人民路社区'].id}/").content.decode()
    assert "褚书记" in page and "社区书记" in page
    assert f"/office/admin/people/new/?unit={units['人民路社区'].id}" in page
    assert f"/documents/files/seals/{units['人民路社区'].id}/keepers/" in page
    assert client.get("/office/admin/units/99999999/").status_code == 404


def test_it_says_when_the_directory_keeps_a_unit_in_step(units, admin, client_for):
    from office.models import DirectorySync

    client = client_for(admin)
    town = units["人民路街道"]
    assert 'id="unit-from-directory"' not in client.get(f"/office/admin/units/{town.id}/").content.decode()
    DirectorySync.objects.create(status=DirectorySync.Status.OK, summary={"unit_ids": [town.id]})
    assert 'id="unit-from-directory"' in client.get(f"/office/admin/units/{town.id}/").content.decode()
    assert 'id="unit-from-directory"' not in client.get(f"/office/admin/units/{units['北街村'].id}/").content.decode()


def test_it_keeps_the_directorys_fields_of_a_directory_unit_and_says_where_to_change_them(units, admin, client_for):
    from office import actions
    from office.errors import ActionError
    from office.models import DirectorySync

    town = units["人民路街道"]
    name, code = town.name, town.code
    DirectorySync.objects.create(status=DirectorySync.Status.OK, summary={"unit_ids": [town.id]})
    client = client_for(admin)
    page = client.get(f"/office/admin/units/{town.id}/").content.decode()
    assert "只能在目录中修改" in page and 'id="dissolve-unit"' not in page
    assert re.search(r'<input[^>]*name="edit-name"[^>]*disabled', page)
    # a hand-made post changing the name and code: the directory's values stay; the short name is local
    r = client.post(f"/office/admin/units/{town.id}/", {
        "op": "update", "edit-name": "改名街道", "edit-short_name": "人民路", "edit-code": "610402999999",
        "edit-kind": town.kind, "edit-parent": town.parent_id})
    assert r.status_code == 302
    town.refresh_from_db()
    assert (town.name, town.short_name, town.code) == (name, "人民路", code)
    r = client.post(f"/office/admin/units/{town.id}/", {"op": "dissolve"})
    assert r.status_code == 409 and "目录" in r.content.decode()
    town.refresh_from_db()
    assert town.dissolved_at is None
    # the actions refuse a person, whatever page or API calls them; the sync itself (actor None) may
    with pytest.raises(ActionError) as exc:
        actions.do_update_unit(actor=admin, unit=town, name="改名街道", kind=town.kind, parent=town.parent,
                               code=town.code, short_name=town.short_name)
    assert exc.value.status == 409 and "统一身份认证目录" in exc.value.message
    with pytest.raises(ActionError):
        actions.do_move_unit(actor=admin, unit=town, new_parent=units["秦都区"])
    assert actions.do_update_unit(actor=None, unit=town, name="改名街道", kind=town.kind, parent=town.parent,
                                  code=town.code, short_name=town.short_name).name == "改名街道"
    # a unit the directory does not keep is edited here as before
    village = units["北街村"]
    r = client.post(f"/office/admin/units/{village.id}/", {
        "op": "update", "edit-name": "北街社区居民委员会", "edit-short_name": "北街社区", "edit-code": village.code,
        "edit-kind": "village", "edit-parent": village.parent_id})
    assert r.status_code == 302
    village.refresh_from_db()
    assert village.name == "北街社区居民委员会"
