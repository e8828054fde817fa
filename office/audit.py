"""The hash-chained audit log: record() appends, verify() walks the chain.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
content, so changing, deleting or inserting a row breaks the chain at that row.
"""
import hashlib
import json

from django.db import transaction
from django.utils import timezone

from office.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _content(entry):
    return json.dumps(
        {
            "seq": entry.seq,
            "at": entry.at.isoformat(),
            "action": entry.action,
            "person": entry.person_id_at,
            "person_name": entry.person_name,
            "post": entry.post_id_at,
            "unit": entry.unit_name,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "ip": entry.ip,
            "data": entry.data,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def compute_hash(prev_hash, entry):
    return hashlib.sha256((prev_hash + _content(entry)).encode("utf-8")).hexdigest()


def _object_ref(obj):
    if obj is None:
        return "", ""
    if isinstance(obj, tuple):
        return str(obj[0]), str(obj[1])
    return obj._meta.label_lower, str(obj.pk)


def _no_nul(obj):
    return {k: (v.replace("\x00", "\ufffd") if isinstance(v, str) else
                [x.replace("\x00", "\ufffd") if isinstance(x, str) else x for x in v] if isinstance(v, list) else v)
            for k, v in obj.items()}


def record(action, *, person=None, post=None, obj=None, ip=None, data=None):
    """Append one entry. Call inside the action's transaction: it rolls back with it."""
    object_type, object_id = _object_ref(obj)
    if person is not None and not getattr(person, "is_authenticated", True):
        person = None
    # No savepoint: the entry commits or rolls back with the action that records it, and the
    # head row's lock (held until that commit) keeps the chain in one order across processes.
    with transaction.atomic(savepoint=False):
        head = AuditHead.objects.select_for_update().filter(id=1).first()
        if head is None:
            AuditHead.objects.get_or_create(id=1)
            head = AuditHead.objects.select_for_update().get(id=1)
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            action=action,
            person_id_at=person.id if person is not None else None,
            person_name=(person.display_name or person.username) if person is not None else "",
            post_id_at=post.id if post is not None else None,
            unit_name=post.unit.name if post is not None else "",
            object_type=object_type,
            object_id=object_id,
            ip=(ip or "")[:45],
            # PostgreSQL's jsonb refuses NUL: a hostile input must still be recorded, not crash.
            data=json.loads(json.dumps(data or {}, ensure_ascii=False, default=str), object_hook=_no_nul),
            prev_hash=head.last_hash,
        )
        entry.entry_hash = compute_hash(head.last_hash, entry)
        entry.save()
        head.seq = entry.seq
        head.last_hash = entry.entry_hash
        head.save(update_fields=["seq", "last_hash"])
    return entry


class ChainBroken(Exception):
    def __init__(self, seq, reason):
        super().__init__(f"#{seq}: {reason}")
        self.seq = seq
        self.reason = reason


def verify(progress=None):
    """Walk the chain in order; return the count, or raise ChainBroken at the first bad entry."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    total = AuditEntry.objects.count()
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            raise ChainBroken(expected_seq, "missing (deleted) — the next entry is #%d" % entry.seq)
        if entry.prev_hash != prev_hash:
            raise ChainBroken(entry.seq, "does not follow the entry before it (inserted or reordered)")
        if compute_hash(prev_hash, entry) != entry.entry_hash:
            raise ChainBroken(entry.seq, "content was changed after it was written")
        prev_hash = entry.entry_hash
        expected_seq += 1
        count += 1
        if progress and count % 1000 == 0:
            progress(count, total)
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and head.seq != count:
        raise ChainBroken(count + 1, "missing (deleted) at the end of the chain")
    return count


def client_ip(request):
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""
