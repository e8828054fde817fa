"""The embedded default's SQLite: the write transactions of one process queue on a lock (handed over
at once) instead of sleeping in SQLite's busy handler; every way out of a transaction releases it.

Run by tests/test_sqlite_writer_lock.py in a pytest of its own on the embedded default, whatever
database the suite itself runs on (CI's is PostgreSQL): not collected directly (no test_ prefix)."""
import threading

import pytest
from django.contrib.sessions.models import Session
from django.db import connection, connections, transaction

from office.dbbackends.sqlite3.base import _writer_lock

pytestmark = pytest.mark.django_db(transaction=True)


def row(key):
    from django.utils import timezone

    Session.objects.create(session_key=key, session_data="", expire_date=timezone.now())


def lock():
    return _writer_lock(connection.settings_dict["NAME"])


def in_thread(work):
    """Run work() in a thread of its own (its own connection), as a request under ASGI does."""
    errors = []

    def run():
        try:
            work()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_it_uses_the_suites_backend_for_the_embedded_default():
    assert connections["default"].__class__.__module__ == "office.dbbackends.sqlite3.base"
    assert connection.vendor == "sqlite"


def test_a_second_writer_waits_for_the_first_and_goes_on_when_it_commits():

    inside, release, order = threading.Event(), threading.Event(), []

    def first():
        with transaction.atomic():
            row("first")
            inside.set()
            release.wait(30)
            order.append("first commits")

    def second():
        inside.wait(30)
        with transaction.atomic():
            order.append("second writes")
            row("second")

    one, errors_one = in_thread(first)
    inside.wait(30)
    two, errors_two = in_thread(second)
    two.join(0.3)
    assert two.is_alive() and order == []  # waiting on the lock, not failing with "database is locked"
    release.set()
    one.join(30)
    two.join(30)
    assert errors_one == [] and errors_two == []
    assert order == ["first commits", "second writes"]
    assert Session.objects.filter(session_key__in=["first", "second"]).count() == 2
    assert not lock().locked()


def test_a_rolled_back_transaction_releases_the_lock():

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            row("rolled-back")
            assert lock().locked()
            raise RuntimeError("rolled back")
    assert not lock().locked()
    assert not Session.objects.filter(session_key="rolled-back").exists()


def test_a_connection_closed_inside_a_transaction_releases_the_lock():
    def work():
        transaction.atomic().__enter__()  # a thread that dies with its transaction open
        assert lock().locked()
        connection.close()

    thread, errors = in_thread(work)
    thread.join(30)
    assert errors == []
    assert not lock().locked()


def test_reads_do_not_take_the_lock():

    with transaction.atomic():
        row("held")
        seen = []
        thread, errors = in_thread(lambda: seen.append(Session.objects.count()))
        thread.join(30)
        assert errors == [] and seen  # read while this transaction holds the lock
