"""公文 as files: PDF/.docx downloads, .docx import, seals and signature verification.

Mounted by office/api.py at /api/documents/files/.
"""
from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import File, Router
from ninja.files import UploadedFile

from documents import actions
from documents.files import actions as file_actions
from office.audit import client_ip
from office.errors import ActionError

router = Router(tags=[gettext_lazy("公文文件与签章")])


def _download(data: bytes, filename: str, content_type: str) -> HttpResponse:
    resp = HttpResponse(data, content_type=content_type)
    ascii_name = "document" + filename[filename.rfind("."):]
    resp["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    resp["Cache-Control"] = "private, no-store"
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


@router.post("/verify", auth=None, summary=gettext_lazy("验证PDF电子签章（任何人可用）"))
def verify(request, file: UploadedFile = File(...)):
    return file_actions.verify_upload(file)


@router.post("/import-docx", summary=gettext_lazy("导入Word草稿（不保存，返回可填入拟稿页的内容与未保留项报告）"))
def import_docx(request, file: UploadedFile = File(...)):
    return file_actions.check_import_docx(file)


@router.get("/{doc_id}/pdf", summary=gettext_lazy("下载公文PDF（已用印的为正式签章文件）"))
def document_pdf(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    data, sealed = file_actions.document_pdf(request.user, doc)
    resp = _download(data, file_actions.filename_for(doc, ".pdf"), "application/pdf")
    resp["X-Document-Sealed"] = "1" if sealed else "0"
    return resp


@router.get("/{doc_id}/ofd", summary=gettext_lazy("下载公文OFD（GB/T 33190；已用印的为国密签章文件）"))
def document_ofd(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    data, sealed = file_actions.document_ofd(request.user, doc)
    resp = _download(data, file_actions.filename_for(doc, ".ofd"), "application/ofd")
    resp["X-Document-Sealed"] = "1" if sealed else "0"
    return resp


@router.get("/{doc_id}/docx", summary=gettext_lazy("导出公文为Word文档"))
def document_docx(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    data = file_actions.document_docx(request.user, doc)
    return _download(data, file_actions.filename_for(doc, ".docx"),
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document")


@router.post("/{doc_id}/seal", summary=gettext_lazy("用印：加盖本单位电子印章（签发后，由各发文机关的印章保管人，主办机关先）"))
def seal(request, doc_id: int):
    import hashlib

    doc = actions.get_document(request.user, doc_id)
    signed = file_actions.do_seal(person=request.user, document=doc, ip=client_ip(request))
    status = file_actions.sealing_status(doc)
    return {"sealed": status["complete"], "units": status["units"], "sha256": hashlib.sha256(signed).hexdigest(),
            "size": len(signed), "url": f"/api/documents/files/{doc.id}/pdf"}


@router.get("/{doc_id}/sealing", summary=gettext_lazy("用印进度（联合发文各机关是否已用印）"))
def sealing(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    return file_actions.sealing_status(doc)


@router.post("/seals/{unit_id}", response={201: dict}, summary=gettext_lazy("为单位制作电子印章（组织CA签发证书）"))
def create_seal(request, unit_id: int):
    from office.models import Unit

    unit = Unit.objects.filter(id=unit_id).first()
    if unit is None:
        raise ActionError(_("单位不存在。"), status=404)
    manifest = file_actions.do_create_seal(person=request.user, unit=unit, ip=client_ip(request))
    return 201, {k: manifest[k] for k in ("unit_id", "unit_name", "serial", "sha256", "not_after")}


@router.get("/seals/{unit_id}/picture.png", summary=gettext_lazy("单位电子印章图像"))
def seal_picture(request, unit_id: int):
    from documents.signing import ca

    file_actions.check_can_see_seal(request.user, unit_id)
    resp = HttpResponse(ca.picture(unit_id) or b"", content_type="image/png")
    resp["Cache-Control"] = "private, max-age=300"
    return resp
