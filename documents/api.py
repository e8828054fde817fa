"""公文 JSON API, mounted by office/api.py at /api/documents/."""
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from documents import actions, queries
from documents.models import Attachment, DocType
from office.audit import client_ip
from office.errors import ActionError

router = Router(tags=[gettext_lazy("公文")])

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


def _ip(request):
    return client_ip(request)


def _page(qs, page, size, row):
    try:
        page = max(1, int(page or 1))
        size = min(200, max(1, int(size or PAGE_SIZE)))
    except (TypeError, ValueError):
        raise ActionError(_("页码不正确。")) from None
    if page > MAX_PAGE:  # beyond any real list, and beyond what the database can offset
        raise ActionError(_("页码不正确。"))
    total = qs.count()
    items = [row(x) for x in qs[(page - 1) * size: page * size]]
    return {"count": total, "page": page, "items": items}


class DocumentIn(Schema):
    title: str = ""
    doc_type: str = ""
    urgency: str = ""
    disclosure: str = "主动公开"
    classification: str = ""
    body: list[dict[str, Any]] = []
    remark: str = ""
    attachment_notes: list[str] = []
    main: list[int | str] = []
    cc: list[int | str] = []
    main_recipients_label: str = ""
    co_issuers: list[int] = []
    response_deadline: datetime | None = None
    add_skipped_cc: bool = False
    reply_to_receipt: int | None = None
    forward_receipt: int | None = None
    forward_view: str = ""


class DocumentPatch(Schema):
    title: str | None = None
    doc_type: str | None = None
    urgency: str | None = None
    disclosure: str | None = None
    classification: str | None = None
    body: list[dict[str, Any]] | None = None
    remark: str | None = None
    attachment_notes: list[str] | None = None
    main: list[int | str] | None = None
    cc: list[int | str] | None = None
    response_deadline: datetime | None = None
    add_skipped_cc: bool = False


class SubmitIn(Schema):
    reviewers: list[int] = []
    countersign: list[int] = []
    countersign_mode: str = "parallel"
    signers: list[int] = []


class DecideIn(Schema):
    decision: str
    opinion: str = ""


class RegisterIn(Schema):
    prefix: str = ""
    copies: int = 0


class ReasonIn(Schema):
    reason: str = ""


class TextIn(Schema):
    text: str = ""


class AssignIn(Schema):
    unit_id: int | None = None
    person_id: int | None = None
    deadline: datetime | None = None
    note: str = ""


class CirculateIn(Schema):
    post_ids: list[int] = []


class NoteIn(Schema):
    note: str = ""


class MessageIn(Schema):
    message: str = ""


class Created(Schema):
    id: int


class DocTypeOut(Schema):
    value: str
    label: str
    upward: bool
    title_pattern: str
    body_template: list[dict[str, Any]]


TEMPLATES = {
    "通知": [{"kind": "p", "text": "为……，现就有关事项通知如下："}, {"kind": "h1", "text": "一、工作目标"},
             {"kind": "p", "text": "……"}, {"kind": "h1", "text": "二、工作要求"}, {"kind": "p", "text": "……"}],
    "请示": [{"kind": "p", "text": "……（请示缘由）。"}, {"kind": "p", "text": "……（请示事项）。"}, {"kind": "p", "text": "妥否，请批示。"}],
    "报告": [{"kind": "p", "text": "现将……情况报告如下："}, {"kind": "h1", "text": "一、基本情况"}, {"kind": "p", "text": "……"},
             {"kind": "h1", "text": "二、下一步工作"}, {"kind": "p", "text": "……"}, {"kind": "p", "text": "特此报告。"}],
    "批复": [{"kind": "p", "text": "你单位《关于……的请示》收悉。经研究，现批复如下："}, {"kind": "p", "text": "……"},
             {"kind": "p", "text": "此复。"}],
    "函": [{"kind": "p", "text": "……"}, {"kind": "p", "text": "特此函告。"}],
    "纪要": [{"kind": "p", "text": "……年……月……日，……主持召开……会议，研究……。纪要如下："}, {"kind": "h1", "text": "一、……"}],
}


@router.get("/types", response=list[DocTypeOut], summary=gettext_lazy("15种法定文种及其模板"))
def doc_types(request):
    unit = request.post.unit if request.post else None
    return [{"value": t.value, "label": str(t.label), "upward": t.value in ("请示", "报告"),
             "title_pattern": actions.suggest_title(unit, t.value, "……") if unit else f"……关于……的{t.value}",
             "body_template": TEMPLATES.get(t.value, [{"kind": "p", "text": "……"}])} for t in DocType]


@router.get("/suggest-title", summary=gettext_lazy("按“发文机关＋关于＋事由＋的＋文种”建议标题"))
def suggest_title(request, doc_type: str, subject: str = ""):
    if request.post is None:
        raise ActionError(_("您当前没有可用的岗位。"), status=403)
    if doc_type not in DocType.values:
        raise ActionError(_("文种不正确。"))
    return {"title": actions.suggest_title(request.post.unit, doc_type, subject[:100])}


@router.get("/recipients/preview", summary=gettext_lazy("预览收文范围（展开“某单位下所有村”等，并列出被越过的机关）"))
def recipients_preview(request, main: str = "", cc: str = "", doc_type: str = ""):
    from documents import rules

    main_units, cc_units, label = actions.resolve_recipients([x for x in main.split(",") if x],
                                                             [x for x in cc.split(",") if x])
    skipped, problem = [], ""
    if request.post is not None and main_units:
        unit = request.post.unit
        kind = doc_type if doc_type in DocType.values else None
        org = rules.Org([unit, *main_units, *cc_units])
        listed = {u.id for u in main_units} | {u.id for u in cc_units}
        # 越级 is offered only where the table allows the 主送 at all (a 命令 up the line is not).
        if kind is None or all(rules.allowed(kind, org.sender_kind(unit), org.relation_of(unit, u))[0]
                               for u in main_units):
            skipped = [u for u in rules.skipped_units(org, unit, main_units, kind) if u.id not in listed]
        if kind is not None:
            try:
                rules.check_routing(sender=unit, doc_type=kind, main=main_units, cc=cc_units + skipped, org=org)
            except rules.RuleViolation as e:
                problem = e.message
    return {"main_count": len(main_units), "cc_count": len(cc_units), "label": label,
            "main": [{"id": u.id, "name": u.name} for u in main_units[:50]],
            "skipped": [{"id": u.id, "name": u.name} for u in skipped], "problem": problem}


@router.get("/inbox", summary=gettext_lazy("收文（当前岗位所在单位）"))
def inbox(request, q: str = "", number: str = "", doc_type: str = "", sender: int | None = None,
          date_from: str = "", date_to: str = "", state: str = "", page: int = 1, page_size: int = PAGE_SIZE):
    unit_ids = [request.post.unit_id] if request.post else []
    qs = queries.inbox(unit_ids, state=state, q=q, number=number, doc_type=doc_type, sender=sender,
                       date_from=date_from, date_to=date_to)
    return _page(qs, page, page_size, queries.receipt_row)


@router.get("/outbox", summary=gettext_lazy("发文（当前岗位所在单位起草的公文）"))
def outbox(request, q: str = "", number: str = "", doc_type: str = "", date_from: str = "", date_to: str = "",
           state: str = "", page: int = 1, page_size: int = PAGE_SIZE):
    unit_ids = [request.post.unit_id] if request.post else []
    qs = queries.outbox(unit_ids, state=state, q=q, number=number, doc_type=doc_type, date_from=date_from,
                        date_to=date_to)
    return _page(qs, page, page_size, queries.document_row)


@router.get("/", summary=gettext_lazy("检索我能看到的公文（字号、标题正文、文种、发文单位、日期、状态）"))
def search(request, q: str = "", number: str = "", doc_type: str = "", sender: int | None = None,
           date_from: str = "", date_to: str = "", state: str = "", page: int = 1, page_size: int = PAGE_SIZE):
    qs = queries.search(request.user, state=state, q=q, number=number, doc_type=doc_type, sender=sender,
                        date_from=date_from, date_to=date_to)
    return _page(qs, page, page_size, queries.document_row)


@router.post("/", response={201: Created}, summary=gettext_lazy("起草公文"))
def create(request, payload: DocumentIn):
    doc = actions.do_create_document(person=request.user, post=request.post, data=payload.dict(), ip=_ip(request))
    return 201, {"id": doc.id}


@router.get("/archive", summary=gettext_lazy("档案：本单位已办结的收文"))
def archive(request, page: int = 1):
    unit_ids = [request.post.unit_id] if request.post else []
    return _page(queries.archive(unit_ids), page, PAGE_SIZE, queries.receipt_row)


@router.get("/{doc_id}", summary=gettext_lazy("公文详情"))
def detail(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    return queries.document_detail(doc, request.user)


@router.patch("/{doc_id}", summary=gettext_lazy("修改公文（签发后修改将退回签发人）"))
def update(request, doc_id: int, payload: DocumentPatch):
    doc = actions.get_document(request.user, doc_id)
    data = payload.dict(exclude_unset=True)
    actions.do_update_document(person=request.user, post=request.post, doc=doc, data=data, ip=_ip(request))
    return {"id": doc.id}


@router.post("/{doc_id}/attachments", response={201: Created}, summary=gettext_lazy("上传附件"))
def upload(request, doc_id: int, file: File[UploadedFile]):
    doc = actions.get_document(request.user, doc_id)
    att = actions.do_add_attachment(person=request.user, post=request.post, doc=doc, upload=file, ip=_ip(request))
    return 201, {"id": att.id}


@router.get("/{doc_id}/attachments/{att_id}", summary=gettext_lazy("下载附件"))
def download(request, doc_id: int, att_id: int):
    doc = actions.get_document(request.user, doc_id)
    att = Attachment.objects.filter(id=att_id, document_id=doc.id).first()
    if att is None:
        raise ActionError(_("没有找到该附件。"), status=404)
    import mimetypes

    from office.downloads import ranged_file_response

    # streamed from storage (disk or bucket) after its SHA-256 is checked; ranges for large files
    return ranged_file_response(request, att.file.name,
                                mimetypes.guess_type(att.name)[0] or "application/octet-stream", filename=att.name)


@router.post("/{doc_id}/submit", summary=gettext_lazy("送审（审核→会签→签发）"))
def submit(request, doc_id: int, payload: SubmitIn):
    doc = actions.get_document(request.user, doc_id)
    actions.do_submit(person=request.user, post=request.post, doc=doc, reviewers=payload.reviewers,
                      countersign=payload.countersign, countersign_mode=payload.countersign_mode,
                      signers=payload.signers, ip=_ip(request))
    return {"id": doc.id}


@router.post("/steps/{step_id}/decide", summary=gettext_lazy("审核、会签或签发：同意、附意见同意或退回"))
def decide(request, step_id: int, payload: DecideIn):
    step = actions.do_decide(person=request.user, step_id=step_id, decision=payload.decision, opinion=payload.opinion,
                             ip=_ip(request))
    return {"id": step.id, "state": step.state}


@router.post("/{doc_id}/register", summary=gettext_lazy("登记：编发文字号"))
def register(request, doc_id: int, payload: RegisterIn):
    doc = actions.get_document(request.user, doc_id)
    doc = actions.do_register(person=request.user, post=request.post, doc=doc, prefix=payload.prefix,
                              copies=payload.copies, ip=_ip(request))
    return {"id": doc.id, "number": doc.number}


@router.post("/{doc_id}/void-number", summary=gettext_lazy("作废字号（记录原因，不再使用）"))
def void_number(request, doc_id: int, payload: ReasonIn):
    doc = actions.get_document(request.user, doc_id)
    actions.do_void_number(person=request.user, post=request.post, doc=doc, reason=payload.reason, ip=_ip(request))
    return {"id": doc.id}


@router.post("/{doc_id}/dispatch", summary=gettext_lazy("核发：分发到全部收文单位"))
def dispatch(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    d = actions.do_dispatch(person=request.user, post=request.post, doc=doc, ip=_ip(request))
    return {"id": doc.id, "recipients": d.recipient_count}


@router.get("/{doc_id}/tracking", summary=gettext_lazy("分发跟踪：每个收文单位的状态与单位树"))
def tracking(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    queries.check_tracking(request.user, doc)
    return queries.tracking(doc)


@router.get("/{doc_id}/tracking.csv", summary=gettext_lazy("分发跟踪导出 CSV"))
def tracking_csv(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    queries.check_tracking(request.user, doc)
    resp = HttpResponse(queries.tracking_csv(queries.tracking(doc)), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="tracking-{doc.id}.csv"'
    return resp


@router.get("/{doc_id}/tracking.pdf", summary=gettext_lazy("分发跟踪导出 PDF"))
def tracking_pdf(request, doc_id: int):
    doc = actions.get_document(request.user, doc_id)
    queries.check_tracking(request.user, doc)
    resp = HttpResponse(queries.tracking_pdf(queries.tracking(doc)), content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="tracking-{doc.id}.pdf"'
    return resp


@router.post("/receipts/{receipt_id}/sign", summary=gettext_lazy("签收"))
def sign(request, receipt_id: int):
    r = actions.do_sign(person=request.user, post=request.post, receipt_id=receipt_id, ip=_ip(request))
    return {"id": r.id, "state": r.state}


@router.post("/receipts/{receipt_id}/return", summary=gettext_lazy("退文（须写明理由）"))
def return_(request, receipt_id: int, payload: ReasonIn):
    r = actions.do_return(person=request.user, post=request.post, receipt_id=receipt_id, reason=payload.reason,
                          ip=_ip(request))
    return {"id": r.id, "state": r.state}


@router.post("/receipts/{receipt_id}/register", summary=gettext_lazy("收文登记（本单位收文号）"))
def register_receipt(request, receipt_id: int):
    r = actions.do_register_receipt(person=request.user, post=request.post, receipt_id=receipt_id, ip=_ip(request))
    return {"id": r.id, "state": r.state, "registered_no": r.registered_no}


@router.post("/receipts/{receipt_id}/propose", summary=gettext_lazy("拟办"))
def propose(request, receipt_id: int, payload: TextIn):
    r = actions.do_propose(person=request.user, post=request.post, receipt_id=receipt_id, text=payload.text, ip=_ip(request))
    return {"id": r.id, "state": r.state}


@router.post("/receipts/{receipt_id}/instruct", summary=gettext_lazy("批办"))
def instruct(request, receipt_id: int, payload: TextIn):
    r = actions.do_instruct(person=request.user, post=request.post, receipt_id=receipt_id, text=payload.text,
                            ip=_ip(request))
    return {"id": r.id, "state": r.state}


@router.post("/receipts/{receipt_id}/assign", response={201: Created}, summary=gettext_lazy("交办承办（部门或个人，含期限）"))
def assign(request, receipt_id: int, payload: AssignIn):
    a = actions.do_assign(person=request.user, post=request.post, receipt_id=receipt_id, unit_id=payload.unit_id,
                          person_id=payload.person_id, deadline=payload.deadline, note=payload.note, ip=_ip(request))
    return 201, {"id": a.id}


@router.post("/assignments/{assignment_id}/complete", summary=gettext_lazy("承办完成"))
def complete(request, assignment_id: int, payload: TextIn):
    a = actions.do_complete_assignment(person=request.user, post=request.post, assignment_id=assignment_id,
                                       result=payload.text, ip=_ip(request))
    return {"id": a.id}


@router.post("/receipts/{receipt_id}/circulate", summary=gettext_lazy("送领导传阅（按顺序）"))
def circulate(request, receipt_id: int, payload: CirculateIn):
    rows = actions.do_circulate(person=request.user, post=request.post, receipt_id=receipt_id,
                                post_ids=payload.post_ids, ip=_ip(request))
    return {"count": len(rows)}


@router.post("/circulations/{circulation_id}/read", summary=gettext_lazy("传阅：已阅（可附阅示意见）"))
def mark_read(request, circulation_id: int, payload: NoteIn):
    c = actions.do_mark_read(person=request.user, circulation_id=circulation_id, note=payload.note, ip=_ip(request))
    return {"id": c.id}


@router.post("/receipts/{receipt_id}/finish", summary=gettext_lazy("办结"))
def finish(request, receipt_id: int, payload: NoteIn):
    r = actions.do_finish(person=request.user, post=request.post, receipt_id=receipt_id, note=payload.note, ip=_ip(request))
    return {"id": r.id, "state": r.state}


@router.post("/receipts/{receipt_id}/reply", response={201: Created}, summary=gettext_lazy("答复发文机关"))
def reply(request, receipt_id: int, payload: TextIn):
    x = actions.do_reply(person=request.user, post=request.post, receipt_id=receipt_id, text=payload.text, ip=_ip(request))
    return 201, {"id": x.id}


class RemindAllIn(Schema):
    message: str = ""
    only_overdue: bool = False


@router.post("/{doc_id}/remind", summary=gettext_lazy("批量催办：所有未办结（或仅逾期）的收文单位"))
def remind_all(request, doc_id: int, payload: RemindAllIn):
    doc = actions.get_document(request.user, doc_id)
    n = actions.do_remind_all(person=request.user, post=request.post, doc=doc, message=payload.message,
                              only_overdue=payload.only_overdue, ip=_ip(request))
    return {"count": n}


@router.post("/receipts/{receipt_id}/remind", response={201: Created}, summary=gettext_lazy("人工催办（附催办内容）"))
def remind(request, receipt_id: int, payload: MessageIn):
    x = actions.do_remind(person=request.user, post=request.post, receipt_id=receipt_id, message=payload.message,
                          ip=_ip(request))
    return 201, {"id": x.id}
