"""A real coturn (Debian ``coturn``) for tests: started on an address and a free port with
coturn's shared-secret scheme (``use-auth-secret``), the way the README tells production to run it.

    with Coturn("127.0.0.1", secret, log_dir) as port: ...
"""
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port


class Coturn:
    def __init__(self, address, secret, log_dir, loopback_peers=False):
        self.address, self.secret = address, secret
        self.log = Path(log_dir) / "turn.log"
        self.loopback_peers = loopback_peers
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        port = self.port
        args = ["turnserver", "-n", f"--listening-ip={self.address}", f"--relay-ip={self.address}",
                f"--listening-port={port}", "--realm=yiwangtong", "--use-auth-secret",
                f"--static-auth-secret={self.secret}", "--no-cli", "--no-tls", "--no-dtls",
                f"--log-file={self.log}", "--simple-log", f"--min-port={port + 1}", f"--max-port={port + 400}"]
        if self.loopback_peers:
            args.append("--allow-loopback-peers")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.log.exists() and "Total General servers" in self.log.read_text(errors="replace"):
                return port
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("coturn did not start: " + (self.log.read_text(errors="replace")[-2000:]
                                                       if self.log.exists() else "no log"))

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
