"""Strict readers of the environment for office/settings.py.

Every helper raises ImproperlyConfigured with one readable line on a bad value, so a
mistyped variable stops start-up instead of silently falling back to a default.
"""
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default=None):
    value = os.environ.get(name)
    if value is None:
        return default
    if "\x00" in value:
        raise ImproperlyConfigured(f"{name} contains a NUL byte")
    return value


def env_secret(name, default=None):
    """NAME, or the contents of the file named by NAME_FILE (stripped)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        if os.environ.get(name):
            raise ImproperlyConfigured(f"set either {name} or {name}_FILE, not both")
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc.strerror}") from None
    return env_str(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name, default=None, *, minimum=None, maximum=None):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}")
    return number


def env_list(name, default=()):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_database_url(url, *, name="DATABASE_URL"):
    """postgres://user:pass@host:port/db or sqlite:///path → a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        if not parsed.path.strip("/"):
            raise ImproperlyConfigured(f"{name}: no database name in {url!r}")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        try:
            port = parsed.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}: bad port in {url!r}") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(port or ""),
            # Under ASGI persistent connections leak; psycopg's pool is used instead.
            "CONN_MAX_AGE": 0,
            # Each pooled connection is checked when taken (one round trip): after a PostgreSQL
            # restart the dead ones are replaced instead of failing one request each.
            "CONN_HEALTH_CHECKS": True,
            # timeout: how long a request waits for a connection; while PostgreSQL is down every
            # request waits this long before its 503, so it is short.
            "OPTIONS": {"pool": {"min_size": 1, "max_size": 20, "timeout": 5}, **options},
        }
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite://"):]).lstrip("/") if url.startswith("sqlite:///") else ""
        if not path:
            raise ImproperlyConfigured(f"{name}: use sqlite:////absolute/path.sqlite3, not {url!r}")
        return {
            # Django's SQLite backend, its write transactions queued on a lock within the process
            # instead of sleeping in SQLite's busy handler (office/dbbackends/sqlite3/base.py).
            "ENGINE": "office.dbbackends.sqlite3",
            "NAME": "/" + path,
            # WAL: readers never wait for the writer, and with synchronous=NORMAL a commit is a write
            # to the log rather than an fsync (the database stays consistent after a crash; at most
            # the last commits before a power loss are lost). Each commit otherwise cost ~2 ms of
            # fsync, five per sign-in, all serialised behind SQLite's one writer.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    raise ImproperlyConfigured(f"{name}: unsupported scheme {parsed.scheme!r} (use postgres:// or sqlite:///)")
