"""Local password sign-in (Argon2) and the throttle on repeated failures."""
import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache


class LocalBackend(ModelBackend):
    """Local accounts: the embedded default's demo people and the break-glass administrator."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or not password:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _key(kind, value):
    digest = hashlib.sha256(str(value).encode("utf-8", "replace")).hexdigest()[:32]
    return f"yw:login-fail:{kind}:{digest}"


class Throttle:
    """Counts failures per account and per address; both lock for LOGIN_LOCKOUT_SECONDS."""

    def __init__(self, username, ip):
        self.keys = [_key("user", (username or "").lower()), _key("ip", ip or "")]
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
