"""归档: what is due, how a 件 is assembled from the flow, which 全宗 and 保管期限 it gets."""
from documents.archive import actions, assemble, store
from documents.archive.models import ComponentRole, Fonds, ItemState
from documents.models import Document, Receipt
from tests.archive_support import filed_received, filed_sent, finished_receipt, isolated_files, with_fonds  # noqa: F401
from tests.test_documents_support import dispatched, post_of


def test_it_lists_finished_documents_as_due_with_the_reason(units, city_secretary, city_leader, county_secretary,
                                                            client_for):
    with_fonds()
    r = finished_receipt(city_secretary, city_leader, county_secretary, units["秦都区"], title="关于归档测试的通知")
    page = client_for(county_secretary).get("/documents/archive/").content.decode()
    assert "关于归档测试的通知" in page and "收文已办结" in page
    sent = client_for(city_secretary).get("/documents/archive/").content.decode()
    assert "关于归档测试的通知" in sent and "发文已核发" in sent
    actions.do_file(person=county_secretary, post=post_of(county_secretary), receipt_id=r.id)
    page = client_for(county_secretary).get("/documents/archive/").content.decode()
    assert "暂无待归档的文件" in page


def test_it_puts_the_handling_form_first_in_a_received_item(units, city_secretary, city_leader, county_secretary):
    with_fonds()
    item = filed_received(city_secretary, city_leader, county_secretary, units["秦都区"], title="关于收文归档的通知")
    comps = list(item.components.order_by("order"))
    assert [c.role for c in comps][:2] == [ComponentRole.FORM, ComponentRole.DOCUMENT]
    from documents.archive.checks import text_of

    form = text_of(store.read(comps[0].storage_name))
    receipt = Receipt.objects.get(id=item.receipt_id)
    assert "收文处理单" in form and receipt.registered_no in form and "拟请分管领导阅示" in form
    assert item.state == ItemState.SUBMITTED and item.fonds.code == "Z101"
    actions_taken = [b["action"] for b in item.metadata["business"]]
    assert "签发" in actions_taken and "签收" in actions_taken and "办结" in actions_taken


def test_it_keeps_the_sealed_original_byte_for_byte(units, city_secretary, city_leader, archivist, county_secretary):
    from documents.files import actions as files
    from documents.signing.pades import verify_pdf

    with_fonds()
    doc = dispatched(city_secretary, city_leader, title="关于加盖印章归档的通知", main=[units["秦都区"].id])
    files.do_create_seal(person=city_secretary, unit=doc.unit)
    issued = files.do_seal(person=city_secretary, document=Document.objects.get(id=doc.id))
    item = actions.do_file(person=city_secretary, post=post_of(city_secretary), document_id=doc.id)
    first = item.components.order_by("order").first()
    assert first.role == ComponentRole.ORIGINAL and first.signed
    assert store.read(first.storage_name) == issued
    item = actions.do_accept(person=archivist, item_id=item.id)
    assert store.read(first.storage_name) == issued and verify_pdf(issued).valid
    rendition = item.components.get(role=ComponentRole.RENDITION)
    from documents.archive.checks import text_of

    assert "Z001" in text_of(store.read(rendition.storage_name))


def test_it_files_a_villages_records_into_its_towns_fonds(units, city_secretary, city_leader, village_cadre):
    with_fonds()
    village = units["人民路社区"]
    assert not village.fonds_no
    assert assemble.fonds_for(village) == Fonds.objects.get(code="Z1011")


def test_it_suggests_the_retention_from_the_table_the_archivist_edits(units, city_secretary, city_leader, archivist):
    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于规划编制的通知", main=[units["秦都区"].id])
    assert item.retention == "Y"  # the default table: 规划 → 永久
    fonds = Fonds.objects.get(code="Z001")
    actions.do_save_rule(person=archivist, fonds=fonds, data={"order": 1, "keyword": "防火", "retention": "D10"})
    other = filed_sent(city_secretary, city_leader, title="关于冬季防火的通知", main=[units["秦都区"].id])
    assert other.retention == "D10"


def test_it_refuses_filing_by_someone_outside_the_unit(units, city_secretary, city_leader, outsider):
    import pytest

    from office.errors import ActionError

    with_fonds()
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    with pytest.raises(ActionError) as exc:
        actions.do_file(person=outsider, document_id=doc.id)
    assert exc.value.status == 403


def test_it_lets_the_archivist_move_a_village_into_another_fonds(units, archivist, city_secretary, client_for):
    with_fonds()
    village = units["人民路社区"]
    c = client_for(archivist)
    refused = c.post(f"/api/documents/archive/settings/{village.id}", {"fonds": "Z001"}, content_type="application/json")
    assert refused.status_code == 403  # the town's 全宗, not the city archivist's
    from office.models import Person

    admin = Person.objects.get(username="admin")
    ok = client_for(admin).post(f"/api/documents/archive/settings/{village.id}", {"fonds": "Z001"},
                                content_type="application/json")
    assert ok.status_code == 200 and ok.json()["fonds"] == "Z001"
    assert assemble.fonds_for(village).code == "Z001"
