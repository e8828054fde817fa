"""File storage: upload and download through office.storage, SeaweedFS (S3) vs the local disk.

For 1 MB and 50 MB files: each write goes through the storage API as the suite writes (SHA-256
computed, the record written, S3 metadata set), each read checks the hash: `storage.read` for
1 MB (attachments, PDFs), the streamed ranged path with whole-file verification for 50 MB
(recordings, exports: `ensure_verified` + `iter_range`, nothing held whole in memory).
p50/p99 latency and throughput. SeaweedFS runs on loopback (`weed server -s3`, tests/seaweed.py),
in a temporary folder, with a throwaway SQLite database. The machine is shared (2 cores, other
work running): figures are noisy; compare the two columns rather than the absolute numbers.
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = {1: 30, 50: 5}


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench_storage_"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "office.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["YW_VAR_DIR"] = str(tmp / "var")
    for key in [k for k in os.environ if k.startswith("S3_")]:
        del os.environ[key]
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    from office import storage
    from office.storage_config import storages_setting
    from tests.seaweed import Seaweed

    call_command("migrate", verbosity=0)
    weed = Seaweed(tmp / "seaweed").start()
    try:
        weed.create_bucket("yw-bench")
        env = weed.settings("yw-bench")
        backends = {
            "local disk": {"STORAGES": storages_setting(None), "MEDIA_ROOT": tmp / "media"},
            "SeaweedFS (S3)": {"STORAGES": storages_setting({
                "endpoint_url": env["S3_ENDPOINT_URL"], "bucket": "yw-bench", "access_key": env["S3_ACCESS_KEY_ID"],
                "secret_key": env["S3_SECRET_ACCESS_KEY"], "region": env["S3_REGION"]}), "MEDIA_ROOT": tmp / "unused"},
        }
        rows = []
        for mb, runs in RUNS.items():
            data = os.urandom(mb * 1024 * 1024)
            for label, overrides in backends.items():
                with override_settings(**overrides):
                    up, down = [], []
                    for i in range(runs):
                        t0 = time.perf_counter()
                        name = storage.save(f"bench/{mb}mb-{i}.bin", data)
                        up.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        if mb == 1:
                            got = len(storage.read(name))
                        else:
                            rec = storage.ensure_verified(name)
                            got = sum(len(c) for c in storage.iter_range(name, 0, rec.size))
                        down.append(time.perf_counter() - t0)
                        assert got == len(data)
                        storage.delete(name)
                    for what, times in (("upload", up), ("download", down)):
                        rows.append((f"{what} {mb} MB", label, statistics.median(times) * 1000, pct(times, 0.99) * 1000,
                                     mb / statistics.median(times), runs))
        print("| operation | backend | p50 ms | p99 ms | MB/s (p50) | runs |")
        print("| --- | --- | --- | --- | --- | --- |")
        for op, label, p50, p99, mbps, runs in rows:
            print(f"| {op} | {label} | {p50:.1f} | {p99:.1f} | {mbps:.0f} | {runs} |")
        print("\nWrites include SHA-256 and the record; 1 MB reads check the hash; 50 MB reads are the ranged "
              "download path (the version was verified when written, so it streams). Shared 2-core machine: noisy.")
    finally:
        weed.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
