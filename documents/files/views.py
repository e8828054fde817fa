"""Pages for 公文 files: the public signature verification page."""
from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from documents.files import actions as file_actions
from office.errors import ActionError


@require_http_methods(["GET", "POST"])
def verify_page(request):
    """Anyone (signed in or not) can upload a PDF and see whether its seals are valid."""
    context = {"result": None, "error": None, "filename": ""}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        context["filename"] = getattr(upload, "name", "")
        try:
            context["result"] = file_actions.verify_upload(upload)
        except ActionError as exc:
            context["error"] = exc.message
            status = exc.status
    return render(request, "documents/verify.html", context, status=status)
