"""People hold several posts and switch between them; leaders delegate sign-off for a period."""
from datetime import timedelta

import pytest
from django.utils import timezone

from office import actions
from office.errors import ActionError
from office.models import AuditEntry, Delegation, Post


def test_it_switches_between_a_persons_posts(units, county_leader, admin, client_for):
    second = actions.do_set_post(actor=admin, person=county_leader, unit=units["区财政局"], roles=["leader"])
    client = client_for(county_leader)
    me = client.get("/api/office/me").json()
    assert len(me["posts"]) == 2
    r = client.post("/post/switch/", {"post": second.id})
    assert r.status_code == 302
    assert client.get("/api/office/me").json()["current_post"]["unit_name"] == "秦都区财政局"
    assert AuditEntry.objects.filter(action="post.switch", post_id_at=second.id).exists()


def test_it_refuses_to_switch_to_someone_elses_post(units, county_leader, town_leader, client_for):
    other = Post.objects.get(person=town_leader)
    client = client_for(county_leader)
    client.post("/post/switch/", {"post": other.id})
    assert client.get("/api/office/me").json()["current_post"]["unit_name"] == "秦都区人民政府"


def test_it_records_role_changes_in_the_audit_log(units, town_secretary, admin):
    actions.do_set_post(actor=admin, person=town_secretary, unit=units["人民路街道"], roles=["secretary", "archivist"])
    entry = AuditEntry.objects.filter(action="post.update").last()
    assert entry.data == {"before": ["secretary"], "after": ["secretary", "archivist"]}
    assert entry.person_id_at == admin.id


def test_it_delegates_sign_off_for_a_date_range(units, city_leader, city_deputy, client_for):
    now = timezone.now()
    deputy_post = Post.objects.get(person=city_deputy)
    r = client_for(city_leader).post("/api/office/delegations", {
        "to_post_id": deputy_post.id, "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=3)).isoformat(),
        "reason": "外出学习"}, content_type="application/json")
    assert r.status_code == 201, r.content
    acting = Delegation.acting_for(deputy_post)
    assert [d.from_post.person_id for d in acting] == [city_leader.id]
    todo = client_for(city_deputy).get("/api/office/todo").json()
    assert todo["count"] == 1 and "张市长" in todo["items"][0]["title"]
    assert Delegation.acting_for(deputy_post, when=now + timedelta(days=4)).count() == 0


def test_it_refuses_a_delegation_that_makes_no_sense(units, city_leader, county_secretary, city_deputy, client_for):
    now = timezone.now()
    client = client_for(city_leader)
    post = lambda to, s, e: client.post("/api/office/delegations", {  # noqa: E731
        "to_post_id": to, "starts_at": s.isoformat(), "ends_at": e.isoformat()}, content_type="application/json")
    deputy = Post.objects.get(person=city_deputy).id
    r = post(deputy, now, now - timedelta(hours=1))
    assert r.status_code == 400 and "结束时间" in r.json()["detail"]
    r = post(Post.objects.get(person=county_secretary).id, now, now + timedelta(days=1))
    assert r.status_code == 400 and "本单位" in r.json()["detail"]
    r = client_for(county_secretary).post("/api/office/delegations", {
        "to_post_id": deputy, "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()},
        content_type="application/json")
    assert r.status_code == 403
    assert Delegation.objects.count() == 0


def test_it_refuses_unknown_roles(units, town_secretary, admin):
    with pytest.raises(ActionError, match="未知的角色"):
        actions.do_set_post(actor=admin, person=town_secretary, unit=units["人民路街道"], roles=["king"])


def test_it_lets_a_leader_delegate_through_the_my_posts_page(units, city_leader, city_deputy, client_for):
    deputy_post = Post.objects.get(person=city_deputy)
    client = client_for(city_leader)
    page = client.get("/me/").content.decode()
    assert "委托代签" in page and "李副市长" in page
    r = client.post("/me/", {"to_post": deputy_post.id, "starts_at": "2030-01-01T08:00", "ends_at": "2030-01-05T18:00",
                             "reason": "出差"})
    assert r.status_code == 302
    d = Delegation.objects.get()
    assert timezone.localtime(d.starts_at).hour == 8 and d.to_post_id == deputy_post.id
    r = client.post("/me/", {"to_post": deputy_post.id, "starts_at": "garbage", "ends_at": ""})
    assert r.status_code == 400 and "起止时间" in r.content.decode()
    page = client_for(city_deputy).get("/me/").content.decode()
    assert "张市长" in page and "出差" in page
