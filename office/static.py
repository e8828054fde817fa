"""The embedded default's /static/ (asgi.py): a path that leaves the static folders is a 404."""
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404


YEAR = 365 * 24 * 3600
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


class SafeStaticFilesHandler(ASGIStaticFilesHandler):
    def serve(self, request):
        try:
            response = super().serve(request)
        except SuspiciousFileOperation:  # /static/..%2f..%2fvar/… : nothing to find, not a 500
            raise Http404 from None
        return cache_and_compress(request, response)


def cache_and_compress(request, response):
    """A versioned URL (?v=<hash>, office.staticfiles) is kept for a year; others are revalidated
    (Last-Modified → 304). Text is gzipped for browsers that accept it."""
    if response.status_code != 200:
        return response
    if request.GET.get("v"):
        response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response["Cache-Control"] = "public, no-cache"
    kind = response.get("Content-Type", "")
    if kind.startswith(COMPRESSIBLE) and "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
        import gzip

        from django.http import HttpResponse

        body = b"".join(response.streaming_content) if response.streaming else response.content
        if hasattr(response, "close"):
            response.close()
        packed = HttpResponse(gzip.compress(body, compresslevel=6), content_type=kind)
        for header in ("Cache-Control", "Last-Modified"):
            if header in response:
                packed[header] = response[header]
        packed["Content-Encoding"] = "gzip"
        packed["Vary"] = "Accept-Encoding"
        return packed
    return response
