"""Django's database sessions with one write per sign-in instead of three statements.

Django's login() calls cycle_key(), which stores a session under a new key at once (after a SELECT
asking whether the key is taken), and the session middleware then stores it again with the signed-in
person in it (an UPDATE). Here cycle_key() drops the old key at once, as Django's does (no session
fixation), but the new key is made and stored by the middleware's one save at the end of the
request, with the final data. A new key is not looked up first: the INSERT itself refuses a taken
key (the primary key), which Django turns into CreateError and a fresh key.
"""
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self):
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self):
        data = self._session
        key = self.session_key
        self._session_key = None  # stored under a new key by save(), i.e. create(), at the end of the request
        self._session_cache = data
        self.modified = True
        if key:
            self.delete(key)
