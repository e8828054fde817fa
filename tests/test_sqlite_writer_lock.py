"""The embedded default's SQLite writer lock (office/dbbackends/sqlite3), tested on SQLite whatever
database this run uses: the cases (tests/sqlite_writer_lock_cases.py) run in a pytest of their own
with the embedded default's settings (no DATABASE_URL, no REDIS_URL), so that on CI's PostgreSQL
they run too instead of being skipped."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join("tests", "sqlite_writer_lock_cases.py")


def test_the_embedded_defaults_writers_queue_on_one_lock_and_every_way_out_releases_it():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "YW_CHANNEL_PREFIX") and not k.startswith("PYTEST_")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", CASES],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    cases = sum(1 for line in open(os.path.join(ROOT, CASES), encoding="utf-8") if line.startswith("def test_"))
    assert re.search(rf"\b{cases} passed\b", out) and "skipped" not in out, out[-4000:]
