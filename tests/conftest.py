"""Shared test base: the small organisation, named personas, real servers and a real browser."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

BASE_DIR = Path(__file__).resolve().parent.parent


def _retry_flush():
    """A browser test's last page closes while the test database is reset: daphne may still be
    writing (a participant's leave), and on PostgreSQL the reset's TRUNCATE can deadlock with
    that write. PostgreSQL aborts one of the two; the reset is simply tried again."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, **options):
        for attempt in range(6):
            try:
                return original(self, **options)
            except CommandError as exc:
                if "couldn't be flushed" not in str(exc) or attempt == 5:
                    raise
                time.sleep(0.5 * (attempt + 1))

    flush.Command.handle = handle


_retry_flush()


def pytest_sessionstart(session):
    """SQLite runs in WAL mode: a -wal/-shm pair left beside a test database of an earlier run whose
    process id this run has again (a crash, a killed server) must not be replayed into the new one."""
    from django.conf import settings

    # No periodic-jobs thread in the test process (asgi.py starts one when a test imports it), as
    # none in the daphnes the tests start: its passes would write to the test database between
    # tests, and its connection was still open when the database was dropped at the end.
    settings.YW_JOBS_IN_PROCESS = False
    db = settings.DATABASES["default"]
    name = db.get("TEST", {}).get("NAME")
    if db["ENGINE"].endswith("sqlite3") and name and not session.config.getoption("reuse_db", False):
        for stale in (name, name + "-wal", name + "-shm", name + "-journal"):
            if os.path.exists(stale):
                os.remove(stale)  # the test database is created afresh anyway


PASSWORD = "Demo-2026!"

PERSONAS = [
    "city_leader", "city_deputy", "city_secretary", "city_office_secretary", "city_finance_secretary",
    "archivist", "admin", "county_leader", "county_secretary", "county_handler", "town_leader",
    "town_secretary", "village_cadre", "village_cadre2", "outsider",
]


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware leaves a request's language active on the thread; code that a test
    then calls outside a request must see the suite's default language again."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def _media_of_this_run(tmp_path_factory):
    """Files the tests store go to a folder of this run, not var/media: a sealed PDF left there by
    one run (documents/1/issued.pdf) would be taken as the issued file of the next run's document 1
    (and refused, having no recorded checksum in the fresh database). Servers started by the tests
    inherit it through the environment."""
    from django.test.utils import override_settings

    media = tmp_path_factory.mktemp("media")
    os.environ["MEDIA_ROOT"] = str(media)
    with override_settings(MEDIA_ROOT=media):
        yield media


@pytest.fixture(autouse=True)
def _local_cache(settings):
    """The test process caches in memory: Django's RedisCache.clear() is a FLUSHDB, which would
    also wipe the channel layer's groups that server processes under test keep in that Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "yw-tests"}}


@pytest.fixture(autouse=True)
def _fresh_directory_state():
    """The directory's service and password connections and the ou entries read at sign-in are kept
    per process for the next sign-in, and a failed re-check is remembered until one succeeds; a test
    that stops, hangs, changes or replaces a directory server must find none of them left by an
    earlier test."""
    yield
    from office import ldap

    ldap.service_connections.clear()
    ldap.password_connections.clear()
    ldap._ou_entries.clear()
    ldap._failing_since = None


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each async test runs on its own event loop; the channel layer (channels_redis keeps
    asyncio locks bound to the loop that first used them) and the event hub's listener must not
    outlive it. In a server there is one loop for the process's life, so this is tests only."""
    yield
    from channels.layers import channel_layers

    from office.hub import hub

    listener = hub.listener
    if listener is not None and not listener.done():
        try:
            listener.cancel()
        except RuntimeError:  # its loop is already closed
            pass
    hub.listener = hub.loop = hub.channel_name = None
    hub.by_key.clear()
    channel_layers.backends.clear()


@pytest.fixture
def seed_small(db):
    """The small four-level organisation of office/seed.py build_small()."""
    from office.seed import build_small

    return build_small()


@pytest.fixture
def units(seed_small):
    return seed_small[0]


def _persona_fixture(name):
    @pytest.fixture(name=name)
    def persona(seed_small):
        return seed_small[1][name]

    persona.__doc__ = f"The persona {name} (see tests/conftest.py and office/seed.py)."
    return persona


for _name in PERSONAS:
    globals()[f"persona_{_name}"] = _persona_fixture(_name)


@pytest.fixture
def county_admin(units):
    """秦都区's unit administrator (an administrator post of the county government): administers
    秦都区 and below, not 乾县 nor the city; not a system administrator."""
    from tests.admin_support import unit_admin

    return unit_admin(units, short_name="秦都区", username="qindu_admin", display_name="秦都区管理员")


@pytest.fixture
def client_for():
    def make(person):
        client = Client()
        client.force_login(person)
        return client

    return make


@pytest.fixture
def api_client_for(client_for):
    return client_for


# ---- real server processes ---------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url_for_tests():
    """The URL of the database the tests use, for a server started in another process."""
    from django.db import connection

    d = connection.settings_dict
    if d["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{d['NAME']}"
    auth = d["USER"] + (f":{d['PASSWORD']}" if d["PASSWORD"] else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


class ServerProcess:
    """A real daphne serving asgi:application on a free loopback port (or on `bind`'s address)."""

    def __init__(self, env=None, port=None, bind="127.0.0.1"):
        self.port = port or free_port()
        self.bind = bind
        self.url = f"http://{bind}:{self.port}"
        # Test servers run no periodic jobs: tests call the jobs themselves, and a job thread
        # writing while the test database is reset between tests could deadlock the reset.
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", "YW_JOBS_IN_PROCESS": "0",
                    **(env or {})}
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"yw-daphne-{self.port}.log"
        self.proc = None

    def start(self, timeout=30):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", self.bind, "-p", str(self.port), "asgi:application"],
            cwd=BASE_DIR, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/login/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"daphne did not start: {self.log_path.read_text(errors='replace')[-2000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with no connection left on it when it is dropped at the end:
    the thread that runs async tests' sync_to_async calls keeps its own open, and PostgreSQL
    refuses to drop a database in use ("is being accessed by other users")."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture(scope="session")
def server_factory(django_db_setup, django_db_blocker):
    """Starts daphne processes on the test database; all are stopped at the end of the session."""
    started = []
    with django_db_blocker.unblock():
        db_url = database_url_for_tests()

    def start(env=None, bind="127.0.0.1"):
        server = ServerProcess({"DATABASE_URL": db_url, **(env or {})}, bind=bind).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def live_server_url(server_factory):
    """One daphne for the browser tests (same channel layer settings as the tests)."""
    return server_factory().url


# ---- a real browser ------------------------------------------------------------------------
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread while it is open, which would
    # break the async tests that follow: so one browser per module, closed with it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_page(browser):
    """new_page(width=1366, height=768) → a page in a fresh context (its own cookies)."""
    contexts = []

    def make(width=1366, height=768, **kwargs):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", **kwargs)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def login(page, base_url, username, password=PASSWORD):
    page.goto(base_url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


# ---- object storage (SeaweedFS) ---------------------------------------------------------------
@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One real SeaweedFS S3 gateway for the session (tests/seaweed.py)."""
    from tests.seaweed import Seaweed

    server = Seaweed(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_storage(seaweed, settings, tmp_path):
    """Files go to the real SeaweedFS, as with S3_ENDPOINT_URL set (one bucket for the session, a
    fresh key prefix per test); MEDIA_ROOT is an empty folder that must stay empty.
    Yields (seaweed, bucket, prefix)."""
    import uuid

    from office.storage_config import storages_setting

    bucket = seaweed.create_bucket("yw-tests")
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    env = seaweed.settings(bucket)
    storages = storages_setting({
        "endpoint_url": env["S3_ENDPOINT_URL"], "bucket": bucket, "access_key": env["S3_ACCESS_KEY_ID"],
        "secret_key": env["S3_SECRET_ACCESS_KEY"], "region": env["S3_REGION"], "addressing_style": "path"})
    storages["default"]["OPTIONS"]["location"] = prefix
    settings.STORAGES = storages
    settings.MEDIA_ROOT = tmp_path / "media-stays-empty"
    yield seaweed, bucket, prefix


@pytest.fixture(params=["local", "s3"])
def any_storage(request, settings, tmp_path):
    """Run a test against the local disk and against SeaweedFS."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.YW_SPOOL_DIR = tmp_path / "spool"
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


@pytest.fixture
def receiver():
    """A UDP socket on loopback that a test sends RTP to (the SFU's send paths), 2 s to read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()
