"""Benchmark: `make run` on a fresh machine, from the packages being installed to the first answer.

    .venv/bin/python bench/bench_first_start.py

The checkout's tracked files are copied to a temporary folder (mtimes kept) with a fresh var/ (no
database, no prepared fonts); the Python packages count as installed (.venv links to this
checkout's, and make is told not to remake it: `make -o .venv/.installed run`), the Debian
packages are checked by make as usual. The embedded default runs (SQLite, in-memory channel
layer): DATABASE_URL, REDIS_URL and friends are removed from the environment.

Measured from starting make: when daphne first answers GET /login/ with 200, when "listening on
http://…" was printed (never before the first answer), and when the 公文 fonts, converted in the
background, are ready; and that every progress bar is printed once. Goal: answered within 60 s.
The machine is shared: figures are noisy; run it when nothing else is busy.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
GOAL = 60.0
FONTS_TIMEOUT = 400.0
BAR = re.compile(r"^(?P<label>.*?)\s*\[[#.]+\]\s+\d+\.\d%")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=BASE_DIR, check=True, capture_output=True).stdout
    for name in files.decode().split("\0"):
        if not name:
            continue
        src = BASE_DIR / name
        if not src.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    (dest / ".venv").symlink_to((BASE_DIR / ".venv").resolve())
    shutil.rmtree(dest / "var", ignore_errors=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="yw-first-start-"))
    fresh_checkout(work)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "CHANNEL_URL", "YW_VAR_DIR", "MEDIA_ROOT",
                        "YW_PREPARED_FONT_DIR", "YW_FONT_DIR", "DJANGO_SETTINGS_MODULE", "S3_ENDPOINT_URL"}}
    env["PYTHONUNBUFFERED"] = "1"
    lines: list[tuple[float, str]] = []
    started = time.monotonic()
    proc = subprocess.Popen(["make", "-o", ".venv/.installed", "run", "HOST=127.0.0.1", f"PORT={port}"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)

    def read():
        buf = b""
        while True:
            chunk = proc.stdout.read1(4096) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
            if not chunk:
                break
            buf += chunk
            while re.search(rb"[\r\n]", buf):
                part, sep, buf = re.split(rb"([\r\n])", buf, maxsplit=1)
                lines.append((time.monotonic() - started, part.decode(errors="replace")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    answered = listening = fonts = None
    url = f"http://127.0.0.1:{port}/login/"
    try:
        while time.monotonic() - started < FONTS_TIMEOUT and proc.poll() is None:
            if answered is None:
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            answered = time.monotonic() - started
                except (urllib.error.URLError, OSError):
                    pass
            if listening is None:
                listening = next((t for t, line in lines if line.startswith("listening on http://")), None)
            if fonts is None:
                fonts = next((t for t, line in lines if "[prepare_fonts] done in" in line), None)
            if answered is not None and listening is not None and fonts is not None:
                break
            time.sleep(0.2)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        reader.join(5)
    output = [line for _t, line in lines if line.strip()]
    bars: dict[str, int] = {}
    for line in output:
        m = BAR.match(line.strip())
        if m:
            bars[m.group("label")] = bars.get(m.group("label"), 0) + 1
    said = [line for line in output if line.startswith("listening on")]

    def fmt(t):
        return f"{t:.1f}" if t is not None else "—"

    print("| step | seconds after `make run` |\n| --- | --- |")
    print(f"| daphne answers GET /login/ (200) | {fmt(answered)} |")
    print(f"| \"listening on …\" printed | {fmt(listening)} |")
    print(f"| 公文 fonts prepared (background) | {fmt(fonts)} |")
    print("\n| progress bar | times printed |\n| --- | --- |")
    for label, n in bars.items():
        print(f"| {label} | {n} |")
    ok = (answered is not None and answered <= GOAL and len(said) == 1 and listening is not None
          and listening + 0.5 >= answered and all(n == 1 for n in bars.values()))
    print(f"\nanswered within {GOAL:.0f} s, 'listening on' once and after the first answer, each bar once: "
          f"{'yes' if ok else 'NO'}")
    if not ok:
        print("--- output of make run ---\n" + "\n".join(output[-60:]))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
