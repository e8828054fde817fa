"""Actions on 公文 as files: PDF/.docx downloads, .docx import, seals (用印), verification.

check_* validate and raise ActionError; do_* change state (files under
MEDIA_ROOT and VAR_DIR/seals, plus an audit entry and an event).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from documents import actions
from documents.classified import check_not_classified
from documents.render.adapter import to_flow_fields, to_render_doc
from documents.render.docx import DocxRefused, check_upload_size, export_docx, import_docx
from documents.render.model import Image
from documents.render.pdf import render_pdf
from documents.render.pdfa import to_pdfa
from documents.signing import ca
from documents.signing.pades import MAX_PDF_BYTES, seal_document, verify_pdf
from documents.signing.remote import LocalSealSigner
from office import audit
from office.errors import ActionError
from office.events import send_event

SEALABLE_STATES = ("signed", "registered", "dispatched")


def _safe_name(text: str) -> str:
    keep = "".join(ch for ch in text if ch not in '\\/:*?"<>|\r\n\t')
    return (keep or "document")[:80]


def filename_for(document, ext: str) -> str:
    base = document.number or f"公文{document.id}"
    return _safe_name(f"{base} {document.title}".strip()) + ext


# ------------------------------------------------------------------ downloads

def issued_path(document) -> Path:
    return Path(settings.MEDIA_ROOT) / "documents" / str(document.id) / "issued.pdf"


def check_can_download(person, document) -> None:
    actions.check_can_view(person, document)


def document_pdf(person, document) -> tuple[bytes, bool]:
    """The PDF to hand out: the sealed (signed) file once produced, else a fresh
    render of the current text. Returns (bytes, sealed)."""
    check_can_download(person, document)
    path = issued_path(document)
    if path.exists():
        return path.read_bytes(), True
    return render_pdf(to_render_doc(document)).pdf, False


def document_docx(person, document) -> bytes:
    check_can_download(person, document)
    return export_docx(to_render_doc(document))


# ------------------------------------------------------------------ import

def check_import_docx(upload) -> dict:
    """Read an uploaded .docx draft; nothing is stored. Refuses hostile and classified files."""
    if upload is None:
        raise ActionError(_("请选择要导入的Word文档。"))
    size = getattr(upload, "size", None) or 0
    try:
        check_upload_size(size)
    except DocxRefused as exc:
        raise ActionError(str(exc), status=413) from None
    name = getattr(upload, "name", "") or ""
    if not name.lower().endswith(".docx"):
        if name.lower().endswith(".docm"):
            raise ActionError(_("启用宏的文档（.docm）不能导入，请另存为.docx。"))
        raise ActionError(_("只能导入Word文档（.docx）。"))
    data = upload.read(size + 1 if size else None)
    try:
        check_upload_size(len(data))
    except DocxRefused as exc:
        raise ActionError(str(exc), status=413) from None
    check_not_classified(data, name)
    try:
        result = import_docx(data)
    except DocxRefused as exc:
        raise ActionError(str(exc)) from None
    fields = to_flow_fields(result.doc)
    images = [b for b in result.doc.body if isinstance(b, Image)]
    report = list(result.report)
    if images:
        report.append(_("正文中的%(n)d张图片已提取，请作为附件上传或在定稿时排入。") % {"n": len(images)})
    return {
        "fields": fields,
        "report": report,
        "images": len(images),
        "tables": result.tables,
        "footnotes": result.footnotes,
    }


# ------------------------------------------------------------------ seals

def _keeper_post(person, unit):
    """A post of `person` allowed to keep/use `unit`'s seal: its secretary (or admin)."""
    for post in actions.person_posts(person):
        if post.unit_id == unit.id and (post.has_role("secretary") or post.has_role("admin")):
            return post
    return None


def _admin_post(person):
    for post in actions.person_posts(person):
        if post.has_role("admin"):
            return post
    return None


def check_can_create_seal(person, unit):
    post = _keeper_post(person, unit) or _admin_post(person)
    if post is None:
        raise ActionError(_("只有本单位的文秘人员或系统管理员可以制作印章。"), status=403)
    if ca.has_seal(unit.id):
        raise ActionError(_("%(u)s已有电子印章。") % {"u": unit.name}, status=409)
    return post


def do_create_seal(*, person, unit, ip=None) -> dict:
    post = check_can_create_seal(person, unit)
    keeper = _keeper_post(person, unit)
    try:
        material = ca.create_seal(unit.id, unit.name, keeper_id=person.id if keeper else None, code=unit.code)
    except ca.SealError as exc:
        raise ActionError(str(exc), status=409) from None
    with transaction.atomic():
        audit.record("seal.create", person=person, post=post, obj=unit, ip=ip,
                     data={"serial": material.manifest["serial"], "sha256": material.manifest["sha256"]})
        send_event({"type": "seal", "op": "created", "unit_id": unit.id}, units=[unit.id])
    return material.manifest


def check_can_seal(person, document):
    """用印: only after 签发, by a keeper of the issuing unit's seal, when every issuer has a seal."""
    actions.check_can_view(person, document)
    if document.state not in SEALABLE_STATES:
        raise ActionError(_("公文须经签发定稿后才能用印。"), status=409)
    post = _keeper_post(person, document.unit)
    office = getattr(actions, "_office_of", lambda u: None)(document.unit)
    if post is None and office is not None:
        post = _keeper_post(person, office)
    if post is None:
        raise ActionError(_("只有发文机关的文秘人员（印章保管人）可以用印。"), status=403)
    issuers = [document.unit] + list(document.co_issuers.all().order_by("id"))
    missing = [u.name for u in issuers if not ca.has_seal(u.id)]
    if missing:
        raise ActionError(_("以下机关尚未制作电子印章：%(u)s。") % {"u": "、".join(missing)}, status=409)
    if issued_path(document).exists():
        raise ActionError(_("该公文已用印，正式文件已生成。"), status=409)
    return post, issuers


def do_seal(*, person, document, ip=None) -> bytes:
    """印制: render, convert to PDF/A-2b, sign with every issuer's seal, keep the file."""
    post, issuers = check_can_seal(person, document)
    try:
        signers = [LocalSealSigner(ca.load_seal(u.id)) for u in issuers]
    except ca.SealError as exc:
        raise ActionError(str(exc), status=409) from None
    rdoc = to_render_doc(document)
    result = render_pdf(rdoc)
    result.pdf = to_pdfa(result.pdf, title=rdoc.title or rdoc.doc_type, author="、".join(rdoc.organs),
                         subject=rdoc.doc_number)
    signed = seal_document(result, signers, person_id=person.id, document_id=document.id)
    path = issued_path(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(signed)
    try:
        with transaction.atomic():
            audit.record("document.seal", person=person, post=post, obj=document, ip=ip,
                         data={"sha256": hashlib.sha256(signed).hexdigest(), "seals": [u.id for u in issuers]})
            send_event({"type": "document", "op": "sealed", "id": document.id}, units=[document.unit_id])
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return signed


# ------------------------------------------------------------------ verification

def check_verify_upload(upload) -> bytes:
    if upload is None:
        raise ActionError(_("请选择要验证的PDF文件。"))
    size = getattr(upload, "size", 0) or 0
    if size > MAX_PDF_BYTES:
        raise ActionError(_("文件过大（最大%(n)d MB）。") % {"n": MAX_PDF_BYTES // (1024 * 1024)}, status=413)
    data = upload.read(MAX_PDF_BYTES + 1)
    if len(data) > MAX_PDF_BYTES:
        raise ActionError(_("文件过大（最大%(n)d MB）。") % {"n": MAX_PDF_BYTES // (1024 * 1024)}, status=413)
    if not data.startswith(b"%PDF-"):
        raise ActionError(_("不是PDF文件。"))
    return data


def verify_upload(upload) -> dict:
    return verify_pdf(check_verify_upload(upload)).as_dict()
