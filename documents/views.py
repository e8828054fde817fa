"""公文 pages (Chinese). Every change goes through documents.actions; refusals re-render with a 4xx."""
import json
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from documents import actions, queries, webfonts
from documents.files import seals as files_seals
from documents.models import (
    Circulation,
    Disclosure,
    DocState,
    DocType,
    Document,
    ReceiptState,
    Urgency,
)
from office.audit import client_ip
from office.errors import ActionError
from office.models import Post, Unit, UnitKind

PAGE = 30
HEADING_RE = [
    (re.compile(r"^[一二三四五六七八九十百]+、"), "h1"),
    (re.compile(r"^[（(][一二三四五六七八九十百]+[）)]"), "h2"),
    (re.compile(r"^\d+[.．](?!\d)"), "h3"),
    (re.compile(r"^[（(]\d+[）)]"), "h4"),
]


def text_to_blocks(text):
    """One paragraph per line; 一、 （一） 1. （1） open heading levels 1–4."""
    blocks = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        kind = next((k for rx, k in HEADING_RE if rx.match(line)), "p")
        blocks.append({"kind": kind, "text": line})
    return blocks


def blocks_to_text(blocks):
    lines = []
    for b in blocks or []:
        if b.get("kind") == "table":
            lines += ["\t".join(r) for r in b.get("rows", [])]
        else:
            lines.append(b.get("text", ""))
    return "\n".join(lines)


def _not_found(exc=None):
    raise Http404(_("没有找到该公文，或您无权查看。"))


def _get_doc(request, doc_id):
    try:
        return actions.get_document(request.user, doc_id)
    except ActionError:
        _not_found()


def _filters(request):
    g = request.GET
    return {"q": g.get("q", ""), "number": g.get("number", ""), "doc_type": g.get("doc_type", ""),
            "date_from": g.get("date_from", ""), "date_to": g.get("date_to", "")}


@login_required
def index(request):
    box = request.GET.get("box", "inbox")
    if box not in ("inbox", "outbox", "all"):
        box = "inbox"
    filters = _filters(request)
    state = request.GET.get("state", "")
    unit_ids = [request.post.unit_id] if request.post else []
    error = None
    try:
        if box == "inbox":
            qs = queries.inbox(unit_ids, state=state, **filters)
        elif box == "outbox":
            qs = queries.outbox(unit_ids, state=state, **filters)
        else:
            qs = queries.search(request.user, state=state, **filters)
        page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    except ActionError as exc:
        error, page = exc.message, Paginator([], PAGE).get_page(1)
    now = timezone.now()
    rows = [queries.receipt_row(r, now) for r in page] if box == "inbox" else [queries.document_row(d) for d in page]
    states = ([("open", _("未办结")), ("overdue", _("已逾期"))] + list(ReceiptState.choices)) if box == "inbox" \
        else list(DocState.choices)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "documents/index.html", {
        "box": box, "rows": rows, "page": page, "filters": filters, "state": state, "states": states,
        "doc_types": DocType.choices, "error": error, "query": query.urlencode(),
    }, status=400 if error else 200)


def _unit_choices(post):
    """Units offered in the recipient picker: the governments down to towns, and departments near the sender."""
    if post is None:
        return []
    gov = post.unit.government
    near = {gov.id, *(gov.ancestor_ids())}
    qs = Unit.objects.active().filter(kind__in=(UnitKind.CITY, UnitKind.COUNTY, UnitKind.TOWN)) | \
        Unit.objects.active().filter(kind=UnitKind.DEPARTMENT, parent_id__in=near) | \
        Unit.objects.active().filter(parent_id=gov.id)
    return [{"id": u.id, "name": u.name, "kind": u.kind, "depth": u.depth}
            for u in qs.distinct().order_by("path")[:3000]]


def _compose_context(request, doc=None, values=None, error=None, link=None):
    post = request.post
    values = values or {}
    signer_posts = []
    reviewer_posts = []
    if post is not None:
        gov = post.unit.government
        signer_posts = list(Post.objects.active().filter(is_leader=True).filter(unit__in=[gov.id])
                            .select_related("person", "unit"))
        reviewer_posts = list(Post.objects.active().filter(unit__in=Unit.objects.filter(id=gov.id) |
                                                           Unit.objects.filter(parent_id=gov.id))
                              .select_related("person", "unit"))
    return {
        "doc": doc, "values": values, "error": error, "link": link, "import_limits": files_seals.import_limits(),
        "doc_types": DocType.choices, "urgencies": Urgency.choices, "disclosures": Disclosure.choices,
        "unit_choices": _unit_choices(post),
        "signer_posts": signer_posts, "reviewer_posts": reviewer_posts,
        "departments": Unit.objects.active().filter(parent_id=post.unit.government.id, kind=UnitKind.DEPARTMENT)
        if post else [],
    }


def _form_data(request):
    p = request.POST

    def ids(name):
        raw = p.get(name) or "[]"
        try:
            value = json.loads(raw)
        except ValueError:
            raise ActionError(_("收文单位格式不正确。")) from None
        if not isinstance(value, list):
            raise ActionError(_("收文单位格式不正确。"))
        return value

    deadline = p.get("response_deadline") or None
    data = {
        "title": p.get("title", ""), "doc_type": p.get("doc_type", ""), "urgency": p.get("urgency", ""),
        "disclosure": p.get("disclosure", ""), "classification": p.get("classification", ""),
        "body": text_to_blocks(p.get("body", "")), "remark": p.get("remark", ""),
        "attachment_notes": [x.strip() for x in p.get("attachment_notes", "").splitlines() if x.strip()],
        "main": ids("main"), "cc": ids("cc"), "add_skipped_cc": p.get("add_skipped_cc") == "on",
        "response_deadline": deadline,
    }
    for key in ("reply_to_receipt", "forward_receipt"):
        if p.get(key):
            data[key] = p.get(key)
    if p.get("forward_view"):
        data["forward_view"] = p.get("forward_view")
    return data


def _link_from_query(request):
    """new?reply=<receipt> (答复) or new?forward=<receipt> (转发)."""
    for key, field in (("reply", "reply_to_receipt"), ("forward", "forward_receipt")):
        rid = request.GET.get(key) or request.POST.get(field)
        if rid:
            try:
                receipt = actions.get_receipt(request.user, rid)
            except ActionError:
                _not_found()
            return {"kind": key, "field": field, "receipt": receipt}
    return None


@login_required
def compose(request):
    link = _link_from_query(request)
    if request.method == "POST":
        try:
            data = _form_data(request)
            doc = actions.do_create_document(person=request.user, post=request.post, data=data, ip=client_ip(request))
            for upload in request.FILES.getlist("files"):
                actions.do_add_attachment(person=request.user, post=request.post, doc=doc, upload=upload,
                                          ip=client_ip(request))
        except ActionError as exc:
            return render(request, "documents/compose.html",
                          _compose_context(request, values=request.POST, error=exc.message, link=link), status=exc.status)
        messages.success(request, _("公文已保存为草稿。"))
        return redirect(f"/documents/{doc.id}/")
    values = {"doc_type": request.GET.get("type", "通知"), "disclosure": Disclosure.ACTIVE}
    if link and link["kind"] == "reply":
        orig = link["receipt"].document
        values.update({"doc_type": "批复" if orig.doc_type == "请示" else "函",
                       "title": f"关于{orig.title}的{'批复' if orig.doc_type == '请示' else '复函'}"})
    elif link:
        orig = link["receipt"].document
        values.update({"title": f"{request.post.unit.name if request.post else ''}关于转发《{orig.title}》的通知"})
    return render(request, "documents/compose.html", _compose_context(request, values=values, link=link))


@login_required
def edit(request, doc_id):
    doc = _get_doc(request, doc_id)
    if request.method == "POST":
        try:
            data = _form_data(request)
            for key in ("reply_to_receipt", "forward_receipt", "forward_view"):
                data.pop(key, None)
            actions.do_update_document(person=request.user, post=request.post, doc=doc, data=data, ip=client_ip(request))
            for upload in request.FILES.getlist("files"):
                actions.do_add_attachment(person=request.user, post=request.post, doc=doc, upload=upload,
                                          ip=client_ip(request))
        except ActionError as exc:
            return render(request, "documents/compose.html",
                          _compose_context(request, doc=doc, values=request.POST, error=exc.message), status=exc.status)
        messages.success(request, _("修改已保存。"))
        return redirect(f"/documents/{doc.id}/")
    try:
        actions.check_can_edit(request.user, request.post, doc)
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect(f"/documents/{doc.id}/")
    values = {"title": doc.title, "doc_type": doc.doc_type, "urgency": doc.urgency, "disclosure": doc.disclosure,
              "body": blocks_to_text(doc.body), "remark": doc.remark,
              "attachment_notes": "\n".join(doc.attachment_notes),
              "main": json.dumps(doc.recipient_spec.get("main") or
                                 [str(i) for i in doc.main_recipients.values_list("id", flat=True)]),
              "cc": json.dumps([str(i) for i in doc.cc_recipients.values_list("id", flat=True)]),
              "response_deadline": timezone.localtime(doc.response_deadline).strftime("%Y-%m-%dT%H:%M")
              if doc.response_deadline else ""}
    return render(request, "documents/compose.html", _compose_context(request, doc=doc, values=values))


def _detail_context(request, doc, error=None):
    data = queries.document_detail(doc, request.user)
    me = request.user
    posts = actions.person_posts(me)
    unit_ids = {p.unit_id for p in posts}
    my_step_ids = set()
    for s in actions.active_steps(doc):
        try:
            actions.check_step_actor(me, s)
            my_step_ids.add(s.id)
        except ActionError:
            pass
    is_sec = actions._secretary_post(me, doc.unit, request.post, include_office=True) is not None
    can_edit = True
    try:
        actions.check_can_edit(me, request.post, doc)
    except ActionError:
        can_edit = False
    paper = render_to_string("documents/_paper.html", {"d": data})
    receipts = []
    for r in data["receipts"]:
        rid = r["id"]
        roles = {role for p in posts if p.unit_id == r["unit"]["id"] for role in p.roles}
        receipt_units = Unit.objects.filter(id=r["unit"]["id"]) | Unit.objects.filter(parent_id=r["unit"]["id"])
        r["roles"] = roles
        r["mine"] = r["unit"]["id"] in unit_ids
        r["my_assignments"] = [a for a in r["assignments"] if not a["done_at"] and
                               (a["person_id"] == me.id or (a["unit_id"] and a["unit_id"] in unit_ids))]
        holder = Circulation.objects.filter(receipt_id=rid, read_at__isnull=True).order_by("order").first()
        r["my_circulation"] = holder.id if holder and holder.person_id == me.id else None
        if r["mine"]:
            r["leader_posts"] = list(Post.objects.active().filter(unit__in=receipt_units, is_leader=True)
                                     .select_related("person", "unit"))
            r["assignable_units"] = list(receipt_units.filter(dissolved_at__isnull=True))
            r["assignable_people"] = list(Post.objects.active().filter(unit__in=receipt_units)
                                          .select_related("person", "unit"))
        receipts.append(r)
    return {
        "doc": doc, "d": data, "error": error, "my_step_ids": my_step_ids, "is_sec": is_sec, "can_edit": can_edit,
        "receipts": receipts, "paper": mark_safe(paper),  # rendered (and escaped) by the template engine
        "paper_faces": webfonts.faces_for(doc.id, paper),
        "signer_posts": Post.objects.active().filter(is_leader=True, unit_id__in=[doc.unit.government.id] +
                                                     list(doc.co_issuers.values_list("id", flat=True)))
        .select_related("person", "unit"),
        "reviewer_posts": Post.objects.active().filter(unit__in=Unit.objects.filter(id=doc.unit.government.id) |
                                                       Unit.objects.filter(parent_id=doc.unit.government.id))
        .select_related("person", "unit"),
        "departments": Unit.objects.active().filter(parent_id=doc.unit.government.id, kind=UnitKind.DEPARTMENT)
        .exclude(id=doc.unit_id),
        "default_prefix": actions.default_prefix(doc),
        "files": files_seals.files_context(me, doc),
    }


@login_required
def detail(request, doc_id):
    doc = _get_doc(request, doc_id)
    return render(request, "documents/detail.html", _detail_context(request, doc))


def _ints(values):
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise ActionError(_("选择的项目不正确。")) from None
    return out


@login_required
@require_POST
def act(request, doc_id):
    """All buttons of the detail page post here with an `op`."""
    doc = _get_doc(request, doc_id)
    p, me, post, ip = request.POST, request.user, request.post, client_ip(request)
    op = p.get("op", "")
    rid = p.get("receipt")
    done = _("操作成功。")
    try:
        if op == "submit":
            actions.do_submit(person=me, post=post, doc=doc, reviewers=_ints(p.getlist("reviewers")),
                              countersign=_ints(p.getlist("countersign")),
                              countersign_mode=p.get("countersign_mode", "parallel"),
                              signers=_ints(p.getlist("signers")), ip=ip)
            done = _("已送审。")
        elif op == "decide":
            actions.do_decide(person=me, step_id=p.get("step"), decision=p.get("decision", ""),
                              opinion=p.get("opinion", ""), ip=ip)
            done = _("已办理。")
        elif op == "register":
            doc = actions.do_register(person=me, post=post, doc=doc, prefix=p.get("prefix", ""),
                                      copies=p.get("copies") or 0, ip=ip)
            done = _("已登记，发文字号：%(n)s") % {"n": doc.number}
        elif op == "void":
            actions.do_void_number(person=me, post=post, doc=doc, reason=p.get("reason", ""), ip=ip)
            done = _("字号已作废，可重新登记。")
        elif op == "dispatch":
            d = actions.do_dispatch(person=me, post=post, doc=doc, ip=ip)
            done = _("已分发到%(n)d个单位。") % {"n": d.recipient_count}
        elif op == "sign":
            actions.do_sign(person=me, post=post, receipt_id=rid, ip=ip)
            done = _("已签收。")
        elif op == "return":
            actions.do_return(person=me, post=post, receipt_id=rid, reason=p.get("reason", ""), ip=ip)
            done = _("已退文。")
        elif op == "register_receipt":
            r = actions.do_register_receipt(person=me, post=post, receipt_id=rid, ip=ip)
            done = _("已登记，收文号：%(n)s") % {"n": r.registered_no}
        elif op == "propose":
            actions.do_propose(person=me, post=post, receipt_id=rid, text=p.get("text", ""), ip=ip)
        elif op == "instruct":
            actions.do_instruct(person=me, post=post, receipt_id=rid, text=p.get("text", ""), ip=ip)
        elif op == "assign":
            target = p.get("target", "")
            unit_id = person_id = None
            if target.startswith("u:"):
                unit_id = _ints([target[2:]])[0]
            elif target.startswith("p:"):
                person_id = _ints([target[2:]])[0]
            actions.do_assign(person=me, post=post, receipt_id=rid, unit_id=unit_id, person_id=person_id,
                              deadline=p.get("deadline") or None, note=p.get("note", ""), ip=ip)
            done = _("已交办。")
        elif op == "complete":
            actions.do_complete_assignment(person=me, post=post, assignment_id=p.get("assignment"),
                                           result=p.get("text", ""), ip=ip)
        elif op == "circulate":
            actions.do_circulate(person=me, post=post, receipt_id=rid, post_ids=_ints(p.getlist("posts")), ip=ip)
            done = _("已送传阅。")
        elif op == "read":
            actions.do_mark_read(person=me, circulation_id=p.get("circulation"), note=p.get("note", ""), ip=ip)
            done = _("已阅。")
        elif op == "finish":
            actions.do_finish(person=me, post=post, receipt_id=rid, note=p.get("note", ""), ip=ip)
            done = _("已办结。")
        elif op == "reply":
            actions.do_reply(person=me, post=post, receipt_id=rid, text=p.get("text", ""), ip=ip)
            done = _("已答复。")
        elif op == "remind":
            actions.do_remind(person=me, post=post, receipt_id=rid, message=p.get("message", ""), ip=ip)
            done = _("已催办。")
        else:
            raise ActionError(_("未知的操作。"))
    except ActionError as exc:
        if exc.status == 404:
            _not_found()
        doc = Document.objects.select_related("unit", "drafted_by").get(id=doc.id)
        return render(request, "documents/detail.html", _detail_context(request, doc, error=exc.message),
                      status=exc.status)
    messages.success(request, done)
    back = f"/documents/{doc.id}/"
    if op in ("remind",) and p.get("back") == "tracking":
        back += "tracking/"
    return redirect(back)


@login_required
def paper_font(request, doc_id, role, digest):
    """A face of the on-screen paper, subset to its characters (documents/webfonts.py): a year in
    the reader's own cache, since the URL's hash fixes the content."""
    doc = _get_doc(request, doc_id)
    if role not in webfonts.FACES:
        raise Http404(_("没有这种字体。"))
    data = webfonts.woff2_for(doc.id, role, digest, lambda: render_to_string(
        "documents/_paper.html", {"d": queries.document_detail(doc, request.user)}))
    if data is None:
        raise Http404(_("公文已修改，请刷新页面。"))
    response = HttpResponse(data, content_type="font/woff2")
    response["Cache-Control"] = f"private, max-age={webfonts.MAX_AGE}, immutable"
    return response


@login_required
def tracking(request, doc_id):
    doc = _get_doc(request, doc_id)
    try:
        queries.check_tracking(request.user, doc)
    except ActionError:
        # the reader may see the document but not follow its recipients: say so in the shell
        raise PermissionDenied(_("只有发文单位可以查看该公文的办理跟踪。")) from None
    return render(request, "documents/tracking.html", {"doc": doc, "states": queries.TRACK_STATES})
