"""The one settings module of Yiwangtong, read from the environment (see README)."""
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from office.env import (
    env_bool,
    env_int,
    env_list,
    env_secret,
    env_str,
    parse_database_url,
)
from office.storage_config import storages_setting

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("YW_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    key = env_secret("SECRET_KEY")
    if key is not None:
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return key
    # Embedded default: generate once, keep it under var/.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "office.apps.OfficeConfig",
    "documents.apps.DocumentsConfig",
    "documents.archive.apps.ArchiveConfig",
    "meetings.apps.MeetingsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "office.middleware.ApiJsonErrorsMiddleware",
    "office.middleware.NulBytesMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "office.middleware.CurrentPostMiddleware",
    "office.middleware.PersonLanguageMiddleware",
    "office.middleware.BodyTooLargeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "office.urls"
ASGI_APPLICATION = "asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "office.context.shell",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------
DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'yiwangtong.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so that a test server in another process sees the test data.
    # One file per test run, so that runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- channel layer and cache -------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8: no socket timeout on the blocking read, and a large pool
                # (platform.md, channels_redis #422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 10000}],
                "capacity": 5000,
                "expiry": 60,
                "group_expiry": 86400,
                "prefix": env_str("YW_CHANNEL_PREFIX", "yw"),
            },
        }
    }
    # The cache may live in its own Redis database: its clear() is a FLUSHDB.
    CACHE_URL = env_str("CACHE_URL", REDIS_URL)
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r} must start with redis://, rediss:// or unix://")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "KEY_PREFIX": env_str("YW_CHANNEL_PREFIX", "yw")}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Seconds between re-joins of the event bus group by each process's hub (office/hub.py).
YW_EVENT_BUS_REFRESH = env_int("YW_EVENT_BUS_REFRESH", 30, minimum=1, maximum=3600)

# --- authentication -----------------------------------------------------------------------
AUTH_USER_MODEL = "office.Person"
AUTHENTICATION_BACKENDS = ["office.auth.LocalBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_HTTPONLY = True
# Database sessions, stored once per sign-in rather than three times (office/sessions.py).
SESSION_ENGINE = "office.sessions"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Throttling of sign-in failures (per account and per address).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300, minimum=1)
# The client address behind a reverse proxy: X-Forwarded-For is believed only when the request comes
# from one of these addresses or networks ("unix" = a proxy on daphne's unix socket).
YW_TRUSTED_PROXIES = env_list("YW_TRUSTED_PROXIES", [])

# --- LDAP (issue 3) -----------------------------------------------------------------------
LDAP_URL = env_list("LDAP_URL", [])
LDAP_BIND_DN = env_str("LDAP_BIND_DN", "")
LDAP_BIND_PASSWORD = env_secret("LDAP_BIND_PASSWORD", "")
LDAP_USER_BASE = env_str("LDAP_USER_BASE", "")
LDAP_USER_FILTER = env_str("LDAP_USER_FILTER", "(uid={username})")
LDAP_GROUP_BASE = env_str("LDAP_GROUP_BASE", "")
LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
LDAP_CA_FILE = env_str("LDAP_CA_FILE", "")
LDAP_TIMEOUT = env_int("LDAP_TIMEOUT", 5, minimum=1, maximum=120)
# Where the ou tree of units lives (default: LDAP_USER_BASE), and which attributes carry what.
LDAP_UNIT_BASE = env_str("LDAP_UNIT_BASE", "")
LDAP_UNIT_CODE_ATTR = env_str("LDAP_UNIT_CODE_ATTR", "businessCategory")  # on an ou: its admin code
LDAP_PERSON_UNIT_ATTR = env_str("LDAP_PERSON_UNIT_ATTR", "departmentNumber")  # on a person: unit codes
LDAP_GROUP_FILTER = env_str("LDAP_GROUP_FILTER", "(|(member={dn})(uniqueMember={dn}))")
LDAP_MEMBEROF_ATTR = env_str("LDAP_MEMBEROF_ATTR", "memberOf")
from office.ldap_config import parse_attr_map, parse_group_role_map  # noqa: E402

LDAP_ATTR_MAP = parse_attr_map(env_str("LDAP_ATTR_MAP", ""))
LDAP_GROUP_ROLE_MAP = parse_group_role_map(env_str("LDAP_GROUP_ROLE_MAP"))
LDAP_DISABLED_ATTR = env_str("LDAP_DISABLED_ATTR", "")  # e.g. employeeType, nsAccountLock, userAccountControl
LDAP_DISABLED_VALUES = env_list("LDAP_DISABLED_VALUES", [])  # empty: the attribute's presence disables
LDAP_RECHECK_SECONDS = env_int("LDAP_RECHECK_SECONDS", 300, minimum=0)
# Sign-in only for members of LDAP_REQUIRE_GROUP (if set) and never for members of LDAP_DENY_GROUP
# (a cn or a full DN, like the keys of LDAP_GROUP_ROLE_MAP).
LDAP_REQUIRE_GROUP = env_str("LDAP_REQUIRE_GROUP", "")
LDAP_DENY_GROUP = env_str("LDAP_DENY_GROUP", "")
# Groups within groups: "off", "search" (follow groupOfNames members up, any server) or "in_chain"
# (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN in the group search).
LDAP_NESTED_GROUPS = env_str("LDAP_NESTED_GROUPS", "off")
if LDAP_NESTED_GROUPS not in ("off", "search", "in_chain"):
    raise ImproperlyConfigured(f"LDAP_NESTED_GROUPS={LDAP_NESTED_GROUPS!r}: use off, search or in_chain")
# A server that failed is tried last for this many seconds; a request waits at most
# LDAP_RECHECK_WAIT_MS for a re-check before the page is served (the re-check finishes behind it).
LDAP_DEAD_SECONDS = env_int("LDAP_DEAD_SECONDS", 60, minimum=0, maximum=3600)
LDAP_RECHECK_WAIT_MS = env_int("LDAP_RECHECK_WAIT_MS", 300, minimum=0, maximum=60000)
# The directory backend goes first: it checks every username (NUL, UTF-8, length) and hands local
# accounts to the local backend without asking the directory; without LDAP_URL it signs in nobody.
AUTHENTICATION_BACKENDS = ["office.ldap.LDAPBackend", *AUTHENTICATION_BACKENDS]

# --- i18n and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- files --------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# The embedded default serves /static/ itself; behind a reverse proxy set YW_SERVE_STATIC=0.
YW_SERVE_STATIC = env_bool("YW_SERVE_STATIC", True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Files go through Django's storage API (office/storage.py): the local disk under MEDIA_ROOT, or an
# S3-compatible bucket when S3_ENDPOINT_URL is set (then nothing is written under MEDIA_ROOT).
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL", "")
STORAGES = storages_setting({
    "endpoint_url": S3_ENDPOINT_URL,
    "bucket": env_str("S3_BUCKET", ""),
    "access_key": env_str("S3_ACCESS_KEY_ID", ""),
    "secret_key": env_secret("S3_SECRET_ACCESS_KEY", ""),
    "region": env_str("S3_REGION", "us-east-1"),
    "addressing_style": env_str("S3_ADDRESSING_STYLE", "path"),
} if S3_ENDPOINT_URL else None)
# Where an SFU worker writes a recording while it runs, before it goes into storage (local disk).
YW_SPOOL_DIR = Path(env_str("YW_SPOOL_DIR", str(VAR_DIR / "spool")))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
YW_MAX_UPLOAD_BYTES = env_int("YW_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1024)
# A training's recording watched to this share (per cent) counts as completed by replay (回放).
TRAINING_REPLAY_PERCENT = env_int("TRAINING_REPLAY_PERCENT", 80, minimum=1, maximum=100)
# office/uploads.py: a multipart upload stops at YW_MAX_UPLOAD_BYTES while it streams in
FILE_UPLOAD_HANDLERS = [
    "office.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- meetings -----------------------------------------------------------------------------
SFU_WORKERS = env_str("SFU_WORKERS", "embedded")
if SFU_WORKERS not in ("embedded", "external"):
    raise ImproperlyConfigured(f"SFU_WORKERS={SFU_WORKERS!r} must be 'embedded' or 'external'")
# SFU_PLACEMENT (external workers): "room" puts a whole room on one worker; "viewer" puts each
# viewer on the least-loaded worker and pipes the room's media between its workers (cascade).
SFU_PLACEMENT = env_str("SFU_PLACEMENT", "room")
if SFU_PLACEMENT not in ("room", "viewer"):
    raise ImproperlyConfigured(f"SFU_PLACEMENT={SFU_PLACEMENT!r} must be 'room' or 'viewer'")
SFU_PIPE_BIND = env_str("SFU_PIPE_BIND", "127.0.0.1")  # where a worker listens for other workers' pipes
SFU_PIPE_ADVERTISE = env_str("SFU_PIPE_ADVERTISE", "")  # the address others dial (default: the bind)
# Admission control (meetings/sfu/admission.py): joins worked on at once per SFU event loop at most
# (0: no limit; fewer while the loop lags), and how many may wait ("正在进入…") before further ones
# are refused to retry later.
SFU_MAX_JOINING = env_int("SFU_MAX_JOINING", 32, minimum=0)
SFU_MAX_QUEUE = env_int("SFU_MAX_QUEUE", 3000, minimum=0)
STUN_URLS = env_list("STUN_URLS", [])
TURN_URLS = env_list("TURN_URLS", [])
TURN_USERNAME = env_str("TURN_USERNAME", "")
TURN_PASSWORD = env_secret("TURN_PASSWORD", "")
# coturn's use-auth-secret: each signed-in person gets credentials of their own, valid this long
TURN_SECRET = env_secret("TURN_SECRET", "")
TURN_CREDENTIAL_TTL = env_int("TURN_CREDENTIAL_TTL", 86400, minimum=60, maximum=7 * 86400)

# --- periodic jobs (office/scheduler.py) ------------------------------------------------------
YW_JOBS = env_list("YW_JOBS", ["documents.reminders.run_reminders", "meetings.actions.send_reminders",
                               "documents.archive.jobs.verify_fixity"])
YW_JOBS_IN_PROCESS = env_bool("YW_JOBS_IN_PROCESS", True)
YW_JOBS_INTERVAL = env_int("YW_JOBS_INTERVAL", 60, minimum=5, maximum=3600)
# The archive's periodic fixity pass: components per job run, hours between two full passes.
ARCHIVE_FIXITY_CHUNK = env_int("ARCHIVE_FIXITY_CHUNK", 200, minimum=1, maximum=100000)
ARCHIVE_FIXITY_INTERVAL_HOURS = env_int("ARCHIVE_FIXITY_INTERVAL_HOURS", 24, minimum=0, maximum=24 * 365)
DOCUMENTS_ESCALATE_AFTER_HOURS = env_int("DOCUMENTS_ESCALATE_AFTER_HOURS", 24, minimum=1, maximum=24 * 30)

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
