"""Fixity alerts reach the 档案员's 待办 (the workbench's to-do panel, the 待办 API and its badge),
not only the management page, and leave it once acknowledged or once the file is sound again."""
import pytest

from documents.archive import actions, jobs, store
from documents.archive.models import ComponentRole, FixityAlert
from office.errors import ActionError
from tests.archive_support import filed_sent, flip_stored_byte, isolated_files, with_fonds  # noqa: F401


@pytest.fixture
def broken(units, city_secretary, city_leader, archivist, settings):
    """An accepted 件 whose 定稿 lost a bit in storage, found by a full periodic pass."""
    settings.ARCHIVE_FIXITY_INTERVAL_HOURS = 0
    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于固化检测待办的通知", main=[units["秦都区"].id])
    item = actions.do_accept(person=archivist, item_id=item.id)
    comp = item.components.get(role=ComponentRole.FINAL)
    original = store.read(comp.storage_name)
    flip_stored_byte(comp.storage_name)
    _full_pass()
    return item, comp, original


def _full_pass():
    while not jobs.verify_fixity(limit=50)["done"]:
        pass


def _todo(client):
    return [i for i in client.get("/api/office/todo").json()["items"] if i["kind"] == "archive.fixity"]


def test_a_fixity_alert_is_in_the_archivists_todo_with_the_archival_code_and_component(broken, archivist,
                                                                                       city_secretary, client_for):
    item, comp, _original = broken
    c = client_for(archivist)
    rows = _todo(c)
    assert len(rows) == 1
    assert item.archival_code in rows[0]["title"] and comp.name in rows[0]["title"]
    alert = FixityAlert.objects.get()
    assert rows[0]["url"] == f"/documents/archive/manage/?fonds=Z001#alert-{alert.id}"
    assert c.get("/api/office/todo/count").json()["count"] >= 1
    home = c.get("/").content.decode()
    assert item.archival_code in home  # the workbench's to-do panel
    assert f'id="alert-{alert.id}"' in c.get(rows[0]["url"].split("#")[0]).content.decode()
    assert _todo(client_for(city_secretary)) == []  # not the 档案员: not their 待办
    _full_pass()  # a second pass that finds it still broken does not add a second 待办
    assert len(_todo(c)) == 1


def test_it_leaves_the_todo_when_the_archivist_acknowledges_it(broken, archivist, city_secretary, client_for):
    alert = FixityAlert.objects.get()
    c = client_for(archivist)
    empty = c.post("/documents/archive/do/", {"op": "alert-resolve", "alert": alert.id, "note": ""})
    assert empty.status_code == 400 and "请填写处理说明" in empty.content.decode()
    with pytest.raises(ActionError) as exc:
        actions.do_resolve_alert(person=city_secretary, alert_id=alert.id, note="看过了")
    assert exc.value.status == 403
    resp = c.post("/documents/archive/do/", {"op": "alert-resolve", "alert": alert.id, "note": "已从备份恢复",
                                             "back": "/documents/archive/manage/?fonds=Z001#alerts"})
    assert resp.status_code == 302
    assert _todo(c) == []
    alert.refresh_from_db()
    assert alert.resolved_name == "孙档案" and alert.resolution == "已从备份恢复"
    page = c.get("/documents/archive/manage/").content.decode()
    assert "已从备份恢复" in page and 'id="alert-' not in page


def test_it_leaves_the_todo_when_a_later_pass_finds_the_file_restored(broken, archivist, client_for):
    _item, comp, original = broken
    store.delete(comp.storage_name)
    store.put(comp.storage_name, original)
    _full_pass()
    assert _todo(client_for(archivist)) == []
    assert FixityAlert.objects.get().resolved_at is not None


def test_the_api_settles_an_alert_too(broken, archivist, client_for):
    alert = FixityAlert.objects.get()
    c = client_for(archivist)
    resp = c.post(f"/api/documents/archive/alerts/{alert.id}/resolve", {"note": "已重新归档备份"},
                  content_type="application/json")
    assert resp.status_code == 200 and resp.json()["resolved_by"] == "孙档案"
    assert _todo(c) == []
    again = c.post(f"/api/documents/archive/alerts/{alert.id}/resolve", {"note": "再次"},
                   content_type="application/json")
    assert again.status_code == 409
