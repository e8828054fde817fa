"""Actions on 公文 as files: PDF/.docx downloads, .docx import, seals (用印), verification.

check_* validate and raise ActionError; do_* change state (files through office.storage,
keys through documents.signing.ca, plus an audit entry and an event).
"""
from __future__ import annotations

import hashlib
import json
import threading

from django.db import transaction
from django.utils.translation import gettext as _

from documents import actions
from documents.classified import check_not_classified
from documents.render.adapter import to_flow_fields, to_render_doc
from documents.render.docx import DocxRefused, check_upload_size, export_docx, import_docx
from documents.render.model import Image
from documents.render.ofd import render_ofd
from documents.render.pdf import render_pdf
from documents.render.pdfa import to_pdfa
from documents.signing import ca
from documents.signing.pades import MAX_PDF_BYTES, seal_document, verify_pdf
from documents.signing import gm_seals
from documents.signing.ofd_sign import is_ofd, seal_boundary_mm, sign_ofd, verify_ofd
from documents.signing.remote import LocalSealSigner, LocalSM2Signer
from office import audit, storage
from office.errors import ActionError
from office.events import send_event
from office.models import UnitKind

SEALABLE_STATES = ("signed", "registered", "dispatched")
_SEAL_LOCK = threading.Lock()


def _safe_name(text: str) -> str:
    keep = "".join(ch for ch in text if ch not in '\\/:*?"<>|\r\n\t')
    return (keep or "document")[:80]


def filename_for(document, ext: str) -> str:
    base = document.number or f"公文{document.id}"
    return _safe_name(f"{base} {document.title}".strip()) + ext


# ------------------------------------------------------------------ downloads

def _stored(document, leaf: str) -> str:
    """The storage name (office/storage.py) of one of the document's files."""
    return f"documents/{int(document.id)}/{leaf}"


def issued_path(document) -> str:
    """The storage name of the sealed (issued) PDF."""
    return _stored(document, "issued.pdf")


def _read_json(name):
    if not storage.exists(name):
        return None
    try:
        return json.loads(storage.read(name))
    except ValueError:
        return None


def _stamp(document) -> dict:
    """What a sealed file was made from: the text version and the 发文字号. A file sealed
    from another version or number (the text was changed and signed again, or the number
    was voided) is stale and no longer counts as the issued file."""
    return {"version": document.version, "number": document.number or ""}


def issued_current(document) -> bool:
    if not storage.exists(issued_path(document)):
        return False
    meta_name = _stored(document, "issued.json")
    if not storage.exists(meta_name):
        return True
    meta = _read_json(meta_name)
    return bool(meta) and meta.get("stamp") == _stamp(document)


def check_can_download(person, document) -> None:
    actions.check_can_view(person, document)


def document_pdf(person, document) -> tuple[bytes, bool]:
    """The PDF to hand out: the sealed (signed) file once produced, else a fresh
    render of the current text. Returns (bytes, sealed)."""
    check_can_download(person, document)
    if issued_current(document):
        return storage.read(issued_path(document)), True
    return render_pdf(to_render_doc(document)).pdf, False


def issued_ofd_path(document) -> str:
    """The storage name of the SM2-sealed (issued) OFD."""
    return _stored(document, "issued.ofd")


def ofd_current(document) -> bool:
    if not storage.exists(issued_ofd_path(document)):
        return False
    meta = _read_json(_stored(document, "issued_ofd.json"))
    return bool(meta) and meta.get("stamp") == _stamp(document)


def document_ofd(person, document) -> tuple[bytes, bool]:
    """The OFD to hand out: the SM2-sealed file once produced (for the current text), else a
    fresh render of the current text from the same layout as the PDF. Returns (bytes, sealed)."""
    check_can_download(person, document)
    if ofd_current(document):
        return storage.read(issued_ofd_path(document)), True
    return render_ofd(to_render_doc(document)).ofd, False


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

def named_keeper_post_ids(unit) -> set:
    """The posts named to keep `unit`'s seal that can still act (an ended post keeps nothing)."""
    from documents.models import SealKeeper

    return set(SealKeeper.objects.filter(unit_id=unit.id, post__active=True, post__person__is_active=True)
               .values_list("post_id", flat=True))


def default_keeper_units(unit) -> list:
    """Whose secretaries keep `unit`'s seal while no keeper is named: the unit's own, and for a
    government its 办公室's (which seals in the government's name)."""
    out = [unit]
    if unit.kind != UnitKind.DEPARTMENT:
        office = getattr(actions, "_office_of", lambda u: None)(unit)
        if office is not None and office.id != unit.id:
            out.append(office)
    return out


def _keeper_post(person, unit, posts=None):
    """A post of `person` that keeps `unit`'s seal (印章保管人): a post the administrator named, or,
    while none is named, a secretary of the unit (or of a government's 办公室). An administrator
    may make a seal for a unit but never apply it."""
    posts = actions.person_posts(person) if posts is None else posts
    named = named_keeper_post_ids(unit)
    if named:
        return next((p for p in posts if p.id in named), None)
    for keeper_unit in default_keeper_units(unit):
        for post in posts:
            if post.unit_id == keeper_unit.id and post.has_role("secretary"):
                return post
    return None


def keeper_candidates(unit):
    """The posts that may be named to keep `unit`'s seal: active posts of the unit and, for a
    government, of its 办公室."""
    from office.models import Post

    ids = [u.id for u in default_keeper_units(unit)]
    return (Post.objects.active().filter(unit_id__in=ids).select_related("person", "unit")
            .order_by("unit__path", "-is_secretary", "id"))


def check_seal_keeper(actor, unit, target_post, *, posts=None):
    from office.actions import check_can_administer

    check_can_administer(actor, unit, posts=posts)
    if unit.dissolved_at is not None:
        raise ActionError(_("该单位已撤销。"), status=409)
    if target_post is None or not keeper_candidates(unit).filter(id=target_post.id).exists():
        raise ActionError(_("印章保管人须是本单位（或其办公室）在岗的人员。"))


def do_add_seal_keeper(*, actor, post=None, unit, target_post, ip=None):
    """指定印章保管人: from now on the named keepers (and only they) apply `unit`'s seal."""
    from documents.models import SealKeeper

    check_seal_keeper(actor, unit, target_post)
    with transaction.atomic():
        keeper, created = SealKeeper.objects.get_or_create(unit=unit, post=target_post,
                                                           defaults={"named_by": actor})
        if not created:
            raise ActionError(_("%(who)s已是该单位的印章保管人。") % {"who": target_post.person.display_name},
                              status=409)
        audit.record("seal.keeper_add", person=actor, post=post, obj=unit, ip=ip,
                     data={"post": target_post.id, "person": target_post.person_id})
        send_event({"type": "seal", "op": "keepers", "unit_id": unit.id}, units=[unit.id],
                   people=[target_post.person_id])
    return keeper


def do_remove_seal_keeper(*, actor, post=None, unit, target_post, ip=None):
    """移除印章保管人. With the last named keeper gone, the unit's secretaries keep the seal again."""
    from documents.models import SealKeeper
    from office.actions import check_can_administer

    check_can_administer(actor, unit)
    with transaction.atomic():
        deleted, _rows = SealKeeper.objects.filter(unit=unit, post_id=target_post.id).delete()
        if not deleted:
            raise ActionError(_("该人员不是该单位的印章保管人。"), status=404)
        audit.record("seal.keeper_remove", person=actor, post=post, obj=unit, ip=ip,
                     data={"post": target_post.id, "person": target_post.person_id})
        send_event({"type": "seal", "op": "keepers", "unit_id": unit.id}, units=[unit.id],
                   people=[target_post.person_id])


def _admin_post(person, unit):
    """Without being its keeper, an administrator of `unit` (the system administrator, or one whose
    unit's subtree holds it: a county's administrator not for another county) makes its seal: the
    administrator post they act under (None for the break-glass superuser without one)."""
    from office.actions import check_can_administer

    posts = actions.person_posts(person)
    try:
        check_can_administer(person, unit, posts=posts)
    except ActionError:
        raise ActionError(_("只有本单位的文秘人员或系统管理员可以制作印章。"), status=403) from None
    admins = [p for p in posts if p.has_role("admin")]
    return next((p for p in admins if unit.path.startswith(p.unit.path)), admins[0] if admins else None)


def check_can_create_seal(person, unit):
    post = _keeper_post(person, unit) or _admin_post(person, unit)
    if ca.has_seal(unit.id):
        raise ActionError(_("%(u)s已有电子印章。") % {"u": unit.name}, status=409)
    return post


def do_create_seal(*, person, unit, ip=None) -> dict:
    post = check_can_create_seal(person, unit)
    keeper = _keeper_post(person, unit)
    try:
        material = ca.create_seal(unit.id, unit.name, keeper_id=person.id if keeper else None, code=unit.code)
        gm = gm_seals.create_seal(unit.id, unit.name, code=unit.code, picture=material.picture)
    except ca.SealError as exc:
        raise ActionError(str(exc), status=409) from None
    with transaction.atomic():
        audit.record("seal.create", person=person, post=post, obj=unit, ip=ip,
                     data={"serial": material.manifest["serial"], "sha256": material.manifest["sha256"],
                           "sm2_serial": format(gm.cert.serial_number, "x")})
        send_event({"type": "seal", "op": "created", "unit_id": unit.id}, units=[unit.id])
    return material.manifest


def _keeps(person, unit) -> bool:
    """`person` keeps `unit`'s seal: a named keeper, or while none is named a secretary of the unit
    (or, for a government, of its 办公室; a department keeps its own seal, not the government's)."""
    return _keeper_post(person, unit) is not None


def check_can_see_seal(person, unit_id) -> None:
    """A seal picture is what a forger wants: only the seal's keepers (the unit's secretaries,
    or the 办公室 secretaries of a government) and its administrators see it (the system
    administrator, or an administrator of a unit above: not another county's)."""
    from office.actions import can_administer
    from office.models import Unit

    unit = Unit.objects.filter(id=unit_id).first()
    if unit is None:
        raise ActionError(_("单位不存在。"), status=404)
    # Permission before existence: to anyone else, whether the unit has a seal at all is not told.
    if not (_keeps(person, unit) or can_administer(person, unit, actions.person_posts(person))):
        raise ActionError(_("只有本单位的印章保管人或系统管理员可以查看印章图像。"), status=403)
    if not ca.has_seal(unit.id):
        raise ActionError(_("该单位尚未制作电子印章。"), status=404)


def _sealing_state(document) -> dict:
    state = _read_json(_stored(document, "sealing.json"))
    if not state or state.get("stamp", _stamp(document)) != _stamp(document):
        return {"boxes": [], "done": [], "stamp": _stamp(document)}  # none yet, or begun on a stale text
    state.setdefault("stamp", _stamp(document))
    return state


def check_can_seal(person, document):
    """用印: only after 签发; each issuer's seal is applied by that unit's own keeper
    (its secretary), the lead (主办) unit first; every issuer must have a seal."""
    actions.check_can_view(person, document)
    if document.state not in SEALABLE_STATES:
        raise ActionError(_("公文须经签发定稿后才能用印。"), status=409)
    issuers = [document.unit] + list(document.co_issuers.all().order_by("id"))
    mine = [u for u in issuers if _keeps(person, u)]
    if not mine:
        raise ActionError(_("只有发文机关的文秘人员（印章保管人）可以用印。"), status=403)
    missing = [u.name for u in issuers if not ca.has_seal(u.id)]
    if missing:
        raise ActionError(_("以下机关尚未制作电子印章：%(u)s。") % {"u": "、".join(missing)}, status=409)
    if issued_current(document):
        raise ActionError(_("该公文已用印，正式文件已生成。"), status=409)
    done = set(_sealing_state(document)["done"])
    if document.unit_id not in done and document.unit not in mine:
        raise ActionError(_("联合发文须由主办机关先用印。"), status=409)
    todo = [u for u in mine if u.id not in done]
    if not todo:
        raise ActionError(_("本单位已用印，等待其他联合发文机关用印。"), status=409)
    post = _keeper_post(person, todo[0])
    return post, issuers, todo


def do_seal(*, person, document, ip=None) -> bytes:
    """印制: the lead unit's keeper renders the PDF/A-2b file and applies its seal; each
    co-issuer's keeper then adds theirs (incremental PAdES signatures). The file is
    issued when every issuer has sealed; until then it waits in sealing.pdf."""
    # Two keepers (or two clicks) at once: one seals, the other then finds it sealed. The row
    # lock serialises server processes on PostgreSQL; the process lock covers SQLite, where
    # SELECT ... FOR UPDATE is a no-op (the embedded default runs one process).
    with _SEAL_LOCK, transaction.atomic():
        type(document).objects.select_for_update().filter(pk=document.pk).first()
        return _seal_locked(person, document, ip)


def _seal_locked(person, document, ip):
    from documents.render.pdf import RenderResult, SealBox

    post, issuers, todo = check_can_seal(person, document)
    try:
        signers = {u.id: LocalSealSigner(ca.load_seal(u.id)) for u in todo}
        # the 国密 seal beside it (a seal made before 国密 seals gets its SM2 seal now)
        gm_signers = {u.id: LocalSM2Signer(gm_seals.ensure_seal(u.id, u.name, code=u.code)) for u in todo}
    except ca.SealError as exc:
        raise ActionError(str(exc), status=409) from None
    state = _sealing_state(document)
    partial = _stored(document, "sealing.pdf")
    partial_ofd = _stored(document, "sealing.ofd")
    if not state["done"] or not storage.exists(partial_ofd):
        ofd = render_ofd(to_render_doc(document)).ofd  # the same layout: the same seal boxes
    else:
        ofd = storage.read(partial_ofd)
    if not state["done"]:
        rdoc = to_render_doc(document)
        result = render_pdf(rdoc)
        pdf = to_pdfa(result.pdf, title=rdoc.title or rdoc.doc_type, author="、".join(rdoc.organs),
                      subject=rdoc.doc_number)
        boxes = {u.id: b for u, b in zip(issuers, result.seal_boxes)}
        state["boxes"] = [[uid, b.page, *b.box, b.organ] for uid, b in boxes.items()]
    else:
        pdf = storage.read(partial)
    boxes = {row[0]: SealBox(row[1], tuple(row[2:6]), row[6]) for row in state["boxes"]}
    order = [u for u in issuers if u in todo]
    for unit in order:
        box = boxes[unit.id]
        one = RenderResult(pdf, 0, [box])
        pdf = seal_document(one, [signers[unit.id]], person_id=person.id, document_id=document.id,
                            field_prefix=f"seal-{unit.id}-")
        ofd = sign_ofd(ofd, gm_signers[unit.id], page=box.page, boundary_mm=seal_boundary_mm(box.box))
        ca.log_use(unit.id, person_id=person.id, document_id=document.id, purpose="用印（OFD，SM2）",
                   digest=hashlib.sha256(ofd).hexdigest())
        state["done"].append(unit.id)
    complete = all(u.id in state["done"] for u in issuers)
    target = issued_path(document) if complete else partial
    # The file goes into storage (the local disk or the bucket every web server sees) inside the
    # locked transaction; its SHA-256 is recorded with it and checked whenever it is read.
    with transaction.atomic():
        audit.record("document.seal", person=person, post=post, obj=document, ip=ip,
                     data={"sha256": hashlib.sha256(pdf).hexdigest(), "seals": [u.id for u in order],
                           "complete": complete})
        send_event({"type": "documents", "op": "sealed" if complete else "sealing", "document": document.id},
                   units=[u.id for u in issuers])
        storage.save(target, pdf, overwrite=True)
        storage.save(issued_ofd_path(document) if complete else partial_ofd, ofd, overwrite=True)
        if complete:
            storage.save(_stored(document, "issued.json"),
                         json.dumps({"stamp": state["stamp"]}, ensure_ascii=False).encode(), overwrite=True)
            storage.save(_stored(document, "issued_ofd.json"),
                         json.dumps({"stamp": state["stamp"]}, ensure_ascii=False).encode(), overwrite=True)
            for leftover in (partial, partial_ofd, _stored(document, "sealing.json")):
                if storage.exists(leftover):
                    storage.delete(leftover)
        else:
            storage.save(_stored(document, "sealing.json"), json.dumps(state, ensure_ascii=False).encode(),
                         overwrite=True)
    return pdf


def sealing_status(document) -> dict:
    issuers = [document.unit] + list(document.co_issuers.all().order_by("id"))
    done = set(_sealing_state(document)["done"])
    complete = issued_current(document)
    return {"complete": complete,
            "units": [{"id": u.id, "name": u.name, "sealed": complete or u.id in done} for u in issuers]}


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
    if not data.startswith(b"%PDF-") and not is_ofd(data):
        raise ActionError(_("不是PDF或OFD文件。"))
    return data


def verify_upload(upload) -> dict:
    """PDF (PAdES) or OFD (SM2/SM3 seals, GB/T 38540)."""
    data = check_verify_upload(upload)
    if is_ofd(data):
        return verify_ofd(data).as_dict()
    return verify_pdf(data).as_dict()
