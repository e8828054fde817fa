"""People in the administration pages: search, add a person with a post, edit them, give and end posts;
a directory (LDAP) person's fields are the directory's and read-only; Chinese errors in the form."""
import pytest

from office.models import AuditEntry, Person, Post
from tests.admin_support import errors, unit_admin

pytestmark = pytest.mark.django_db

NEW = {"display_name": "孔文书", "username": "kong_wenshu", "phone": "029-33210088", "password": "Chushi-2026!",
       "is_active": "on", "title": "村文书", "roles": ["secretary", "handler"]}


def test_it_finds_people_by_name_user_name_or_phone_with_their_posts(
        units, admin, client_for, django_assert_max_num_queries):
    Person.objects.filter(username="village_cadre2").update(phone="029-33219999")
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        page = client.get("/office/admin/people/").content.decode()
    assert "张市长" in page and "褚书记" in page and "人民路社区居民委员会" in page
    for q in ("卫文书", "village_cadre2", "33219999"):
        page = client.get("/office/admin/people/", {"q": q}).content.decode()
        assert "卫文书" in page and "北街村民委员会" in page and "张市长" not in page, q
    assert "没有匹配的人员" in client.get("/office/admin/people/", {"q": "查无此人"}).content.decode()


def test_it_adds_a_person_with_a_post_from_the_villages_page(units, admin, client_for):
    village = units["北街村"]
    client = client_for(admin)
    form = client.get(f"/office/admin/people/new/", {"unit": village.id}).content.decode()
    assert 'value="610402001002"' in form  # the unit the page was opened from
    r = client.post("/office/admin/people/new/", {**NEW, "unit": village.code, "unit_id": village.id})
    assert r.status_code == 302, errors(r.content.decode())
    person = Person.objects.get(username="kong_wenshu")
    assert person.display_name == "孔文书" and person.phone == "029-33210088" and person.check_password("Chushi-2026!")
    post = Post.objects.get(person=person)
    assert post.unit_id == village.id and post.roles == ["secretary", "handler"] and post.title == "村文书"
    assert AuditEntry.objects.filter(action="person.create", person_id_at=admin.id).exists()
    assert AuditEntry.objects.filter(action="post.create", person_id_at=admin.id).exists()
    assert "孔文书" in client.get(f"/office/admin/units/{village.id}/").content.decode()


def test_it_edits_a_person_and_deactivates_them(units, admin, village_cadre2, client_for):
    client = client_for(admin)
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {
        "op": "update", "person-display_name": "卫小文", "person-username": "wei_xiaowen",
        "person-phone": "13800000000"})
    assert r.status_code == 302
    person = Person.objects.get(id=village_cadre2.id)
    assert (person.display_name, person.username, person.phone, person.is_active) == (
        "卫小文", "wei_xiaowen", "13800000000", False)
    entry = AuditEntry.objects.filter(action="person.deactivate").last()
    assert entry.person_id_at == admin.id and entry.data["changes"]["display_name"] == ["卫文书", "卫小文"]
    page = client.get(r["Location"]).content.decode()
    assert "已保存人员信息" in page and "已停用" in page


def test_it_refuses_bad_person_input_with_chinese_errors(units, admin, village_cadre2, client_for):
    client = client_for(admin)
    r = client.post("/office/admin/people/new/", {**NEW, "display_name": "", "unit": units["北街村"].code})
    assert r.status_code == 400 and "请填写姓名。" in errors(r.content.decode())
    r = client.post("/office/admin/people/new/", {**NEW, "username": "village_cadre", "unit": units["北街村"].code})
    assert r.status_code == 409 and any("已存在" in e for e in errors(r.content.decode()))
    r = client.post("/office/admin/people/new/", {**NEW, "phone": "电话号码", "unit": units["北街村"].code})
    assert r.status_code == 400 and any("电话号码只能包含" in e for e in errors(r.content.decode()))
    r = client.post("/office/admin/people/new/", {**NEW, "unit": "没有这个单位"})
    assert r.status_code == 404 and any("没有找到单位" in e for e in errors(r.content.decode()))
    r = client.post("/office/admin/people/new/", {**NEW, "password": "short", "unit": units["北街村"].code})
    assert r.status_code == 400 and "初始密码至少8位。" in errors(r.content.decode())
    r = client.post("/office/admin/people/new/", {**NEW, "roles": ["mayor"], "unit": units["北街村"].code})
    assert r.status_code == 400 and "未知的角色。" in errors(r.content.decode())
    assert not Person.objects.filter(display_name="孔文书").exists()
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {
        "op": "update", "person-display_name": "卫文书", "person-username": "has space", "person-is_active": "on"})
    assert r.status_code == 400 and "用户名不能包含空格。" in errors(r.content.decode())
    r = client.post(f"/office/admin/people/{admin.id}/", {
        "op": "update", "person-display_name": "系统管理员", "person-username": "admin"})
    assert r.status_code == 409 and "不能停用自己的账号。" in errors(r.content.decode())
    assert Person.objects.get(id=admin.id).is_active


def test_it_gives_and_ends_a_post(units, admin, village_cadre2, client_for):
    client = client_for(admin)
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {
        "op": "add_post", "post-unit": "人民路街道", "post-title": "兼职联络员", "post-roles": ["handler"]})
    assert r.status_code == 302
    post = Post.objects.get(person=village_cadre2, unit=units["人民路街道"])
    assert post.active and post.roles == ["handler"] and post.title == "兼职联络员"
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {"op": "end_post", "post": post.id})
    assert r.status_code == 302
    assert not Post.objects.get(id=post.id).active
    assert AuditEntry.objects.filter(action="post.end", object_id=str(post.id), person_id_at=admin.id).exists()
    page = client.get(f"/office/admin/people/{village_cadre2.id}/").content.decode()
    assert "已结束" in page
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {"op": "add_post", "post-unit": ""})
    assert r.status_code == 400 and "请填写单位。" in errors(r.content.decode())


def test_it_shows_what_the_directory_owns_as_read_only(units, admin, village_cadre2, client_for):
    Person.objects.filter(id=village_cadre2.id).update(source="ldap", ldap_dn="uid=wei,ou=people,dc=xy")
    Post.objects.filter(person=village_cadre2).update(source="ldap")
    client = client_for(admin)
    page = client.get(f"/office/admin/people/{village_cadre2.id}/").content.decode()
    assert 'id="directory-owned"' in page and "<fieldset disabled" in page
    assert 'value="end_post"' not in page  # the directory's post is the directory's to end
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {
        "op": "update", "person-display_name": "改名", "person-username": "village_cadre2", "person-is_active": "on"})
    assert r.status_code == 409 and any("目录" in e for e in errors(r.content.decode()))
    post = Post.objects.get(person=village_cadre2)
    r = client.post(f"/office/admin/people/{village_cadre2.id}/", {"op": "end_post", "post": post.id})
    assert r.status_code == 409 and Post.objects.get(id=post.id).active
    assert Person.objects.get(id=village_cadre2.id).display_name == "卫文书"


def test_it_keeps_a_unit_administrator_to_their_countys_people(units, outsider, village_cadre2, client_for):
    qian = unit_admin(units)
    client = client_for(qian)
    assert client.get(f"/office/admin/people/{outsider.id}/").status_code == 200
    assert client.get(f"/office/admin/people/{village_cadre2.id}/").status_code == 403
    r = client.post("/office/admin/people/new/", {**NEW, "unit": units["北街村"].code})
    assert r.status_code == 404 and any("管理范围" in e for e in errors(r.content.decode()))
    r = client.post("/office/admin/people/new/", {**NEW, "unit": ""})
    assert r.status_code == 400 and "请填写人员所在的单位。" in errors(r.content.decode())
    r = client.post(f"/office/admin/people/{outsider.id}/", {"op": "add_post", "post-unit": units["北街村"].code,
                                                             "post-roles": ["handler"]})
    assert r.status_code == 404 and not Post.objects.filter(person=outsider, unit=units["北街村"]).exists()
    r = client.post("/office/admin/people/new/", {**NEW, "unit": units["薛录村"].code})
    assert r.status_code == 302 and Post.objects.get(person__username="kong_wenshu").unit_id == units["薛录村"].id


def test_it_stores_the_user_name_in_the_form_sign_in_uses_so_the_new_person_can_sign_in(units, admin, client_for):
    from django.test import Client

    r = client_for(admin).post("/office/admin/people/new/", {**NEW, "username": "Kong_WenShu",
                                                             "unit": units["北街村"].code})
    assert r.status_code == 302
    assert Person.objects.get(display_name="孔文书").username == "kong_wenshu"
    signed_in = Client().post("/login/", {"username": "Kong_WenShu", "password": NEW["password"]})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
