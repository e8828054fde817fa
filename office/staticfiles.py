"""Static URLs that carry a short hash of the file (`/static/office/app.css?v=1a2b3c4d`), so that
browsers may keep them for a year (office.static sets the headers): a changed file gets a new URL.
Works without collectstatic (the hash is read through the staticfiles finders, once per file version)."""
import hashlib
import os

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import StaticFilesStorage

_hashes = {}


def file_hash(name):
    path = finders.find(name)
    if not path:
        return None
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _hashes:
        with open(path, "rb") as f:
            _hashes[key] = hashlib.sha256(f.read()).hexdigest()[:10]
    return _hashes[key]


class VersionedStaticFilesStorage(StaticFilesStorage):
    def url(self, name):
        url = super().url(name)
        version = file_hash(name.split("?", 1)[0]) if name else None
        return f"{url}?v={version}" if version and "?" not in url else url
