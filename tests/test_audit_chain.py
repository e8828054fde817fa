"""The audit log is hash-chained; audit_verify names the first entry changed, deleted or inserted."""
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from office import audit
from office.models import AuditEntry


@pytest.fixture
def chain(seed_small, city_secretary):
    for i in range(5):
        audit.record("test.step", person=city_secretary, data={"i": i}, ip="127.0.0.1")
    audit.seal()  # the tests run inside one transaction: no commit triggers the sealer
    return list(AuditEntry.objects.order_by("seq"))


def test_it_passes_an_untouched_chain(chain, capsys):
    call_command("audit_verify")
    assert "校验通过" in capsys.readouterr().out


def test_it_chains_each_entry_to_the_one_before(chain):
    for before, after in zip(chain, chain[1:]):
        assert after.prev_hash == before.entry_hash
        assert after.seq == before.seq + 1


def test_it_names_an_entry_whose_content_was_changed(chain):
    target = chain[3]
    with connection.cursor() as cur:  # tamper straight in the table, as an intruder would
        cur.execute("UPDATE office_auditentry SET data = %s WHERE id = %s", ['{"i": 99}', target.id])
    with pytest.raises(CommandError, match=f"第 {target.seq} 条.*内容被修改"):
        call_command("audit_verify")


def test_it_names_a_deleted_entry(chain):
    target = chain[2]
    with connection.cursor() as cur:
        cur.execute("DELETE FROM office_auditentry WHERE id = %s", [target.id])
    with pytest.raises(CommandError, match=f"第 {target.seq} 条.*已被删除"):
        call_command("audit_verify")


def test_it_names_an_inserted_entry(chain):
    last = chain[-1]
    forged = AuditEntry(seq=last.seq + 1, at=last.at, action="test.forged", data={}, prev_hash="f" * 64)
    forged.entry_hash = audit.compute_hash(forged.prev_hash, forged)
    forged.save()
    with pytest.raises(CommandError, match=f"第 {forged.seq} 条"):
        call_command("audit_verify")


def test_it_records_who_did_what_from_where(chain, city_secretary):
    entry = chain[-1]
    assert entry.person_id_at == city_secretary.id
    assert entry.person_name == "王秘书"
    assert entry.ip == "127.0.0.1" and entry.action == "test.step"


def test_it_records_hostile_text_with_nul_bytes_without_failing(seed_small):
    entry = audit.record("test.nul", data={"username": "wang\x00fang", "list": ["a\x00"]})
    entry.refresh_from_db()
    assert entry.data == {"username": "wang\ufffdfang", "list": ["a\ufffd"]}
    call_command("audit_verify")
