"""The SFU's native send path (``_srtpsend.c``), built by ``make native`` (scripts/build_native.py).

``Route`` is None when the extension is not built or does not load (a machine without gcc or
OpenSSL's headers): the SFU then protects and sends in Python through pylibsrtp, as before, and
``why`` says why (the worker logs it once). ``SFU_NATIVE=0`` turns it off on purpose.
"""

from __future__ import annotations

import os

Route = None
why = ""

if os.environ.get("SFU_NATIVE", "1") == "0":
    why = "SFU_NATIVE=0"
else:
    try:
        from ._srtpsend import Route  # noqa: F811
    except ImportError as exc:  # not built here: the Python path
        why = f"not built ({exc}); run `make native`"
