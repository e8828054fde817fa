"""件号 are gapless per class even when several 档案员 accept at the same moment (row lock on the
class sequence, as for 发文字号). Run on PostgreSQL to exercise the lock itself."""
import threading

import pytest
from django.db import connection

from documents.archive import actions
from documents.archive.models import Item
from tests.archive_support import filed_sent, isolated_files, with_fonds  # noqa: F401

N = 6


@pytest.mark.django_db(transaction=True)
def test_it_numbers_concurrent_acceptances_without_gaps_or_duplicates(units, city_secretary, city_leader, archivist):
    with_fonds()
    ids = [filed_sent(city_secretary, city_leader, title=f"关于并发接收第{i}件的通知", main=[units["秦都区"].id]).id
           for i in range(N)]
    barrier = threading.Barrier(N)
    errors = []

    def accept(item_id):
        try:
            barrier.wait(timeout=30)
            actions.do_accept(person=archivist, item_id=item_id)
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    seqs = sorted(Item.objects.filter(id__in=ids).values_list("seq", flat=True))
    assert seqs == list(range(1, N + 1))
    codes = set(Item.objects.filter(id__in=ids).values_list("archival_code", flat=True))
    assert len(codes) == N
