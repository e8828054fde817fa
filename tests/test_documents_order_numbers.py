"""命令: its own 令号 sequence per issuing organ (第N号), gapless and never reused, apart from 发文字号."""
import pytest
from django.db import connection
from django.utils import timezone

from documents import actions
from documents.models import NumberSequence, VoidedNumber
from tests.test_documents_numbering import _threads
from tests.test_documents_support import approve_all, call, draft, post_of, sign_off

ORDER_BODY = [{"kind": "p", "text": "《咸阳市城市管理办法》已经市政府常务会议审议通过，现予公布，自公布之日起施行。"}]


def _signed(sec, leader, main, doc_type="命令", n=1):
    docs = []
    for i in range(n):
        doc = draft(sec, doc_type=doc_type, title=f"关于第{i + 1}项事项的{doc_type}", main=[main.id], body=ORDER_BODY)
        sign_off(doc, sec, leader)
        docs.append(approve_all(doc, leader))
    return docs


@pytest.mark.django_db
def test_it_numbers_orders_per_organ_apart_from_document_numbers(units, city_secretary, city_leader, county_secretary,
                                                                 county_leader, client_for):
    year = timezone.localdate().year
    city = client_for(city_secretary)
    o1, o2 = _signed(city_secretary, city_leader, units["秦都区"], n=2)
    (notice,) = _signed(city_secretary, city_leader, units["秦都区"], doc_type="通知")
    assert call(city, "post", f"/api/documents/{o1.id}/register", {})[1]["number"] == "第1号"
    assert call(city, "post", f"/api/documents/{notice.id}/register", {})[1]["number"] == f"咸政发〔{year}〕1号"
    assert call(city, "post", f"/api/documents/{o2.id}/register", {"prefix": "咸政发"})[1]["number"] == "第2号"
    # another organ's 令 starts at 第1号
    (county_order,) = _signed(county_secretary, county_leader, units["人民路街道"])
    status, body = call(client_for(county_secretary), "post", f"/api/documents/{county_order.id}/register", {})
    assert status == 200 and body["number"] == "第1号"


@pytest.mark.django_db
def test_it_never_reuses_a_voided_order_number(units, city_secretary, city_leader, client_for):
    c = client_for(city_secretary)
    o1, o2 = _signed(city_secretary, city_leader, units["秦都区"], n=2)
    assert call(c, "post", f"/api/documents/{o1.id}/register", {})[1]["number"] == "第1号"
    status, _ = call(c, "post", f"/api/documents/{o1.id}/void-number", {"reason": "令文有误，重新登记"})
    assert status == 200
    assert VoidedNumber.objects.get().number == "第1号"
    assert call(c, "post", f"/api/documents/{o2.id}/register", {})[1]["number"] == "第2号"
    assert call(c, "post", f"/api/documents/{o1.id}/register", {})[1]["number"] == "第3号"


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="row locks across connections need PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_it_hands_out_order_numbers_without_gap_or_duplicate_when_many_register_at_once(units, city_secretary,
                                                                                        city_leader):
    docs = _signed(city_secretary, city_leader, units["秦都区"], n=6)
    post = post_of(city_secretary)
    results = _threads(6, lambda i: actions.do_register(person=city_secretary, post=post, doc=docs[i]).number)
    assert all(kind == "ok" for kind, _ in results), results
    assert sorted(int(n[1:-1]) for _, n in results) == list(range(1, 7))
    assert NumberSequence.objects.get(kind="order").last == 6
