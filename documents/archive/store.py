"""Files of the archive, only through Django's storage API (local disk or object storage).

Components are written once under `archive/<全宗号>/<item id>/` and read back in chunks, so a
check or an export never holds a whole holding in memory. Fixity is SHA-256 and SM3 (GB/T
32905, through OpenSSL's hashlib).
"""
from __future__ import annotations

import hashlib
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

CHUNK = 1024 * 1024


def storage():
    return default_storage


def sm3():
    return hashlib.new("sm3")


def digests(data: bytes) -> tuple[str, str]:
    a, b = hashlib.sha256(), sm3()
    a.update(data)
    b.update(data)
    return a.hexdigest(), b.hexdigest()


def put(name: str, data: bytes) -> str:
    """Store `data` under `name` (a fresh name if taken); returns the name actually used."""
    return storage().save(name, ContentFile(data))


def exists(name: str) -> bool:
    try:
        return storage().exists(name)
    except (OSError, ValueError):
        return False


def read(name: str) -> bytes:
    with storage().open(name, "rb") as fh:
        return fh.read()


def chunks(name: str, size: int = CHUNK):
    with storage().open(name, "rb") as fh:
        while True:
            block = fh.read(size)
            if not block:
                return
            yield block


def hash_stored(name: str) -> tuple[str, str, int]:
    """(sha256, sm3, size) of a stored file, read in chunks."""
    a, b, n = hashlib.sha256(), sm3(), 0
    for block in chunks(name):
        a.update(block)
        b.update(block)
        n += len(block)
    return a.hexdigest(), b.hexdigest(), n


def delete(name: str) -> None:
    if exists(name):
        storage().delete(name)


def open_flow_file(name: str) -> bytes | None:
    """A file the 公文 flow stored (the sealed 正本, an attachment), by its storage name."""
    if not name or not exists(name):
        return None
    return read(name)


def as_file(data: bytes):
    return io.BytesIO(data)
