"""The audit chain is sealed in batches: writers only insert, the sealer chains committed entries in
order. Tampering is still caught across batches — a changed, removed or inserted sealed entry, the
removed tail — and entries written at once by many connections end up in one gapless chain."""
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from office import audit
from office.models import AuditEntry, AuditHead

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="concurrent writers need PostgreSQL (set DATABASE_URL)")


def write(n, start=0):
    for i in range(start, start + n):
        audit.record("test.batch", data={"i": i})


@pytest.fixture
def batches(db):
    """Three seals of 4, 3 and 5 entries."""
    for n in (4, 3, 5):
        write(n)
        assert audit.seal() == n
    return list(AuditEntry.objects.order_by("seq"))


def test_it_leaves_a_write_unchained_until_it_is_sealed(db):
    entry = audit.record("test.pending")
    entry.refresh_from_db()
    assert entry.seq is None and entry.entry_hash == ""
    assert audit.seal() == 1
    entry.refresh_from_db()
    assert entry.seq == 1 and entry.prev_hash == audit.GENESIS and len(entry.entry_hash) == 64


def test_it_chains_one_batch_onto_the_last(batches):
    assert [e.seq for e in batches] == list(range(1, 13))
    for before, after in zip(batches, batches[1:]):
        assert after.prev_hash == before.entry_hash
    head = AuditHead.objects.get(id=1)
    assert (head.seq, head.last_hash) == (12, batches[-1].entry_hash)


def test_it_seals_pending_entries_before_verifying(batches, capsys):
    write(2)
    call_command("audit_verify")
    assert "共 14 条" in capsys.readouterr().out
    assert not AuditEntry.objects.filter(seq__isnull=True).exists()


@pytest.mark.parametrize("index", [0, 5, 11])
def test_it_catches_a_changed_entry_in_any_batch(batches, index):
    target = batches[index]
    with connection.cursor() as cur:
        cur.execute("UPDATE office_auditentry SET action = %s WHERE id = %s", ["test.changed", target.id])
    with pytest.raises(CommandError, match=f"第 {target.seq} 条.*内容被修改"):
        call_command("audit_verify")


def test_it_catches_a_removed_entry_at_a_batch_boundary(batches):
    target = batches[4]  # the first of the second batch
    AuditEntry.objects.filter(id=target.id).delete()
    with pytest.raises(CommandError, match=f"第 {target.seq} 条.*已被删除"):
        call_command("audit_verify")


def test_it_catches_removed_entries_at_the_tail(batches):
    AuditEntry.objects.filter(id__in=[e.id for e in batches[-2:]]).delete()
    with pytest.raises(CommandError, match="链尾的记录缺失"):
        call_command("audit_verify")


def test_it_catches_an_entry_inserted_into_the_sealed_chain(batches):
    # Shift the later entries up by one and slip a forged entry, correctly hashed onto its
    # predecessor, into place 7: the entry after it no longer links.
    with connection.cursor() as cur:
        for entry in reversed(batches[6:]):
            cur.execute("UPDATE office_auditentry SET seq = seq + 1 WHERE id = %s", [entry.id])
    forged = AuditEntry(seq=7, at=batches[6].at, action="test.forged", data={}, prev_hash=batches[5].entry_hash)
    forged.entry_hash = audit.compute_hash(forged.prev_hash, forged)
    forged.save()
    with pytest.raises(CommandError, match="第 8 条"):
        call_command("audit_verify")


def test_it_catches_an_entry_forged_beyond_the_head(batches):
    last = batches[-1]
    forged = AuditEntry(seq=last.seq + 1, at=last.at, action="test.forged", data={}, prev_hash=last.entry_hash)
    forged.entry_hash = audit.compute_hash(forged.prev_hash, forged)
    forged.save()
    with pytest.raises(CommandError, match=f"第 {forged.seq} 条"):
        call_command("audit_verify")


def test_it_leaves_a_rolled_back_write_out_of_the_chain(db):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            audit.record("test.rolled-back")
            raise RuntimeError
    audit.record("test.kept")
    audit.seal()
    assert list(AuditEntry.objects.values_list("action", "seq")) == [("test.kept", 1)]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_it_chains_many_concurrent_writers_into_one_gapless_chain():
    threads, per_thread = 8, 60
    barrier = threading.Barrier(threads)
    errors = []

    def run(t):
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic():  # each write commits, and its commit may start a seal
                    audit.record("test.concurrent", data={"t": t, "i": i})
                if i % 7 == 0:
                    audit.seal()  # sealers race each other and the writers
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors, errors
    assert audit.verify() == threads * per_thread
    seqs = sorted(AuditEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, threads * per_thread + 1))
