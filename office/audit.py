"""The hash-chained audit log: record() appends, seal() chains, verify() walks the chain.

Each sealed entry's hash is SHA-256 over the previous entry's hash and the entry's own canonical
content (its place `seq` included), so changing, deleting or inserting a sealed row breaks the chain
at that row, and deleting the last ones is caught by the head row.

Writing and chaining are split so that audited writes do not queue on one lock (one row locked
until each writer's commit gave about 120 writes/s): record() only INSERTs the entry, with no seq and
no hash, inside the caller's transaction. After that transaction commits, seal() — run at most every
SEAL_INTERVAL per process (on PostgreSQL by a background thread of the process, so no writer waits
for it; on SQLite inline), by whichever process gets the head row (the others skip it) —
takes every committed unsealed entry in id order, gives each the next seq and its hashes, and moves
the head, all in one transaction. An entry that commits while a batch is being sealed waits for the
next batch. audit_verify seals what is pending, then checks the whole chain. Only the short unsealed
tail (normally well under a second of writes) has no hash yet, like the tail of any hash chain.
"""
import hashlib
import json
import threading
import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from office.models import AuditEntry, AuditHead

GENESIS = "0" * 64
SEAL_INTERVAL = 0.2   # seconds between two seals by one process (the latest writes wait at most this)
SEAL_BATCH = 5000


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
    """Append one entry. Call inside the action's transaction: it rolls back with it. The entry is
    chained (seq, hashes) by seal() shortly after the transaction commits."""
    object_type, object_id = _object_ref(obj)
    if person is not None and not getattr(person, "is_authenticated", True):
        person = None
    entry = AuditEntry(
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
    )
    with transaction.atomic(savepoint=False):
        entry.id = entry.pk = _insert(entry)
        entry._state.adding, entry._state.db = False, "default"
        transaction.on_commit(_seal_soon)
    return entry


_INSERT_FIELDS = ("at", "action", "person_id_at", "person_name", "post_id_at", "unit_name", "object_type",
                  "object_id", "ip", "data", "prev_hash", "entry_hash")


def _insert(entry):
    """One INSERT … RETURNING id, without the model save() machinery (a third of the CPU per write)."""
    from django.db import connection

    qn = connection.ops.quote_name
    fields = [AuditEntry._meta.get_field(name) for name in _INSERT_FIELDS]
    sql = (f"INSERT INTO {qn(AuditEntry._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn('id')}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(getattr(entry, f.attname), connection) for f in fields])
        return cursor.fetchone()[0]


_last_seal = [0.0]
_seal_lock = threading.Lock()
_sealer = [None]


class _Sealer(threading.Thread):
    """PostgreSQL: one thread per process seals in the background, woken by commits, at most every
    SEAL_INTERVAL; no writer waits for a seal. (SQLite has one writer at a time anyway, and a second
    connection writing from a thread would only collide with it: there a commit seals inline.)"""

    def __init__(self):
        super().__init__(name="audit-sealer", daemon=True)
        self.wake = threading.Event()

    def run(self):
        from django.db import connections

        while True:
            self.wake.wait()
            self.wake.clear()
            try:
                seal()
            except Exception:  # noqa: BLE001 - the writes are committed; the next seal chains them
                import logging

                logging.getLogger("office.audit").warning("audit seal failed; entries stay pending", exc_info=True)
            finally:
                connections.close_all()  # back to the pool between batches
            time.sleep(SEAL_INTERVAL)


def _seal_soon():
    """After a commit: have the entry sealed soon."""
    from django.db import connection

    if connection.vendor == "postgresql":
        sealer = _sealer[0]
        if sealer is None or not sealer.is_alive():
            with _seal_lock:
                if _sealer[0] is None or not _sealer[0].is_alive():
                    _sealer[0] = _Sealer()
                    _sealer[0].start()
                sealer = _sealer[0]
        sealer.wake.set()
        return
    now = time.monotonic()
    if now - _last_seal[0] < SEAL_INTERVAL or not _seal_lock.acquire(blocking=False):
        return
    try:
        _last_seal[0] = now
        seal()
    except Exception:  # noqa: BLE001 - the write is committed; the next seal or audit_verify chains it
        import logging

        logging.getLogger("office.audit").warning("audit seal failed; entries stay pending", exc_info=True)
    finally:
        _seal_lock.release()


def seal(*, wait=False, batch=SEAL_BATCH):
    """Chain every committed unsealed entry (in id order, `batch` per transaction); return how many.

    Only one sealer runs at a time (the head row's lock): without `wait` a process that finds it
    taken returns 0 at once — the running sealer, or the next one, takes its entries."""
    total = 0
    while True:
        with transaction.atomic():
            head = AuditHead.objects.select_for_update(skip_locked=not wait).filter(id=1).first()
            if head is None:
                if AuditHead.objects.filter(id=1).exists():
                    return total  # another sealer holds it
                AuditHead.objects.get_or_create(id=1)
                head = AuditHead.objects.select_for_update().get(id=1)
            pending = list(AuditEntry.objects.filter(seq__isnull=True).order_by("id")[:batch])
            if not pending:
                return total
            seq, last_hash = head.seq, head.last_hash
            for entry in pending:
                seq += 1
                entry.seq = seq
                entry.prev_hash = last_hash
                entry.entry_hash = last_hash = compute_hash(last_hash, entry)
            _write_seals(pending)
            head.seq, head.last_hash = seq, last_hash
            head.save(update_fields=["seq", "last_hash"])
        total += len(pending)
        if len(pending) < batch:
            return total


def _write_seals(entries):
    """Store seq and hashes of sealed entries: one UPDATE … FROM (VALUES …) per 1,000 on PostgreSQL
    (Django's bulk_update builds CASE expressions that cost seconds at this size)."""
    from django.db import connection

    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(f"UPDATE {table} SET seq = %s, prev_hash = %s, entry_hash = %s WHERE id = %s",
                               [(e.seq, e.prev_hash, e.entry_hash, e.id) for e in entries])
            return
        for start in range(0, len(entries), 1000):
            chunk = entries[start:start + 1000]
            values = ",".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} AS e SET seq = v.seq, prev_hash = v.prev, entry_hash = v.h "
                f"FROM (VALUES {values}) AS v(id, seq, prev, h) WHERE e.id = v.id",
                [x for e in chunk for x in (e.id, e.seq, e.prev_hash, e.entry_hash)])


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
    """Seal what is pending, then walk the chain in order; return the count, or raise ChainBroken at
    the first bad entry. The head row stays locked during the walk (sealers wait; writers do not)."""
    seal(wait=True)
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(id=1).first()
        head_seq = head.seq if head is not None else 0
        prev_hash = GENESIS
        expected_seq = 1
        count = 0
        sealed = AuditEntry.objects.filter(seq__isnull=False)
        total = sealed.count()
        for entry in sealed.order_by("seq").iterator(chunk_size=2000):
            if entry.seq != expected_seq:
                raise ChainBroken(expected_seq, gettext_noop("记录缺失（已被删除），下一条是第 %(next)d 条"),
                                  next=entry.seq)
            if entry.prev_hash != prev_hash:
                raise ChainBroken(entry.seq, gettext_noop("与前一条记录接不上（被插入或调换了顺序）"))
            if compute_hash(prev_hash, entry) != entry.entry_hash:
                raise ChainBroken(entry.seq, gettext_noop("写入后内容被修改"))
            if entry.seq > head_seq:
                raise ChainBroken(entry.seq, gettext_noop("与前一条记录接不上（被插入或调换了顺序）"))
            prev_hash = entry.entry_hash
            expected_seq += 1
            count += 1
            if progress and count % 1000 == 0:
                progress(count, total)
        if head is not None and head.seq != count:
            raise ChainBroken(count + 1, gettext_noop("链尾的记录缺失（已被删除）"))
        if head is not None and head.last_hash != prev_hash:
            raise ChainBroken(count, gettext_noop("写入后内容被修改"))
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
