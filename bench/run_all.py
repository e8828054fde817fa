"""`make bench`: run every bench/bench_*.py in turn and print one table of their results.

Each benchmark prints its own table; this runner prints them one after another, each under a
heading, and a summary of which ran and how long they took. A failing benchmark is reported
and the others still run; the runner exits non-zero if any failed.
"""
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv):
    wanted = set(argv[1:])
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem.removeprefix("bench_") in wanted)
    summary = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        summary.append((script.stem, done.returncode, time.monotonic() - started))
    print("\n| benchmark | result | seconds |\n| --- | --- | --- |")
    for name, code, seconds in summary:
        print(f"| {name} | {'ok' if code == 0 else f'FAILED ({code})'} | {seconds:.0f} |")
    return 1 if any(code for _, code, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
