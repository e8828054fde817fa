"""Build the SFU's native send path: meetings/sfu/native/_srtpsend.c -> _srtpsend<EXT_SUFFIX>.

Called by ``make native`` (a prerequisite of run, test and bench). Compiles only when the source
is newer than the module. Without gcc or OpenSSL's headers it prints one line and exits 0: the SFU
then uses its Python send path (meetings/sfu/native/__init__.py says why).
"""

import os
import shutil
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.join(os.path.dirname(HERE), "meetings", "sfu", "native")


def main() -> int:
    source = os.path.join(NATIVE, "_srtpsend.c")
    target = os.path.join(NATIVE, "_srtpsend" + sysconfig.get_config_var("EXT_SUFFIX"))
    if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(source):
        return 0
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        print("native: no C compiler; the SFU uses its Python send path", file=sys.stderr)
        return 0
    cmd = [cc, "-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-Wno-deprecated-declarations",
           "-I", sysconfig.get_paths()["include"], source, "-o", target + ".tmp", "-lcrypto"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["?"])[0]
        print(f"native: build failed ({first}); the SFU uses its Python send path", file=sys.stderr)
        return 0
    os.replace(target + ".tmp", target)
    print(f"native: built {os.path.relpath(target, os.path.dirname(HERE))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
