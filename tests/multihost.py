"""Three hosts from network namespaces, running the suite as deploy/ describes it.

    cluster = Cluster(workdir).start()
      services host  (namespace yw-mh-<pid>-svc):  its OWN PostgreSQL, Redis and SeaweedFS
      app hosts 1, 2 (yw-mh-<pid>-app1/-app2):     two daphne units and one SFU worker unit each,
                                                    started from deploy/systemd/*.service with the
                                                    env file rendered from deploy/env.template
      nginx          (this machine's namespace):    deploy/nginx/yiwangtong.conf, on 127.0.0.1
    cluster.url                  → nginx
    cluster.daphnes              → [Unit(host, port, proc)], cluster.kill(unit)
    cluster.upstreams_of(text)   → the daphne addresses nginx used for requests matching text
    cluster.close()              → everything stopped, namespaces, links and the bridge removed

The hosts sit on a bridge of this machine (10.215.N.0/24, N from the pid); nothing leaves the
machine. Needs root (CI runs as root), Debian's nginx, PostgreSQL and redis-server binaries.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.seaweed import Seaweed

BASE_DIR = Path(__file__).resolve().parent.parent
DEPLOY = BASE_DIR / "deploy"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PREFIX = "yw-mh-"
SEAL_PASSPHRASE = "multihost-seal-passphrase"


def _run(*args, check=True, timeout=60, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout, **kw)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale():
    out = _run("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        m = re.match(rf"{re.escape(PREFIX)}(\d+)-(\w+)", line.strip())
        if m and not _alive(int(m.group(1))):
            _run("ip", "netns", "del", f"{PREFIX}{m.group(1)}-{m.group(2)}", check=False)
            _run("ip", "link", "del", f"ywmb{m.group(1)}"[:15], check=False)


def render_env(values: dict) -> str:
    """deploy/env.template with every ${NAME} filled in (a missing value is an error)."""
    text = (DEPLOY / "env.template").read_text()
    names = set(re.findall(r"\$\{(\w+)\}", text))
    missing = names - set(values)
    if missing:
        raise KeyError(f"deploy/env.template needs {sorted(missing)}")
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


def parse_env(text: str) -> dict:
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def unit_command(unit_file: str, instance: str, env: dict) -> tuple[list[str], Path]:
    """ExecStart and WorkingDirectory of a deploy/systemd unit, as systemd would run them here
    (/opt/yiwangtong is this checkout, %i the instance, ${X} from the environment file)."""
    text = (DEPLOY / "systemd" / unit_file).read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", text, re.M).group(1)
    workdir = re.search(r"^WorkingDirectory=(.+)$", text, re.M).group(1)
    assert re.search(r"^EnvironmentFile=/etc/yiwangtong/env$", text, re.M), unit_file
    exec_start = exec_start.replace("%i", instance)
    exec_start = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], exec_start)
    args = [a.replace("/opt/yiwangtong", str(BASE_DIR)) for a in shlex.split(exec_start)]
    return args, Path(workdir.replace("/opt/yiwangtong", str(BASE_DIR)))


def start_nginx(root, upstreams, port, static_root, *, connections=4096, workers=1):
    """Debian's nginx with deploy/nginx/yiwangtong.conf in front of the daphnes at `upstreams`
    ("host:port"), listening on 127.0.0.1:`port`; its own prefix under `root`; `connections` per
    worker process (file descriptors within this process's hard limit).
    Returns (process, access log path); the caller stops the process."""
    import resource

    root = Path(root)
    files = min(connections * 2 + 100, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    connections = min(connections, files - 100)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    site = (DEPLOY / "nginx" / "yiwangtong.conf").read_text()
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=10s;" for u in upstreams)
    site = (site.replace("@UPSTREAM_SERVERS@", servers).replace("@LISTEN@", f"127.0.0.1:{port}")
            .replace("@SERVER_NAME@", "127.0.0.1").replace("@ACCESS_LOG@", str(root / "logs" / "access.log"))
            .replace("@STATIC_ROOT@", str(static_root)))
    assert "@" not in re.sub(r"#.*", "", site), "an unfilled @...@ in deploy/nginx/yiwangtong.conf"
    (root / "yiwangtong.conf").write_text(site)
    # its workers run as this user: they spool large responses under `root` (proxy_temp_path)
    user = "" if os.geteuid() else "user root;\n"
    (root / "nginx.conf").write_text(
        f"{user}pid {root}/nginx.pid;\nerror_log {root}/logs/error.log warn;\nworker_processes {workers};\n"
        f"worker_rlimit_nofile {files};\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  client_body_temp_path {root}/body;\n"
        f"  proxy_temp_path {root}/proxy;\n  include {root}/yiwangtong.conf;\n}}\n")
    _run("nginx", "-t", "-p", str(root), "-c", str(root / "nginx.conf"))
    proc = subprocess.Popen(["nginx", "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                            stdout=open(root / "logs" / "stdout.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, root / "logs" / "access.log"


@dataclass
class Unit:
    host: str
    address: str
    port: int | None
    proc: subprocess.Popen
    log: Path
    channel: str | None = None  # an SFU worker's channel name

    @property
    def upstream(self):
        return f"{self.address}:{self.port}"


class Cluster:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.pid = os.getpid()
        n = self.pid % 250 + 1
        self.net = f"10.215.{n}"
        self.bridge = f"ywmb{self.pid}"[:15]
        self.hosts = {"svc": f"{self.net}.2", "app1": f"{self.net}.3", "app2": f"{self.net}.4"}
        self.procs: list[subprocess.Popen] = []
        self.daphnes: list[Unit] = []
        self.workers: list[Unit] = []
        self.created = []
        self.seaweed = None
        self.pg_dir = None

    def ns(self, host):
        return f"{PREFIX}{self.pid}-{host}"

    def in_ns(self, host, *args):
        return ["ip", "netns", "exec", self.ns(host), *args]

    # ------------------------------------------------------------------ network
    def _network(self):
        remove_stale()
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        self.created.append(("link", self.bridge))
        _run("ip", "addr", "add", f"{self.net}.1/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for i, (host, address) in enumerate(self.hosts.items()):
            _run("ip", "netns", "add", self.ns(host))
            self.created.append(("netns", self.ns(host)))
            outer, inner = f"ywm{self.pid % 100000}{i}o"[:15], f"ywm{self.pid % 100000}{i}i"[:15]
            _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            self.created.append(("link", outer))
            _run("ip", "link", "set", inner, "netns", self.ns(host))
            _run("ip", "link", "set", outer, "master", self.bridge)
            _run("ip", "link", "set", outer, "up")
            _run(*self.in_ns(host, "ip", "link", "set", "lo", "up"))
            _run(*self.in_ns(host, "ip", "addr", "add", f"{address}/24", "dev", inner))
            _run(*self.in_ns(host, "ip", "link", "set", inner, "up"))
            _run(*self.in_ns(host, "ip", "route", "add", "default", "via", f"{self.net}.1"))

    def _spawn(self, host, args, log_name, env=None, cwd=BASE_DIR):
        log = self.workdir / log_name
        proc = subprocess.Popen(self.in_ns(host, *args), cwd=cwd, env=env or os.environ.copy(),
                                stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc, log

    # ------------------------------------------------------------------ services host
    def _postgres(self):
        self.pg_dir = Path(tempfile.mkdtemp(prefix="yw-mh-pg-", dir="/tmp"))
        os.chmod(self.pg_dir, 0o755)
        data = self.pg_dir / "data"
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        _run("runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust",
             "-U", "postgres", timeout=120)
        with open(data / "pg_hba.conf", "a") as fh:
            fh.write(f"host all all {self.net}.0/24 trust\n")
        svc = self.hosts["svc"]
        self._spawn("svc", ["runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D", str(data),
                            "-c", f"listen_addresses={svc}", "-p", "5432", "-c", f"unix_socket_directories={data}",
                            "-c", "max_connections=200", "-c", "fsync=off"], "postgres.log")
        self._wait(lambda: _run("pg_isready", "-h", svc, "-p", "5432", check=False).returncode == 0, "postgres")
        _run("psql", "-h", svc, "-U", "postgres", "-qAtc", "CREATE DATABASE yiwangtong")

    def _redis(self):
        self._spawn("svc", ["redis-server", "--bind", self.hosts["svc"], "--port", "6379", "--save", "",
                            "--appendonly", "no", "--protected-mode", "no", "--dir", str(self.workdir)], "redis.log")
        self._wait(lambda: _run("redis-cli", "-h", self.hosts["svc"], "ping", check=False).stdout.strip() == "PONG",
                   "redis")

    def _wait(self, ok, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ok():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{what} did not come up: see {self.workdir}")

    # ------------------------------------------------------------------ app hosts
    def env_for(self, host):
        config = self.workdir / "etc"
        config.mkdir(exist_ok=True)
        (config / "s3-secret").write_text(self.seaweed.settings()["S3_SECRET_ACCESS_KEY"] + "\n")
        (config / "secret-key").write_text("multihost-secret-key-" + "x" * 40 + "\n")
        (config / "seal-passphrase").write_text(SEAL_PASSPHRASE + "\n")
        s3 = self.seaweed.settings("yiwangtong")
        text = render_env({
            "DATABASE_URL": f"postgres://postgres@{self.hosts['svc']}:5432/yiwangtong",
            "REDIS_URL": f"redis://{self.hosts['svc']}:6379/0",
            "S3_ENDPOINT_URL": s3["S3_ENDPOINT_URL"], "S3_BUCKET": "yiwangtong",
            "S3_ACCESS_KEY_ID": s3["S3_ACCESS_KEY_ID"], "CONFIG_DIR": str(config),
            "SERVER_NAME": "127.0.0.1", "PUBLIC_URL": f"http://127.0.0.1:{self.nginx_port}",
            # the same path on every host, as /var/lib/yiwangtong would be (a worker writes its
            # recording in its own spool there before it goes into the bucket)
            "VAR_DIR": str(self.workdir / "var"), "STATIC_ROOT": str(self.workdir / "static"),
            "HOST_ADDRESS": self.hosts.get(host, "127.0.0.1"), "PROXY_ADDRESSES": f"{self.net}.1",
        })
        (config / f"env-{host}").write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "DATABASE_URL", "REDIS_URL",
                                                                        "S3_", "YW_", "MEDIA_ROOT"))}
        env.update(parse_env(text))
        return env

    def manage(self, *args, timeout=600):
        return _run(sys.executable, "manage.py", *args, cwd=BASE_DIR, env=self.env_for("admin"), timeout=timeout)

    def start_daphne(self, host, port, extra=None):
        """A daphne unit on ``host``; ``extra``: environment on top of the rendered env file."""
        env = {**self.env_for(host), **(extra or {})}
        args, cwd = unit_command("yiwangtong-daphne@.service", str(port), env)
        proc, log = self._spawn(host, args, f"daphne-{host}-{port}.log", env=env, cwd=cwd)
        unit = Unit(host, self.hosts[host], port, proc, log)
        request = urllib.request.Request(f"http://{unit.upstream}/login/", headers={"Host": "127.0.0.1"})
        self._wait(lambda: urllib.request.urlopen(request, timeout=2).status == 200, f"daphne {unit.upstream}")
        return unit

    def start_worker(self, host, instance, extra=None):
        """An SFU worker unit on ``host``; ``unit.channel`` is its channel name (from its log)."""
        env = {**self.env_for(host), **(extra or {})}
        args, cwd = unit_command("yiwangtong-sfu@.service", str(instance), env)
        proc, log = self._spawn(host, args, f"sfu-{host}-{instance}.log", env=env, cwd=cwd)
        unit = Unit(host, self.hosts[host], None, proc, log)
        self._wait(lambda: "ready on" in log.read_text(errors="replace"), f"SFU worker on {host}")
        unit.channel = re.search(r"ready on (\S+)", log.read_text(errors="replace")).group(1)
        return unit

    # ------------------------------------------------------------------ nginx
    def _nginx(self):
        root = self.workdir / "nginx"
        proc, self.access_log = start_nginx(root, [u.upstream for u in self.daphnes], self.nginx_port,
                                            self.workdir / "static")
        self.procs.append(proc)
        self._wait(lambda: urllib.request.urlopen(self.url + "/login/", timeout=2).status == 200, "nginx")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.nginx_port}"

    def upstreams_of(self, pattern):
        """The daphnes nginx passed matching requests to (its access log), in order."""
        found = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            if re.search(pattern, line):
                m = re.search(r"upstream=(.+?) rt=", line)
                if m:  # "a, b" when nginx retried on b: the last one answered
                    found.append(re.split(r"[,:]\s", m.group(1))[-1].strip())
        return found

    # ------------------------------------------------------------------ lifecycle
    def start(self, ports=(8001, 8002)):
        from tests.conftest import free_port

        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root (CI runs as root)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nginx_port = free_port()
        try:
            self._network()
            self._postgres()
            self._redis()
            self.seaweed = Seaweed(self.workdir / "seaweed", ip=self.hosts["svc"],
                                   prefix=self.in_ns("svc")).start()
            self.procs.append(self.seaweed.proc)
            self.seaweed.create_bucket("yiwangtong")
            self.manage("migrate", "--noinput", "-v0")
            self.manage("collectstatic", "--noinput", "-v0")
            _run(sys.executable, "-c", "import django;django.setup();from office.seed import build_small;build_small()",
                 cwd=BASE_DIR, env=self.env_for("admin"), timeout=300)
            for host in ("app1", "app2"):
                for port in ports:
                    self.daphnes.append(self.start_daphne(host, port))
                self.workers.append(self.start_worker(host, 1))
            self._nginx()
        except Exception:
            self.close()
            raise
        return self

    def kill(self, unit, sig=signal.SIGKILL):
        os.killpg(unit.proc.pid, sig)
        unit.proc.wait(10)

    def close(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for kind, name in reversed(self.created):
            if kind == "netns":
                _run("ip", "netns", "del", name, check=False)
            else:
                _run("ip", "link", "del", name, check=False)
        self.created = []
        if self.pg_dir:
            shutil.rmtree(self.pg_dir, ignore_errors=True)
            self.pg_dir = None
