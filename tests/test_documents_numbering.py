"""登记: 发文字号 per 机关代字 and year, with no gap and no duplicate; voided numbers are never reused."""
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from documents import actions
from documents.models import Document, NumberSequence, Receipt, VoidedNumber
from office.errors import ActionError
from tests.test_documents_support import approve_all, call, draft, post_of, sign_off



def _signed(units, sec, leader, n=1):
    docs = []
    for i in range(n):
        doc = draft(sec, title=f"关于第{i + 1}项工作的通知", main=[units["秦都区"].id])
        sign_off(doc, sec, leader)
        docs.append(approve_all(doc, leader))
    return docs


@pytest.mark.django_db
def test_it_numbers_in_sequence_and_never_reuses_a_voided_number(units, city_secretary, city_leader, client_for):
    year = timezone.localdate().year
    c = client_for(city_secretary)
    d1, d2, d3 = _signed(units, city_secretary, city_leader, 3)
    assert call(c, "post", f"/api/documents/{d1.id}/register", {})[1]["number"] == f"咸政发〔{year}〕1号"
    assert call(c, "post", f"/api/documents/{d2.id}/register", {})[1]["number"] == f"咸政发〔{year}〕2号"
    status, body = call(c, "post", f"/api/documents/{d2.id}/register", {})
    assert status == 409 and "已登记" in body["detail"]
    status, body = call(c, "post", f"/api/documents/{d2.id}/void-number", {"reason": ""})
    assert status == 400 and "作废原因" in body["detail"]
    status, _ = call(c, "post", f"/api/documents/{d2.id}/void-number", {"reason": "主送机关有误，重新登记"})
    assert status == 200
    v = VoidedNumber.objects.get()
    assert (v.number, v.seq, v.reason) == (f"咸政发〔{year}〕2号", 2, "主送机关有误，重新登记")
    assert call(c, "post", f"/api/documents/{d3.id}/register", {})[1]["number"] == f"咸政发〔{year}〕3号"
    assert call(c, "post", f"/api/documents/{d2.id}/register", {})[1]["number"] == f"咸政发〔{year}〕4号"
    # another 机关代字 has its own sequence; a foreign one is refused
    d4, d5 = _signed(units, city_secretary, city_leader, 2)
    assert call(c, "post", f"/api/documents/{d4.id}/register", {"prefix": "咸政办发"})[1]["number"] == f"咸政办发〔{year}〕1号"
    status, body = call(c, "post", f"/api/documents/{d5.id}/register", {"prefix": "乾政发"})
    assert status == 400 and "咸政" in body["detail"]
    # the dispatch fixes it: a dispatched number cannot be voided
    call(c, "post", f"/api/documents/{d1.id}/dispatch")
    status, body = call(c, "post", f"/api/documents/{d1.id}/void-number", {"reason": "x"})
    assert status == 409


@pytest.mark.django_db
def test_it_refuses_registration_before_sign_off(units, city_secretary, client_for):
    doc = draft(city_secretary, main=[units["秦都区"].id])
    status, body = call(client_for(city_secretary), "post", f"/api/documents/{doc.id}/register", {})
    assert status == 409 and "签发" in body["detail"]


on_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="row locks across connections need PostgreSQL (set DATABASE_URL)")


def _threads(n, target):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = ("ok", target(i))
        except ActionError as exc:
            results[i] = ("refused", exc)
        except Exception as exc:  # noqa: BLE001 — reported in the assertion
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    return results


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_it_hands_out_numbers_without_gap_or_duplicate_when_many_register_at_once(units, city_secretary, city_leader):
    docs = _signed(units, city_secretary, city_leader, 8)
    post = post_of(city_secretary)
    results = _threads(8, lambda i: actions.do_register(person=city_secretary, post=post, doc=docs[i]).number_seq)
    assert all(kind == "ok" for kind, _ in results), results
    assert sorted(n for _, n in results) == list(range(1, 9))
    assert NumberSequence.objects.get(kind="send", prefix="咸政发").last == 8


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_of_two_secretaries_sign_the_same_receipt(units, city_secretary, city_leader, county_secretary):
    from office.models import Person, Post

    other = Person.objects.create_user("county_secretary2", "Demo-2026!", display_name="第二秘书")
    Post.objects.create(person=other, unit=units["秦都区"], is_secretary=True)
    docs = _signed(units, city_secretary, city_leader, 1)
    actions.do_register(person=city_secretary, post=post_of(city_secretary), doc=docs[0])
    actions.do_dispatch(person=city_secretary, post=post_of(city_secretary), doc=Document.objects.get(id=docs[0].id))
    receipt = Receipt.objects.get(document=docs[0])
    people = [county_secretary, other]
    results = _threads(2, lambda i: actions.do_sign(person=people[i], post=post_of(people[i]), receipt_id=receipt.id))
    kinds = sorted(k for k, _ in results)
    assert kinds == ["ok", "refused"], results
    refused = next(e for k, e in results if k == "refused")
    assert refused.status == 409 and "已由" in refused.message


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_it_dispatches_once_when_the_button_is_clicked_twice_at_once(units, city_secretary, city_leader):
    docs = _signed(units, city_secretary, city_leader, 1)
    post = post_of(city_secretary)
    actions.do_register(person=city_secretary, post=post, doc=docs[0])
    results = _threads(2, lambda i: actions.do_dispatch(person=city_secretary, post=post, doc=docs[0]).id)
    assert sorted(k for k, _ in results) == ["ok", "refused"], results
    assert Receipt.objects.filter(document=docs[0]).count() == 1
