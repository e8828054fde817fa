"""The four-level tree refuses wrong shapes with clear errors and never half-writes."""
import json

import pytest

from office import actions
from office.errors import ActionError
from office.models import Unit, UnitKind


def test_it_refuses_a_village_straight_under_a_county(units, admin):
    with pytest.raises(ActionError, match="必须直接隶属于"):
        actions.do_create_unit(actor=admin, parent=units["秦都区"], kind=UnitKind.VILLAGE, name="跳级村民委员会")
    assert not Unit.objects.filter(name="跳级村民委员会").exists()


def test_it_refuses_a_second_city(units, admin):
    with pytest.raises(ActionError, match="只能有一个市级单位"):
        actions.do_create_unit(actor=admin, parent=None, kind=UnitKind.CITY, name="宝鸡市人民政府")


def test_it_refuses_a_cycle(units, admin):
    with pytest.raises(ActionError, match="环"):
        actions.do_move_unit(actor=admin, unit=units["区财政局"], new_parent=units["区财政局"])
    dept = actions.do_create_unit(actor=admin, parent=units["区财政局"], kind=UnitKind.DEPARTMENT, name="预算股")
    with pytest.raises(ActionError, match="环"):
        actions.do_move_unit(actor=admin, unit=units["区财政局"], new_parent=dept)


def test_it_keeps_levels_and_paths_for_the_whole_tree(units):
    village = units["人民路社区"]
    assert village.level == 4 and units["人民路街道"].level == 3 and units["秦都区"].level == 2
    assert units["市财政局"].level == 1 and units["市财政局"].government.id == units["咸阳市"].id
    assert [u.id for u in village.ancestors()] == [units["咸阳市"].id, units["秦都区"].id, units["人民路街道"].id]
    below = set(units["秦都区"].descendants().values_list("id", flat=True))
    assert village.id in below and units["乾县"].id not in below


def test_it_dissolves_a_unit_without_losing_it(units, admin):
    actions.do_dissolve_unit(actor=admin, unit=units["北街村"])
    unit = Unit.objects.get(id=units["北街村"].id)
    assert unit.dissolved_at is not None
    assert unit.posts.count() == 1  # its people and posts stay as history
    with pytest.raises(ActionError, match="有下级单位|下级单位"):
        actions.do_dissolve_unit(actor=admin, unit=units["人民路街道"])


def test_it_refuses_bad_unit_input_through_the_api(units, admin, client_for):
    client = client_for(admin)
    post = lambda body: client.post("/api/office/units", body, content_type="application/json")  # noqa: E731
    r = post({"parent_id": units["人民路街道"].id, "kind": "village", "name": "  "})
    assert r.status_code == 400 and "不能为空" in r.json()["detail"]
    r = post({"parent_id": units["人民路街道"].id, "kind": "village", "name": "长" * 101})
    assert r.status_code == 400 and "100" in r.json()["detail"]
    r = post({"parent_id": units["人民路街道"].id, "kind": "village", "name": "新村", "code": "610402001001"})
    assert r.status_code == 409 and "已被其他单位使用" in r.json()["detail"]
    r = post({"parent_id": 999999, "kind": "village", "name": "新村"})
    assert r.status_code == 404 and "上级单位不存在" in r.json()["detail"]
    r = post({"parent_id": units["人民路街道"].id, "kind": "hamlet", "name": "新村"})
    assert r.status_code == 400 and "未知的单位类型" in r.json()["detail"]
    r = client.post("/api/office/units", "{not json", content_type="application/json")
    assert r.status_code in (400, 422) and r.json()["detail"]
    assert not Unit.objects.filter(name="新村").exists()
    r = post({"parent_id": units["人民路街道"].id, "kind": "village", "name": "新村", "code": "610402001009"})
    assert r.status_code == 201 and r.json()["level"] == 4


def test_it_lets_only_administrators_change_the_tree(units, county_secretary, client_for):
    r = client_for(county_secretary).post("/api/office/units", json.dumps(
        {"parent_id": units["人民路街道"].id, "kind": "village", "name": "新村"}), content_type="application/json")
    assert r.status_code == 403 and "系统管理员" in r.json()["detail"]
