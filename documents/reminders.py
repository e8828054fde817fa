"""催办 as a scheduled job.

`run_reminders(now)` is the job: it finds open receipts near or past their deadline and sends each
automatic reminder kind at most once per receipt. "At most once" is the database's promise — a
Reminder row with a unique (receipt, kind) is written in the same transaction as the event — so
the job may run in several processes, be restarted or run late without ever sending twice.

Where it runs (choose one or both — running it twice is harmless):
- `python manage.py run_reminders` — its own process, a pass a minute (systemd unit or a second
  container next to daphne); `--once` for cron;
- `start_in_process()` — a daemon thread inside each daphne process, started by asgi.py when
  YW_REMINDERS_IN_PROCESS=1 (the embedded single-process default).
A restart loses nothing: what was sent is in the Reminder table, what is due is recomputed from
the deadlines. Tests call run_reminders() directly with a chosen `now`.
"""
import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation

from documents.actions.common import _ev
from documents.actions.reminders import reminder_people
from documents.models import OPEN_RECEIPT_STATES, Receipt, Reminder, ReminderKind, Urgency
from documents.queries.reminders import reminder_message, reminder_text  # noqa: F401 (reminder_text re-exported)
from office import audit
from office.events import send_event

log = logging.getLogger(__name__)

# How long before the deadline the "before" reminder goes out, by 紧急程度.
BEFORE = {Urgency.EXTRA_URGENT: dt.timedelta(hours=2), Urgency.URGENT: dt.timedelta(hours=12),
          Urgency.NONE: dt.timedelta(hours=24)}


def escalate_after():
    return dt.timedelta(hours=getattr(settings, "DOCUMENTS_ESCALATE_AFTER_HOURS", 24))


def due_kinds(receipt, now):
    """The automatic reminder kinds that are due for `receipt` at `now`."""
    if receipt.deadline is None or receipt.state not in OPEN_RECEIPT_STATES:
        return []
    lead = BEFORE.get(receipt.document.urgency or "", BEFORE[Urgency.NONE])
    kinds = []
    if receipt.deadline - lead <= now < receipt.deadline:
        kinds.append(ReminderKind.BEFORE)
    if now >= receipt.deadline:
        kinds.append(ReminderKind.DUE)
    if now >= receipt.deadline + escalate_after():
        kinds.append(ReminderKind.ESCALATE)
    return kinds


def run_reminders(now=None, limit=5000):
    """One pass of the job. Returns the number of reminders sent."""
    now = now or timezone.now()
    horizon = now + max(BEFORE.values())
    not_all_sent = ~Exists(Reminder.objects.filter(receipt_id=OuterRef("pk"), kind=ReminderKind.ESCALATE))
    candidates = (Receipt.objects.filter(state__in=OPEN_RECEIPT_STATES, deadline__isnull=False, deadline__lte=horizon)
                  .filter(not_all_sent).select_related("document", "unit").order_by("deadline")[:limit])
    sent = 0
    for receipt in candidates:
        already = set(Reminder.objects.filter(receipt_id=receipt.id).exclude(kind=ReminderKind.MANUAL)
                      .values_list("kind", flat=True))
        for kind in due_kinds(receipt, now):
            if kind in already:
                continue
            if _send_once(receipt, kind, now):
                sent += 1
    return sent


def _send_once(receipt, kind, now):
    people = reminder_people(receipt, kind)
    with translation.override(settings.LANGUAGE_CODE):
        message = reminder_message(kind, receipt)
    try:
        with transaction.atomic():
            Reminder.objects.create(receipt=receipt, kind=kind, message=message, people=people, sent_at=now)
            audit.record(f"reminder.{kind}", obj=receipt, data={"people": people, "document": receipt.document_id})
            send_event(_ev("reminder", receipt.document_id, receipt=receipt.id, kind=str(kind)), people=people)
    except IntegrityError:  # another process sent it first
        return False
    return True


_started = {"thread": None}


def start_in_process(interval=60):
    """Run the job in a daemon thread of this process (e.g. from asgi.py when YW_REMINDERS_IN_PROCESS=1).

    Safe next to `manage.py run_reminders` and in several server processes at once: the unique
    (receipt, kind) row decides who sends. Returns the thread (one per process)."""
    import threading

    from django.db import close_old_connections

    if _started["thread"] is not None and _started["thread"].is_alive():
        return _started["thread"]
    stop = threading.Event()

    def loop():
        from django.db import connections

        try:
            while not stop.wait(interval):
                try:
                    close_old_connections()
                    run_reminders()
                except Exception:  # the next pass retries; nothing is half-sent
                    log.exception("reminder pass failed")
                finally:
                    close_old_connections()
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=loop, name="yw-reminders", daemon=True)
    thread.stop = stop
    thread.start()
    _started["thread"] = thread
    return thread
