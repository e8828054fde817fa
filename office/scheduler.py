"""Periodic jobs inside the suite (催办 reminders, meeting reminders).

Jobs are named by dotted path in settings.YW_JOBS so the core imports no app. They run in one
daemon thread of a server process (YW_JOBS_IN_PROCESS=1, the default) and/or in a separate
`python manage.py run_jobs` process. Every job is idempotent — the rows it writes decide who
sends (unique constraints, `reminded_at`) — so several runners, restarts and late runs never
send anything twice, and a restart simply picks up what is due.
"""
import importlib
import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)
_thread = {"t": None}


def load_jobs():
    jobs = []
    for dotted in settings.YW_JOBS:
        module_name, _, attr = dotted.rpartition(".")
        jobs.append((dotted, getattr(importlib.import_module(module_name), attr)))
    return jobs


def run_once(jobs=None):
    """One pass over every job; returns {job: result or error text}."""
    results = {}
    for name, job in jobs or load_jobs():
        try:
            results[name] = job()
        except Exception as exc:  # the next pass retries; each job is all-or-nothing per item
            log.exception("job %s failed", name)
            results[name] = f"error: {exc}"
    return results


def run_forever(stop, interval=None):
    interval = interval or settings.YW_JOBS_INTERVAL
    jobs = load_jobs()
    try:
        while not stop.wait(interval):
            close_old_connections()
            run_once(jobs)
            close_old_connections()
    finally:
        connections.close_all()


def start_in_process():
    """Start the jobs thread once per process (called from asgi.py)."""
    if _thread["t"] is not None and _thread["t"].is_alive():
        return _thread["t"]
    stop = threading.Event()
    t = threading.Thread(target=run_forever, args=(stop,), name="yw-jobs", daemon=True)
    t.stop = stop
    t.start()
    _thread["t"] = t
    return t
