"""The embedded default's /static/ (asgi.py): a path that leaves the static folders is a 404."""
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404


class SafeStaticFilesHandler(ASGIStaticFilesHandler):
    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousFileOperation:  # /static/..%2f..%2fvar/… : nothing to find, not a 500
            raise Http404 from None
