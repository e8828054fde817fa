"""Delegations (代理授权) in the administration pages: the list with each one's state, a new one for a
leader in two steps (the leader, then a deputy of the same government and the period), and ending one."""
from datetime import timedelta

import pytest
from django.utils import timezone

from office import actions
from office.models import AuditEntry, Delegation, Post
from tests.admin_support import errors, unit_admin

pytestmark = pytest.mark.django_db


def _local(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def test_it_lists_delegations_with_their_state(units, admin, city_leader, city_deputy, county_leader, county_secretary,
                                               client_for, django_assert_max_num_queries):
    now = timezone.now()
    leader, deputy = Post.objects.get(person=city_leader), Post.objects.get(person=city_deputy)
    actions.do_delegate(actor=city_leader, from_post=leader, to_post=deputy, starts_at=now - timedelta(hours=1),
                        ends_at=now + timedelta(days=2), reason="外出学习")
    actions.do_delegate(actor=county_leader, from_post=Post.objects.get(person=county_leader),
                        to_post=Post.objects.get(person=county_secretary), starts_at=now + timedelta(days=1),
                        ends_at=now + timedelta(days=3))
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        page = client.get("/office/admin/delegations/").content.decode()
    assert "李副市长 代 张市长 签发" in page and "生效中" in page and "外出学习" in page
    assert "吴秘书 代 周区长 签发" in page and "未开始" in page
    qian = client_for(unit_admin(units)).get("/office/admin/delegations/").content.decode()
    assert "张市长" not in qian and "周区长" not in qian  # another county's, and the city's


def test_it_creates_a_delegation_for_a_leader_in_two_steps(units, admin, county_leader, county_secretary, client_for):
    client = client_for(admin)
    leader = Post.objects.get(person=county_leader)
    page = client.get("/office/admin/delegations/").content.decode()
    assert f'<option value="{leader.id}">周区长 · 秦都区人民政府' in page
    page = client.get("/office/admin/delegations/", {"from_post": leader.id}).content.decode()
    deputy = Post.objects.get(person=county_secretary)
    assert f'value="{deputy.id}"' in page and "张市长" not in page.split('id="new-delegation"')[1].split("</section>")[0]
    start = timezone.now() + timedelta(hours=1)
    r = client.post("/office/admin/delegations/", {
        "op": "create", "from_post": leader.id, "to_post": deputy.id, "starts_at": _local(start),
        "ends_at": _local(start + timedelta(days=2)), "reason": "赴省开会"})
    assert r.status_code == 302
    d = Delegation.objects.get(from_post=leader)
    assert d.to_post_id == deputy.id and d.reason == "赴省开会" and abs((d.starts_at - start).total_seconds()) < 60
    assert AuditEntry.objects.filter(action="delegation.create", person_id_at=admin.id).exists()


def test_it_ends_a_delegation_now(units, admin, city_leader, city_deputy, client_for):
    now = timezone.now()
    deputy = Post.objects.get(person=city_deputy)
    d = actions.do_delegate(actor=city_leader, from_post=Post.objects.get(person=city_leader), to_post=deputy,
                            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2))
    client = client_for(admin)
    r = client.post("/office/admin/delegations/", {"op": "end", "delegation": d.id})
    assert r.status_code == 302
    assert Delegation.objects.get(id=d.id).revoked_at is not None and not Delegation.acting_for(deputy).exists()
    assert AuditEntry.objects.filter(action="delegation.end", object_id=str(d.id)).exists()
    page = client.get("/office/admin/delegations/").content.decode()
    assert "已撤销" in page and 'name="delegation"' not in page
    r = client.post("/office/admin/delegations/", {"op": "end", "delegation": d.id})
    assert r.status_code == 409 and "该代理授权已撤销。" in errors(r.content.decode())


def test_it_refuses_a_delegation_that_makes_no_sense_with_chinese_errors(units, admin, city_leader, city_deputy,
                                                                         county_secretary, client_for):
    client = client_for(admin)
    leader, deputy = Post.objects.get(person=city_leader), Post.objects.get(person=city_deputy)
    start = timezone.now() + timedelta(hours=1)
    base = {"op": "create", "from_post": leader.id, "to_post": deputy.id, "starts_at": _local(start),
            "ends_at": _local(start + timedelta(days=1))}
    r = client.post("/office/admin/delegations/", {**base, "ends_at": _local(start - timedelta(hours=2))})
    assert r.status_code == 400 and "结束时间必须晚于开始时间。" in errors(r.content.decode())
    r = client.post("/office/admin/delegations/", {**base, "starts_at": "明天"})
    assert r.status_code == 400 and "开始时间格式不正确。" in errors(r.content.decode())
    r = client.post("/office/admin/delegations/", {**base, "to_post": Post.objects.get(person=county_secretary).id})
    assert r.status_code == 400 and "请从列表中选择受托人。" in errors(r.content.decode())
    r = client.post("/office/admin/delegations/", {**base, "from_post": deputy.id + 10000})
    assert r.status_code == 400 and "请从列表中选择委托人。" in errors(r.content.decode())
    assert not Delegation.objects.exists()
