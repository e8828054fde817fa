"""Local password sign-in (Argon2), the one form of a username, and the throttle on repeated failures."""
import hashlib
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from office import safe_cache as cache


def normalise_username(username):
    """The one form of a username for every lookup and for the throttle: NFKC, then case-folded.

    'ｗａｎｇｆａｎｇ' and 'WangFang' are both 'wangfang': a new spelling gets no fresh lockout budget.
    """
    if not isinstance(username, str):
        return username
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold()).strip()


class LocalBackend(ModelBackend):
    """Local accounts: the embedded default's demo people and the break-glass administrator."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or not password:
            return None
        model = get_user_model()
        found = list(model._default_manager.filter(username__iexact=normalise_username(username))[:2])
        matches = [p for p in found if normalise_username(p.username) == normalise_username(username)]
        if len(matches) != 1:
            model().set_password(password)  # the same work as a real check: no timing hint
            return None
        person = matches[0]
        if person.check_password(password) and self.user_can_authenticate(person):
            return person
        return None


def _key(kind, value):
    digest = hashlib.sha256(str(value).encode("utf-8", "replace")).hexdigest()[:32]
    return f"yw:login-fail:{kind}:{digest}"


class Throttle:
    """Counts failures per account and per address; both lock for LOGIN_LOCKOUT_SECONDS.

    Only wrong credentials count (the caller decides): a directory outage is nobody's failed password.
    """

    def __init__(self, username, ip):
        self.keys = [_key("user", normalise_username(username or "")), _key("ip", ip or "")]
        self.limits = [settings.LOGIN_MAX_FAILURES, settings.LOGIN_MAX_FAILURES * 4]

    def locked(self):
        counts = cache.get_many(self.keys)
        return any(counts.get(k, 0) >= limit for k, limit in zip(self.keys, self.limits))

    def fail(self):
        for key in self.keys:
            cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)

    def clear(self):
        cache.delete(self.keys[0])
