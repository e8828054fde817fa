"""A 请示 and its 批复: one 件 by default (DA/T 22-2015 allows one or two), two by unit setting."""
from documents import actions as flow
from documents.archive import actions, assemble
from documents.archive.models import ComponentRole
from documents.models import Document, Receipt
from tests.archive_support import isolated_files, with_fonds  # noqa: F401
from tests.test_documents_support import approve_all, dispatched, post_of, sign_off


def _request_answered(units, county_secretary, county_leader, city_secretary, city_leader):
    request = dispatched(county_secretary, county_leader, doc_type="请示", title="秦都区人民政府关于增拨防汛资金的请示",
                         main=[units["咸阳市"].id])
    r = Receipt.objects.get(document=request, unit=units["咸阳市"])
    p = post_of(city_secretary)
    flow.do_sign(person=city_secretary, post=p, receipt_id=r.id)
    reply = flow.do_create_document(person=city_secretary, post=p, data={
        "title": "咸阳市人民政府关于增拨防汛资金的批复", "doc_type": "批复", "reply_to_receipt": r.id,
        "body": [{"kind": "p", "text": "你区关于增拨防汛资金的请示收悉。经研究，同意。"}]})
    sign_off(reply, city_secretary, city_leader)
    approve_all(reply, city_leader)
    flow.do_register(person=city_secretary, post=p, doc=Document.objects.get(id=reply.id))
    flow.do_dispatch(person=city_secretary, post=p, doc=Document.objects.get(id=reply.id))
    back = Receipt.objects.get(document_id=reply.id, unit=units["秦都区"])
    cp = post_of(county_secretary)
    flow.do_sign(person=county_secretary, post=cp, receipt_id=back.id)
    flow.do_finish(person=county_secretary, post=cp, receipt_id=back.id)
    return request, Document.objects.get(id=reply.id), back


def test_it_files_a_request_with_its_reply_as_one_item(units, county_secretary, county_leader, city_secretary,
                                                       city_leader):
    with_fonds()
    request, reply, back = _request_answered(units, county_secretary, county_leader, city_secretary, city_leader)
    due = assemble.pending([units["秦都区"].id])
    assert [r["title"] for r in due] == [request.title]  # the 批复 waits for its 请示's 件
    item = actions.do_file(person=county_secretary, post=post_of(county_secretary), document_id=request.id)
    roles = [c.role for c in item.components.order_by("order")]
    assert roles[:2] == [ComponentRole.ORIGINAL, ComponentRole.FINAL] and ComponentRole.REPLY in roles
    assert item.retention == "Y"
    assert assemble.pending([units["秦都区"].id]) == []  # and is not due again on its own
    assert any(r["type"] == "被答复" for r in item.metadata["relations"])


def test_it_files_them_as_two_items_when_the_unit_says_so(units, county_secretary, county_leader, city_secretary,
                                                          city_leader, admin):
    with_fonds()
    actions.do_set_unit_setting(person=admin, unit=units["秦都区"], request_with_reply=False)
    request, reply, back = _request_answered(units, county_secretary, county_leader, city_secretary, city_leader)
    assert {r["title"] for r in assemble.pending([units["秦都区"].id])} == {request.title, reply.title}
    item = actions.do_file(person=county_secretary, post=post_of(county_secretary), document_id=request.id)
    assert ComponentRole.REPLY not in {c.role for c in item.components.all()}
    other = actions.do_file(person=county_secretary, post=post_of(county_secretary), receipt_id=back.id)
    assert other.doc_type == "批复" and other.retention == "Y"
