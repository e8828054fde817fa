"""Serving stored files (recordings, materials, exports) with HTTP Range requests (206 Partial Content).

The file comes from the storage backend (office/storage.py: local disk or an S3 bucket, where a
range is a ranged GET), streamed: under ASGI (daphne) the body is an asynchronous iterator reading
chunk by chunk in a thread, since Django would otherwise read a synchronous iterator completely
into memory before sending it (a one-hour recording is hundreds of MB). Under WSGI it is a plain
generator. Before the first byte the whole file is checked against its SHA-256 (once per version
of it, office.storage.ensure_verified): a corrupt file is refused, naming it.
`ranged_local_file_response` serves a file made for the request on this machine's disk (an
archive export) the same way, and deletes it when the response is closed. Behind nginx
(deploy/nginx: proxy_buffering off) the ranges pass through unchanged.
"""
import asyncio
import re
from urllib.parse import quote

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from office import storage

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


async def _achunks(make_iter):
    it = await asyncio.to_thread(make_iter)
    done = object()
    try:
        while True:
            data = await asyncio.to_thread(next, it, done)
            if data is done:
                break
            yield data
    finally:
        await asyncio.to_thread(it.close)


def _unsatisfiable(message, size):
    response = HttpResponse(message, status=416, content_type="text/plain; charset=utf-8")
    response["Content-Range"] = f"bytes */{size}"
    return response


def parse_range(header, size):
    """→ (start, end) inclusive, None for no/whole range, or raises ValueError (unsatisfiable)."""
    header = (header or "").strip()
    if not header:
        return None
    first = header.split(",")[0].strip()  # one range is all a media player needs
    m = RANGE_RE.match(first)
    if m is None or (not m.group(1) and not m.group(2)):
        raise ValueError("malformed")
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:  # a suffix: the last N bytes
        start, end = max(0, size - int(m.group(2))), size - 1
    if start >= size or start > end:
        raise ValueError("beyond")
    return start, end


def ranged_file_response(request, name, content_type, *, filename=None):
    """Serve the stored file `name` (after the caller's permission check): verified against its
    SHA-256 once per version, then streamed chunk by chunk, whole or one byte range."""
    rec = storage.ensure_verified(name)
    blob = storage.physical_name(rec)  # the chunks are read by object name, without the database
    return _ranged(request, rec.size, lambda start, length: storage.backend().iter_range(blob, start, length),
                   content_type, filename, etag=f'"{rec.sha256}"')


def ranged_local_file_response(request, path, content_type, *, filename=None, cleanup=None, etag=None):
    """Serve a file on this machine's disk (made for this request, e.g. an export zip) streamed,
    whole or one byte range; `cleanup` runs when the response is closed. `etag` (quoted) names
    its bytes: a resumed download whose If-Range names other bytes gets the whole file again."""
    import os

    response = _ranged(request, os.path.getsize(path), lambda start, length: storage.read_range(path, start, length, CHUNK),
                       content_type, filename, etag=etag)
    if cleanup is not None:
        response._resource_closers.append(cleanup)
    return response


def _ranged(request, size, chunks, content_type, filename, etag=None):
    header = request.headers.get("Range")
    if header and "If-Range" in request.headers and request.headers["If-Range"].strip() != etag:
        header = None  # the client holds the start of other bytes (or only a date): send it all (RFC 9110 13.1.5)
    try:
        wanted = parse_range(header, size)
    except ValueError as exc:
        if str(exc) == "malformed":
            return _unsatisfiable(_("无效的 Range 请求。"), size)
        return _unsatisfiable(_("请求的范围超出文件大小。"), size)
    start, end = wanted if wanted else (0, size - 1)
    length = max(0, end - start + 1)
    if isinstance(request, ASGIRequest):  # an asynchronous iterator: Django would read a sync one whole
        body = _achunks(lambda: chunks(start, length))
    else:
        body = chunks(start, length)
    response = StreamingHttpResponse(body, status=206 if wanted else 200, content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if etag:
        response["ETag"] = etag
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Cache-Control"] = "private, max-age=0"
    if filename:
        ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
        response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return response
