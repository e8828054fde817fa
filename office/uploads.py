"""Upload limits, enforced while the body streams in.

Two layers, both refusing with 413 and a Chinese message (JSON under /api/, a page in the shell
elsewhere):

- `install_daphne_limits()` (asgi.py, when served by daphne): daphne (twisted) receives a whole
  body before the application runs and then queues all of it in memory. Past the limit, the
  rest of the body is now discarded as it arrives (the client still sends it; nothing is kept)
  and the request is marked. It also stops twisted parsing every multipart body into memory
  for a `request.args` that daphne never uses. See README "Large uploads".
- `BodyLimit` wraps the ASGI application (asgi.py): a request whose Content-Length exceeds the
  limit, or that daphne marked, is answered without its body being read; a chunked body is cut
  off at the limit.
- `LimitedUploadHandler` (first in FILE_UPLOAD_HANDLERS) stops a multipart upload as soon as
  the request or any one file passes the limit, before the rest is written anywhere, under any
  server (runserver, WSGI, tests).
"""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler

SCOPE_FLAG = "yw_body_too_large"
MARK_HEADER = b"x-yw-body-too-large"  # set by the daphne hook below on a body it discarded
# room for the multipart framing and ordinary form fields around one file at the limit
ENVELOPE = 1024 * 1024


def body_limit():
    return settings.YW_MAX_UPLOAD_BYTES + ENVELOPE


class UploadTooLarge(RequestDataTooBig):
    """A request body or an uploaded file over the limit (answered with 413)."""


class LimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > body_limit():
            raise UploadTooLarge("request body over YW_MAX_UPLOAD_BYTES")
        self.seen = 0
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.seen = 0

    def receive_data_chunk(self, raw_data, start):
        self.seen = getattr(self, "seen", 0) + len(raw_data)
        if self.seen > settings.YW_MAX_UPLOAD_BYTES:
            raise UploadTooLarge("uploaded file over YW_MAX_UPLOAD_BYTES")
        return raw_data

    def file_complete(self, file_size):
        return None


class BodyLimit:
    """ASGI wrapper: refuse an over-limit body up front (Content-Length) or at the limit (chunked).

    The request still reaches Django, with an empty body and scope[SCOPE_FLAG] set, so that
    office.middleware.BodyTooLargeMiddleware answers it in the reader's language and shell."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit()
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
            elif name == MARK_HEADER:
                length = limit + 1
                break
        if length is not None and length > limit:
            return await self.app(self._flagged(scope), _empty_body, send)
        seen = 0
        cut = False

        async def limited_receive():
            nonlocal seen, cut
            if cut:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    cut = True
                    scope[SCOPE_FLAG] = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        return await self.app(scope, limited_receive, send)

    @staticmethod
    def _flagged(scope):
        return {**scope, SCOPE_FLAG: True}


async def _empty_body():
    return {"type": "http.request", "body": b"", "more_body": False}


def install_daphne_limits():
    """Make daphne's request (a twisted Request) keep nothing past the limit and skip twisted's
    own in-memory parse of multipart bodies. Idempotent; a no-op without daphne."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:
        return
    if getattr(WebRequest, "_yw_limited", False):
        return
    WebRequest._yw_limited = True
    # twisted reads a whole multipart body into memory to fill request.args; daphne ignores it
    WebRequest._parsePOSTFormSubmission = False
    got_length, content_chunk = WebRequest.gotLength, WebRequest.handleContentChunk

    def gotLength(self, length):
        self._yw_seen = 0
        self._yw_over = length is not None and length > body_limit()
        return got_length(self, 0 if self._yw_over else length)

    def handleContentChunk(self, data):
        if getattr(self, "_yw_over", False):
            return  # discarded as it arrives
        self._yw_seen = getattr(self, "_yw_seen", 0) + len(data)
        if self._yw_seen > body_limit():
            self._yw_over = True
            self.content.seek(0)
            self.content.truncate()
            self.requestHeaders.setRawHeaders(MARK_HEADER, [b"1"])
            return
        return content_chunk(self, data)

    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
