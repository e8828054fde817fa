"""Upload limits, enforced while the body streams in.

Two layers, both refusing with 413 and a Chinese message (JSON under /api/, a page in the shell
elsewhere):

- `BodyLimit` wraps the ASGI application (asgi.py): a request whose Content-Length exceeds the
  limit is answered before its body is read; a chunked body is cut off at the limit. daphne
  itself still receives the whole body before the application runs (see README "Large
  uploads"): put a proxy limit (`client_max_body_size`) in front for the network side.
- `LimitedUploadHandler` (first in FILE_UPLOAD_HANDLERS) stops a multipart upload as soon as
  the request or any one file passes the limit, before the rest is written anywhere, under any
  server (runserver, WSGI, tests).
"""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler

SCOPE_FLAG = "yw_body_too_large"
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
