"""Django's SQLite backend, with the write transactions of one process queued on a Python lock.

SQLite has one writer at a time. Django starts every transaction with BEGIN IMMEDIATE (the write lock
at once, settings: transaction_mode); a connection that finds the lock taken is put to sleep by
SQLite's busy handler, for 1, 2, 5, 10 … up to 100 ms at a time, and is not woken when the lock is
released. Under ASGI every request has a thread and a connection of its own: with fifty sign-ins at
once the holder waits for Python's GIL between its statements while the others sleep in growing
steps, and the last ones sleep on after the lock is free (measured: the p99 of 50 concurrent
sign-ins well above their CPU time). Here the threads of one process wait for each other's write
transactions on a lock that hands over as soon as it is released; SQLite's own lock and busy timeout
still order the writers of different processes. Reads do not take it.
"""
import threading

from django.db.backends.sqlite3 import base

Database = base.Database

_locks = {}
_locks_guard = threading.Lock()


def _writer_lock(name):
    with _locks_guard:
        return _locks.setdefault(str(name), threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    _yw_holds_writer_lock = False

    def _writer_lock_wanted(self):
        return (self.transaction_mode or "").upper() in ("IMMEDIATE", "EXCLUSIVE") and not self.is_in_memory_db()

    def _start_transaction_under_autocommit(self):
        if not self._writer_lock_wanted():
            return super()._start_transaction_under_autocommit()
        lock = _writer_lock(self.settings_dict["NAME"])
        # The same limit as SQLite's busy timeout ("timeout" in OPTIONS): then the same error.
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not lock.acquire(timeout=timeout):
            raise base.Database.OperationalError("database is locked")
        self._yw_holds_writer_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _release_writer_lock(self):
        if self._yw_holds_writer_lock:
            self._yw_holds_writer_lock = False
            _writer_lock(self.settings_dict["NAME"]).release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer_lock()
