"""The hash-chained audit log: record() appends, verify() walks the chain.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
content, so changing, deleting or inserting a row breaks the chain at that row.
"""
import hashlib
import json

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

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
    """The first bad entry: its seq and what is wrong, a Chinese msgid (gettext_noop) whose
    placeholders `params` fill; `message()` is it in the active language."""

    def __init__(self, seq, reason, **params):
        super().__init__(f"#{seq}: {reason % params if params else reason}")
        self.seq = seq
        self.reason = reason
        self.params = params

    def message(self):
        from django.utils.translation import gettext

        return gettext(self.reason) % self.params if self.params else gettext(self.reason)


def verify(progress=None):
    """Walk the chain in order; return the count, or raise ChainBroken at the first bad entry."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    total = AuditEntry.objects.count()
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            raise ChainBroken(expected_seq, gettext_noop("记录缺失（已被删除），下一条是第 %(next)d 条"),
                              next=entry.seq)
        if entry.prev_hash != prev_hash:
            raise ChainBroken(entry.seq, gettext_noop("与前一条记录接不上（被插入或调换了顺序）"))
        if compute_hash(prev_hash, entry) != entry.entry_hash:
            raise ChainBroken(entry.seq, gettext_noop("写入后内容被修改"))
        prev_hash = entry.entry_hash
        expected_seq += 1
        count += 1
        if progress and count % 1000 == 0:
            progress(count, total)
    head = AuditHead.objects.filter(id=1).first()
    if head is not None and head.seq != count:
        raise ChainBroken(count + 1, gettext_noop("链尾的记录缺失（已被删除）"))
    return count


def _trusted(address, proxies):
    import ipaddress

    if not address:
        return "unix" in proxies  # daphne on a unix socket has no peer address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for item in proxies:
        if item == "unix":
            continue
        try:
            if ip in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request):
    """The client's address: REMOTE_ADDR, or, when that is a trusted proxy (YW_TRUSTED_PROXIES), the
    last address in X-Forwarded-For that is not itself a trusted proxy."""
    from django.conf import settings

    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = getattr(settings, "YW_TRUSTED_PROXIES", None) or []
    if not proxies or not _trusted(remote, proxies):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") or ""
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:45]
    return (hops[0][:45] if hops else remote)
