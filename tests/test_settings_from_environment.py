"""A bad environment value stops start-up with one clear line."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parent.parent


def run_check(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    full.update({"YW_VAR_DIR": str(tmp_path), **env})
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=BASE, env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env, words", [
    ({"DEBUG": "maybe"}, "DEBUG"),
    ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgres://host:notaport/db"}, "DATABASE_URL"),
    ({"REDIS_URL": "http://127.0.0.1"}, "REDIS_URL"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"SECRET_KEY_FILE": "/nonexistent/key"}, "SECRET_KEY_FILE"),
    ({"LOGIN_MAX_FAILURES": "many"}, "LOGIN_MAX_FAILURES"),
    ({"SFU_WORKERS": "cloud"}, "SFU_WORKERS"),
])
def test_it_stops_with_one_readable_line_on_a_bad_value(tmp_path, env, words):
    result = run_check(tmp_path, **env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr


def test_it_reads_the_secret_key_from_a_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("k" * 40 + "\n")
    result = run_check(tmp_path, SECRET_KEY_FILE=str(key))
    assert result.returncode == 0, result.stderr


def test_it_generates_and_keeps_a_secret_key_under_var_by_default(tmp_path):
    assert run_check(tmp_path).returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert run_check(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == first
    assert len(first) >= 40
