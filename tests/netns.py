"""A real weak link for browser tests: a network namespace behind a veth pair, shaped with tc.

    link = WeakLink().create()          # namespace yw-weak-<pid>, 10.213.x.y/30 on both ends
    link.host_address                   # the host's end: bind a server here
    link.chromium                       # a wrapper that runs /usr/bin/chromium inside the namespace
    link.shape("120kbit")               # tbf on the host's end: host → namespace is limited
    link.shape("72kbit")                # tightened in place (tc qdisc change)
    link.unshape()
    link.close()                        # always (finalizer): the links, the namespace, the wrapper

Only the host → namespace direction is shaped (the egress of the host's veth end): what a
browser in the namespace receives. tbf queues what exceeds the rate up to its limit (burst +
rate × latency: about a second at 120 kbit/s with a 16 kB burst) and drops the rest: the
delay and the loss of a congested rural line. (netem does not exist in this kernel; tbf, htb
and pfifo do.)

Needs root (CI runs as root on this machine). Names are unique per process; namespaces left
behind by a killed earlier run (its pid gone) are removed on create().
"""
import os
import re
import subprocess
import tempfile
from pathlib import Path

PREFIX = "yw-weak-"
CHROMIUM = "/usr/bin/chromium"


def _run(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=20)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WeakLinkError(RuntimeError):
    pass


class WeakLink:
    def __init__(self, pid=None):
        self.pid = pid or os.getpid()
        self.ns = f"{PREFIX}{self.pid}"
        # interface names are at most 15 characters
        self.host_if = f"ywh{self.pid}"[:15]
        self.ns_if = f"ywn{self.pid}"[:15]
        n = self.pid % (64 * 256)
        base = f"10.213.{n // 64}.{(n % 64) * 4}"
        a, b, c, d = base.split(".")
        self.host_address = f"{a}.{b}.{c}.{int(d) + 1}"
        self.ns_address = f"{a}.{b}.{c}.{int(d) + 2}"
        self.chromium = None
        self.shaped = False
        self.created = False

    # ---------------------------------------------------------------- lifecycle
    def create(self):
        if os.geteuid() != 0:
            raise WeakLinkError("a network namespace needs root (CI runs as root)")
        self.remove_stale()
        self.created = True
        try:
            _run("ip", "netns", "add", self.ns)
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.ns)
            _run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            self.exec("ip", "link", "set", "lo", "up")
            self.exec("ip", "addr", "add", f"{self.ns_address}/30", "dev", self.ns_if)
            self.exec("ip", "link", "set", self.ns_if, "up")
            # everything leaves the namespace through the veth, so through the shaped link
            self.exec("ip", "route", "add", "default", "via", self.host_address)
            fd, path = tempfile.mkstemp(prefix=f"{self.ns}-chromium-", suffix=".sh")
            with os.fdopen(fd, "w") as f:
                f.write(f"#!/bin/sh\nexec ip netns exec {self.ns} {CHROMIUM} \"$@\"\n")
            os.chmod(path, 0o755)
            self.chromium = path
        except subprocess.CalledProcessError as exc:
            self.close()
            raise WeakLinkError(f"{' '.join(exc.cmd)}: {exc.stderr.strip()}") from exc
        return self

    def close(self):
        """Remove what create() made; safe to call twice, and after a failed create()."""
        if self.chromium:
            Path(self.chromium).unlink(missing_ok=True)
            self.chromium = None
        if not self.created:
            return
        _run("ip", "link", "del", self.host_if, check=False)  # takes the peer with it
        _run("ip", "netns", "del", self.ns, check=False)
        self.created = False

    @staticmethod
    def remove_stale():
        out = _run("ip", "netns", "list", check=False).stdout
        for line in out.splitlines():
            m = re.match(rf"{re.escape(PREFIX)}(\d+)\b", line.strip())
            if m and not _alive(int(m.group(1))):
                pid = m.group(1)
                _run("ip", "link", "del", f"ywh{pid}"[:15], check=False)
                _run("ip", "netns", "del", f"{PREFIX}{pid}", check=False)

    # ---------------------------------------------------------------- use
    def exec(self, *args, check=True):
        return _run("ip", "netns", "exec", self.ns, *args, check=check)

    def shape(self, rate, burst="16kb", latency="50ms"):
        """Limit host → namespace to `rate` (tc units: "200kbit"); later calls change it in place."""
        op = "change" if self.shaped else "add"
        _run("tc", "qdisc", op, "dev", self.host_if, "root", "tbf",
             "rate", rate, "burst", burst, "latency", latency)
        self.shaped = True

    def unshape(self):
        if self.shaped:
            _run("tc", "qdisc", "del", "dev", self.host_if, "root", check=False)
            self.shaped = False

    def stats(self):
        """The host end's qdisc counters (sent, dropped, overlimits), for failure messages."""
        return _run("tc", "-s", "qdisc", "show", "dev", self.host_if, check=False).stdout.strip()
