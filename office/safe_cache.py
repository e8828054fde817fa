"""The cache as sign-in uses it (throttle counts, directory re-check marks), surviving a Redis outage.

Django's Redis cache raises when Redis is down, which would turn every sign-in into a 500. While the
shared cache fails, these calls use a per-process memory cache instead (the throttle then counts per
process, which still stops a brute force), and the shared cache is used again once it answers.
"""
import logging
import time

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

log = logging.getLogger("office.cache")
_local = LocMemCache("yw-safe-cache-fallback", {"OPTIONS": {"MAX_ENTRIES": 100000}})
_warned = [0.0]


def _call(name, *args, **kwargs):
    try:
        return getattr(cache, name)(*args, **kwargs)
    except ValueError:
        raise  # incr() of a missing key: the caller handles it
    except Exception as exc:  # noqa: BLE001 - redis.ConnectionError, TimeoutError, …
        if time.monotonic() - _warned[0] > 30:
            _warned[0] = time.monotonic()
            log.warning("shared cache unavailable (%s): using this process's memory", exc.__class__.__name__)
        return getattr(_local, name)(*args, **kwargs)


def get(key, default=None):
    return _call("get", key, default)


def get_many(keys):
    return _call("get_many", keys)


def set(key, value, timeout):  # noqa: A001 - the cache's own name
    return _call("set", key, value, timeout)


def add(key, value, timeout):
    return _call("add", key, value, timeout)


def incr(key):
    return _call("incr", key)


def delete(key):
    return _call("delete", key)
