"""Services of the fault tests' own, which the tests stop, kill and restart: a redis-server, a
PostgreSQL cluster (tests/pg_server.py) with the demo organisation, and daphne processes on them.
Never the machine's own PostgreSQL or Redis."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.pg_server import Postgres, free_port

BASE_DIR = Path(__file__).resolve().parent.parent


class Redis:
    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def manage(env, *args, timeout=600):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def seeded_postgres(workdir):
    """Our own PostgreSQL with the migrated schema and the small demo organisation."""
    pg = Postgres(Path(workdir) / "pg").start()
    url = pg.createdb("yw_faults")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", "DATABASE_URL": url,
           "YW_VAR_DIR": str(Path(workdir) / "var")}
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--no-input")
    manage(env, "seed_demo", "--size", "small")
    return pg, url
