"""A throwaway PostgreSQL cluster (Debian's server binaries) for fault tests and benchmarks.

`Postgres(workdir).start()` runs initdb once (trust authentication, user postgres) and starts the
server on a free loopback port with pg_ctl; stop(), kill() (SIGKILL of the postmaster: a crash) and
start() again restart it on the same port with the same data. Never touches the machine's own
PostgreSQL. As root, the server runs as the `postgres` system user (initdb refuses root).
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL server binary {name} not found (apt-get install postgresql)")
    return found[-1]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.data = self.dir / "data"
        self.port = port or free_port()
        self.as_user = None
        if os.geteuid() == 0:
            self.as_user = "postgres"
            pwd.getpwnam(self.as_user)  # the Debian package's system user
            # pytest's and mkdtemp's folders are private to root: the server gets its own under /tmp.
            self.dir = Path(tempfile.mkdtemp(prefix="yw-pg-"))
            self.data = self.dir / "data"

    def _run(self, args, **kwargs):
        if self.as_user:
            args = ["runuser", "-u", self.as_user, "--", *args]
        return subprocess.run(args, capture_output=True, text=True, **kwargs)

    def url(self, name="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _init(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.dir, self.as_user, self.as_user)
        done = self._run([_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync"])
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")

    def start(self, timeout=60, **conf):
        if not (self.data / "PG_VERSION").exists():
            self._init()
        options = [f"-p {self.port}", f"-k {self.dir}", "-c listen_addresses=127.0.0.1", "-c max_connections=200"]
        options += [f"-c {k}={v}" for k, v in conf.items()]
        done = self._run([_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                          "-t", str(timeout), "-o", " ".join(options), "start"])
        if done.returncode != 0:
            log = (self.dir / "server.log").read_text(errors="replace")[-2000:] if (self.dir / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-1000:]} {log}")
        return self

    def pid(self):
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, mode="fast"):
        self._run([_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def kill(self):
        """A crash: SIGKILL the postmaster (its backends die with it); start() recovers the data."""
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        # orphaned backends exit when they notice the postmaster is gone; wait for the port to free
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    break
            time.sleep(0.1)

    def createdb(self, name):
        done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                               "-c", f'CREATE DATABASE "{name}"'], capture_output=True, text=True)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise RuntimeError(f"createdb failed: {done.stderr}")
        return self.url(name)

    def destroy(self):
        self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
