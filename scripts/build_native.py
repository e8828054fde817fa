"""Build the C modules: the SFU's send path (meetings/sfu/native/_srtpsend.c) and the bench
viewers' receive loop (bench/_rtptap.c), each to <name><EXT_SUFFIX> beside its source.

Called by ``make native`` (a prerequisite of run, test and bench). Compiles only when a source
is newer than its module. Without gcc or OpenSSL's headers it prints one line and exits 0: the SFU
then uses its Python send path (meetings/sfu/native/__init__.py says why), the bench viewers their
Python reader.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# (source, libraries, what runs without it)
MODULES = [
    (os.path.join(ROOT, "meetings", "sfu", "native", "_srtpsend.c"), ["-lcrypto"],
     "the SFU uses its Python send path"),
    (os.path.join(ROOT, "bench", "_rtptap.c"), [], "the bench viewers use their Python reader"),
]


def build(source: str, libs: list, fallback: str) -> None:
    target = source[:-2] + sysconfig.get_config_var("EXT_SUFFIX")
    if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(source):
        return
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        print(f"native: no C compiler; {fallback}", file=sys.stderr)
        return
    cmd = [cc, "-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-Wno-deprecated-declarations",
           "-I", sysconfig.get_paths()["include"], source, "-o", target + ".tmp", *libs]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["?"])[0]
        print(f"native: build of {os.path.relpath(source, ROOT)} failed ({first}); {fallback}", file=sys.stderr)
        return
    os.replace(target + ".tmp", target)
    print(f"native: built {os.path.relpath(target, ROOT)}")


def main() -> int:
    for source, libs, fallback in MODULES:
        build(source, libs, fallback)
    return 0


if __name__ == "__main__":
    sys.exit(main())
