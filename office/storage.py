"""Every file the suite writes or serves, through Django's storage API, with its SHA-256.

The backend is STORAGES["default"] (office/storage_config.py): `LocalStorage` (the local disk
under MEDIA_ROOT, the embedded default) or `S3Storage` (an S3-compatible bucket through
django-storages). Both record each file's SHA-256 and size in `office.StoredFile` when they
write it (S3 also keeps it as the object's `x-amz-meta-sha256`), whoever writes: a FileField,
or the helpers below.

    name = storage.save("documents/12/issued.pdf", pdf_bytes, overwrite=True)
    data = storage.read(name)            # the bytes, or StoredFileCorrupt naming the file
    for chunk in storage.iter_range(name, start, length): ...   # streamed, never whole in memory
    storage.ensure_verified(name)        # hash the whole file once per version before serving it

A read whose bytes do not hash to the recorded value raises StoredFileCorrupt (its message
names the file); a file without a record is refused the same way (`storage_migrate` records
files written before this module existed).

Writes inside a transaction (`save(..., overwrite=True)` while a `transaction.atomic()` block is
open, as in 用印) never touch the bytes the committed record points at: they go to a fresh object
`<dir>/.v/<stem>.<sha256 prefix>-<random><ext>` and the record's `blob` switches to it in the
same transaction. On commit the superseded object is deleted (transaction.on_commit); on rollback
the record still names the old bytes with the old hash, and the fresh object, which no record
names, is deleted when this thread is next outside a transaction (its next save, the end of the
request, or `discard_rolled_back()`). The backends resolve a name through its record's blob, so
FileFields and the archive's store read the current bytes too.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import secrets
import shutil
import threading

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from storages.backends.s3 import S3Storage as _S3Storage
from storages.utils import clean_name

from office.errors import ActionError

CHUNK = 1024 * 1024
VERSIONS_DIR = ".v"  # fresh objects of in-transaction writes, beside the name they stand for


class StoredFileMissing(ActionError):
    def __init__(self, name):
        super().__init__(_("文件“%(name)s”已不在存储中。") % {"name": name}, status=404, code="file_missing")
        self.name = name


class StoredFileCorrupt(ActionError):
    """The stored bytes are not what was written (or nothing was recorded): refuse, name the file."""

    def __init__(self, name, reason=""):
        message = _("文件“%(name)s”的校验值与登记不符，已拒绝读取。") % {"name": name}
        if reason == "unrecorded":
            message = _("文件“%(name)s”没有登记校验值，已拒绝读取（请运行 storage_migrate）。") % {"name": name}
        super().__init__(message, status=502, code="file_corrupt")
        self.name = name


def _digest_of(content) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    if hasattr(content, "seek"):
        content.seek(0)
    for chunk in (content.chunks(CHUNK) if hasattr(content, "chunks") else iter(lambda: content.read(CHUNK), b"")):
        if isinstance(chunk, str):
            chunk = chunk.encode()
        h.update(chunk)
        size += len(chunk)
    content.seek(0)
    return h.hexdigest(), size


def _blob_of(name):
    """The object holding `name`'s bytes when a transaction wrote them elsewhere, else None."""
    from office.models import StoredFile

    return StoredFile.objects.filter(name=name).exclude(blob="").values_list("blob", flat=True).first()


class HashingMixin:
    """Records the SHA-256 of everything written; forgets it when the file is deleted. A name
    whose record has a `blob` is read from that object."""

    def _save(self, name, content):
        from office.models import StoredFile

        digest, size = _digest_of(content)
        content.yw_sha256 = digest
        saved = super()._save(name, content)
        StoredFile.objects.update_or_create(name=saved, defaults={"sha256": digest, "size": size, "blob": "",
                                                                  "verified_tag": self.version_tag(saved)})
        return saved

    def save_blob(self, name, content) -> str:
        """Write an object that no record is kept for under its own name (a version's bytes)."""
        digest, _size = _digest_of(content)
        content.yw_sha256 = digest
        return super()._save(name, content)

    def delete_blob(self, name):
        super().delete(name)

    def _open(self, name, mode="rb"):
        return super()._open(_blob_of(name) or name, mode)

    def exists(self, name):
        return super().exists(name) or _blob_of(name) is not None

    def size(self, name):
        return super().size(_blob_of(name) or name)

    def delete(self, name):
        from office.models import StoredFile

        blob = _blob_of(name)
        if blob:
            super().delete(blob)
        super().delete(name)
        StoredFile.objects.filter(name=name).delete()


class LocalStorage(HashingMixin, FileSystemStorage):
    """The local disk under MEDIA_ROOT (the embedded default)."""

    kind = "local"

    def version_tag(self, name):
        st = os.stat(self.path(name))
        return f"{st.st_size}:{st.st_mtime_ns}"

    def iter_range(self, name, start, length):
        return read_range(self.path(name), start, length)

    def save_local_file(self, name, path):
        return self.save(name, File(open(path, "rb")))

    def iter_versions(self):
        """(name, modified time as a Unix timestamp) of every object under a `.v/` folder."""
        root = self.location
        for folder, dirs, files in os.walk(root):
            if os.path.basename(folder) != VERSIONS_DIR:
                continue
            for leaf in files:
                path = os.path.join(folder, leaf)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                try:
                    yield rel, os.stat(path).st_mtime
                except FileNotFoundError:  # deleted meanwhile (a commit's on_commit)
                    continue


class S3Storage(HashingMixin, _S3Storage):
    """An S3-compatible bucket (SeaweedFS in the tests) through django-storages and boto3."""

    kind = "s3"

    def _get_write_parameters(self, name, content=None):
        params = super()._get_write_parameters(name, content)
        digest = getattr(content, "yw_sha256", None)
        if digest:
            params.setdefault("Metadata", {})["sha256"] = digest
        return params

    def _key(self, name):
        return self._normalize_name(clean_name(name))

    def version_tag(self, name):
        head = self.bucket.meta.client.head_object(Bucket=self.bucket_name, Key=self._key(name))
        return f"{head['ContentLength']}:{head['ETag']}"

    def iter_range(self, name, start, length):
        if length <= 0:
            return
        body = self.bucket.meta.client.get_object(
            Bucket=self.bucket_name, Key=self._key(name), Range=f"bytes={start}-{start + length - 1}")["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def object_metadata(self, name):
        return self.bucket.meta.client.head_object(Bucket=self.bucket_name, Key=self._key(name)).get("Metadata", {})

    def iter_versions(self):
        """(name, modified time as a Unix timestamp) of every object under a `.v/` folder."""
        prefix = self._normalize_name("")
        prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
        marker = f"/{VERSIONS_DIR}/"
        for page in self.bucket.meta.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket_name, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if marker in "/" + key:
                    yield key[len(prefix):], obj["LastModified"].timestamp()


# ------------------------------------------------------------------------------ helpers

def backend():
    return default_storage


def is_object_storage() -> bool:
    return getattr(backend(), "kind", "") == "s3"


def exists(name) -> bool:
    return bool(name) and backend().exists(name)


def size(name) -> int:
    return backend().size(name)


def save(name, content, *, overwrite=False) -> str:
    """Store bytes or a file object under `name` (the backend may add a suffix unless
    `overwrite`); returns the name it got. With `overwrite` inside a transaction the bytes go to
    a fresh object and the record switches to it in the transaction (see the module's doc)."""
    store = backend()
    if isinstance(content, (bytes, bytearray)):
        content = ContentFile(bytes(content))
    elif not isinstance(content, File):
        content = File(content)
    if overwrite and transaction.get_connection().in_atomic_block:
        return _save_version(store, name, content)
    discard_rolled_back()
    if overwrite and store.exists(name):
        store.delete(name)
    return store.save(name, content)


_pending = threading.local()  # this thread's fresh objects whose transaction may not have ended


def _version_name(name, digest):
    folder, leaf = posixpath.split(name)
    stem, ext = posixpath.splitext(leaf)
    return posixpath.join(folder, VERSIONS_DIR, f"{stem}.{digest[:16]}-{secrets.token_hex(4)}{ext}")


def _save_version(store, name, content) -> str:
    from office.models import StoredFile

    digest, size = _digest_of(content)
    blob = store.save_blob(_version_name(name, digest), content)
    if not hasattr(_pending, "blobs"):
        _pending.blobs = []
    _pending.blobs.append(blob)
    old = StoredFile.objects.select_for_update().filter(name=name).first()
    if old is not None:
        superseded = old.blob or old.name
    else:  # nothing yet, or a file written before hashes were kept
        superseded = name if store.exists(name) else None
    StoredFile.objects.update_or_create(name=name, defaults={
        "sha256": digest, "size": size, "blob": blob, "verified_tag": store.version_tag(blob)})
    transaction.on_commit(lambda: _pending.blobs.remove(blob) if blob in _pending.blobs else None)
    if superseded and superseded != blob:
        transaction.on_commit(lambda: store.delete_blob(superseded), robust=True)
    return name


def discard_rolled_back() -> int:
    """Delete this thread's fresh objects whose transaction rolled back (no record names them).
    Does nothing inside a transaction; returns how many it deleted."""
    from office.models import StoredFile

    blobs = getattr(_pending, "blobs", None)
    if not blobs or transaction.get_connection().in_atomic_block:
        return 0
    _pending.blobs = []
    kept = set(StoredFile.objects.filter(blob__in=blobs).values_list("blob", flat=True))
    orphans = [b for b in blobs if b not in kept]
    for blob in orphans:
        backend().delete_blob(blob)
    return len(orphans)


def orphan_versions(*, min_age=3600, now=None) -> list[str]:
    """The `.v/` objects that no record names: left by a process that died between an
    in-transaction write and its commit or rollback, or by a failed delete of a superseded
    version. Objects younger than `min_age` seconds are not listed (their transaction may still
    be open; a version's name is random, so no later write can come to name an old one)."""
    import time

    from office.models import StoredFile

    now = time.time() if now is None else now
    candidates = [name for name, modified in backend().iter_versions() if now - modified >= min_age]
    named = set()
    for i in range(0, len(candidates), 500):
        named |= set(StoredFile.objects.filter(blob__in=candidates[i:i + 500]).values_list("blob", flat=True))
    return sorted(name for name in candidates if name not in named)


def delete_version(name) -> None:
    """Delete one object under a `.v/` folder (nothing else: a record's own name is never swept)."""
    if f"/{VERSIONS_DIR}/" not in "/" + name:
        raise ValueError(name)
    backend().delete_blob(name)


def physical_name(rec) -> str:
    """The object holding the bytes of a StoredFile record."""
    return rec.blob or rec.name


def save_local_file(name, path, *, overwrite=False) -> str:
    """Copy a file from this machine's disk into storage, streamed (a recording of an hour)."""
    with open(path, "rb") as fh:
        return save(name, File(fh, name=os.path.basename(path)), overwrite=overwrite)


def delete(name) -> None:
    if name:
        backend().delete(name)


def record(name):
    from office.models import StoredFile

    rec = StoredFile.objects.filter(name=name).first()
    if rec is None:
        if not backend().exists(name):
            raise StoredFileMissing(name)
        raise StoredFileCorrupt(name, "unrecorded")
    return rec


def iter_range(name, start, length, *, rec=None):
    """The bytes of `name` from `start`, streamed (pass its record to spare a query)."""
    if rec is None:
        from office.models import StoredFile

        rec = StoredFile.objects.filter(name=name).first()
    return backend().iter_range(physical_name(rec) if rec else name, start, length)


def read(name) -> bytes:
    """The whole file (small files: PDFs, attachments), checked against its recorded SHA-256."""
    rec = record(name)
    try:
        data = b"".join(iter_range(name, 0, max(rec.size, 1) + 1, rec=rec))
    except (FileNotFoundError, OSError) as exc:
        if not backend().exists(name):
            raise StoredFileMissing(name) from exc
        raise
    if hashlib.sha256(data).hexdigest() != rec.sha256 or len(data) != rec.size:
        raise StoredFileCorrupt(name)
    return data


def verify(name, rec=None) -> bool:
    """Hash the whole stored file (streamed); True when it matches. Records the version that matched."""
    rec = rec or record(name)
    h = hashlib.sha256()
    count = 0
    tag = backend().version_tag(physical_name(rec))
    for chunk in iter_range(name, 0, rec.size + 1, rec=rec):
        h.update(chunk)
        count += len(chunk)
    ok = h.hexdigest() == rec.sha256 and count == rec.size
    if ok and rec.verified_tag != tag:
        type(rec).objects.filter(id=rec.id).update(verified_tag=tag)
    return ok


def ensure_verified(name):
    """Before serving a large file (ranges of it): hash it whole unless this very version
    (S3 ETag, or size and mtime on disk) has hashed right before. Returns its record."""
    rec = record(name)
    try:
        tag = backend().version_tag(physical_name(rec))
    except (FileNotFoundError, OSError):
        raise StoredFileMissing(name) from None
    except Exception as exc:  # botocore ClientError 404
        if not backend().exists(name):
            raise StoredFileMissing(name) from exc
        raise
    if tag != rec.verified_tag and not verify(name, rec):
        raise StoredFileCorrupt(name)
    return rec


def copy_to_local(name, path) -> None:
    """Write a stored file to this machine's disk, streamed (for tools that need a path)."""
    with open(path, "wb") as out:
        rec = record(name)
        for chunk in iter_range(name, 0, rec.size + 1, rec=rec):
            out.write(chunk)


def read_range(path, start, length, chunk=CHUNK):
    """`length` bytes of a file on this machine's disk from `start`, chunk by chunk."""
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            data = fh.read(min(chunk, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        shutil.copyfileobj(fh, _HashWriter(h), CHUNK)
    return h.hexdigest()


class _HashWriter:
    def __init__(self, h):
        self.h = h

    def write(self, data):
        self.h.update(data)
