"""The JSON API root (/api/, schema at /api/openapi.json, docs at /api/docs).

office names the apps' routers by dotted path, so the core imports none of them.
"""
import logging
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI, Router, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import django_auth

from office import todo
from office.errors import ActionError, status_message, unavailable_message, upload_too_large_message
from office.models import Post, Unit

logger = logging.getLogger("office.api")


def _holds_nul(data) -> bool:
    """Whether a NUL is in any string (key or value) of parsed JSON, however deep."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return False


class NulRefusingParser(Parser):
    """Ninja's parser, refusing a NUL in any string of a JSON body (400): no text column can
    store one (PostgreSQL raises on it), so it would otherwise end as a 500 deep in a query. (The path
    and query string of every request are checked earlier, by office.middleware.NulBytesMiddleware.)"""

    def parse_body(self, request):
        data = super().parse_body(request)
        if _holds_nul(data):  # Ninja wraps this in "Cannot parse request body": _http_error unwraps it
            raise ActionError(_("请求中含有不允许的控制字符（NUL）。"), status=400)
        return data


api = NinjaAPI(
    title="一网通 API",
    version="1.0",
    description=gettext_lazy("咸阳协同办公一网通：组织机构、公文、会议与培训。"),
    auth=django_auth,
    urls_namespace="api",
    docs_decorator=login_required,  # the API's documentation is for signed-in people only
    parser=NulRefusingParser(),
)


@api.exception_handler(ActionError)
def _action_error(request, exc):
    return api.create_response(request, {"detail": exc.message}, status=exc.status)


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    return api.create_response(request, {"detail": _("请求数据格式不正确。"), "errors": exc.errors}, status=422)


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return api.create_response(request, {"detail": _("请先登录。")}, status=401)


@api.exception_handler(AuthorizationError)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": _("您无权进行此操作。")}, status=403)


@api.exception_handler(PermissionDenied)
def _permission_denied(request, exc):
    return api.create_response(request, {"detail": str(exc) or _("您无权进行此操作。")}, status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": _("没有找到，或您无权查看。")}, status=404)


@api.exception_handler(HttpError)
def _http_error(request, exc):
    if isinstance(exc.__cause__, ActionError):  # the parser refused the body, and says why
        return _action_error(request, exc.__cause__)
    message = str(exc)
    if exc.status_code == 400 and "parse" in message.lower():
        message = _("请求正文不是有效的 JSON。")
    elif message.isascii():  # ninja's own English texts (CSRF, …): the plain message for the status
        message = status_message(exc.status_code)
    return api.create_response(request, {"detail": message}, status=exc.status_code)


@api.exception_handler(RequestDataTooBig)
def _too_large(request, exc):
    return api.create_response(request, {"detail": upload_too_large_message()}, status=413)


@api.exception_handler(SuspiciousOperation)
def _suspicious(request, exc):
    return api.create_response(request, {"detail": status_message(400)}, status=400)


@api.exception_handler(OverflowError)
def _overflow(request, exc):
    # a number beyond what the database can hold (an id or a page of 20 digits): no such thing
    return api.create_response(request, {"detail": _("数字超出允许的范围。")}, status=400)


@api.exception_handler(Exception)
def _server_error(request, exc):
    logger.error("API error on %s %s", request.method, request.path, exc_info=exc)
    down = unavailable_message(exc)
    if down:  # the database or Redis is down: a 503 that says so
        return api.create_response(request, {"detail": down}, status=503)
    return api.create_response(request, {"detail": status_message(500)}, status=500)


router = Router(tags=[gettext_lazy("组织机构")])


class PostOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    title: str
    roles: list[str]


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    current_post: PostOut | None
    posts: list[PostOut]


def _post_out(post):
    return {"id": post.id, "unit_id": post.unit_id, "unit_name": post.unit.name, "title": post.title,
            "roles": post.roles}


@router.get("/me", response=MeOut, summary=gettext_lazy("当前用户与岗位"))
def me(request):
    return {
        "id": request.user.id, "username": request.user.username, "display_name": request.user.display_name,
        "current_post": _post_out(request.post) if request.post else None,
        "posts": [_post_out(p) for p in request.posts],
    }


class TodoItem(Schema):
    kind: str
    title: str
    url: str
    since: datetime | None = None
    unit: str | None = None


class TodoOut(Schema):
    count: int
    items: list[TodoItem]


@router.get("/todo", response=TodoOut, summary=gettext_lazy("待办"))
def todo_list(request):
    items = todo.items_for(request.user)
    return {"count": len(items), "items": items}


@router.get("/todo/count", summary=gettext_lazy("待办数量"))
def todo_count(request):
    return {"count": todo.count_for(request.user)}


class UnitOut(Schema):
    id: int
    parent_id: int | None
    kind: str
    name: str
    short_name: str
    code: str | None
    doc_prefix: str
    fonds_no: str
    level: int | None
    dissolved: bool


def _unit_out(unit, level=None):
    return {"id": unit.id, "parent_id": unit.parent_id, "kind": unit.kind, "name": unit.name,
            "short_name": unit.short_name, "code": unit.code, "doc_prefix": unit.doc_prefix,
            "fonds_no": unit.fonds_no, "level": level, "dissolved": unit.dissolved_at is not None}


@router.get("/units", response=list[UnitOut], summary=gettext_lazy("下级单位或搜索单位"))
def units(request, parent: int | None = None, q: str = ""):
    q = q.strip()[:50]
    qs = Unit.objects.active()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(short_name__contains=q) | Q(code=q))[:100]
    elif parent is not None:
        qs = qs.filter(parent_id=parent).order_by("sort_order", "name")
    else:
        qs = qs.filter(parent__isnull=True)
    return [_unit_out(u) for u in qs]


@router.get("/units/{unit_id}", response=UnitOut, summary=gettext_lazy("单位详情"))
def unit(request, unit_id: int):
    try:
        u = Unit.objects.get(id=unit_id)
    except Unit.DoesNotExist:
        raise Http404 from None
    return _unit_out(u, u.level)


class UnitIn(Schema):
    parent_id: int | None = None
    kind: str
    name: str
    short_name: str = ""
    code: str | None = None
    doc_prefix: str = ""
    fonds_no: str = ""


@router.post("/units", response={201: UnitOut}, summary=gettext_lazy("新建单位（系统管理员）"))
def create_unit(request, payload: UnitIn):
    from office import actions, audit

    scope = actions.check_can_administer(request.user, posts=request.posts)
    parent = None
    if payload.parent_id is not None:
        parent = Unit.objects.filter(id=payload.parent_id).first()
        if parent is None:
            raise ActionError(_("上级单位不存在。"), status=404)
    if parent is None and scope is not None:  # a unit's administrator adds units only below their own
        raise ActionError(_("您无权管理该单位。"), status=403)
    if parent is not None:
        actions.check_can_administer(request.user, parent, posts=request.posts)
    u = actions.do_create_unit(actor=request.user, post=request.post, parent=parent, kind=payload.kind,
                               name=payload.name, code=payload.code, short_name=payload.short_name,
                               doc_prefix=payload.doc_prefix, fonds_no=payload.fonds_no,
                               ip=audit.client_ip(request))
    return 201, _unit_out(u, u.level)


class PersonOut(Schema):
    post_id: int
    person_id: int
    display_name: str
    unit_id: int
    unit_name: str
    title: str
    roles: list[str]


@router.get("/people", response=list[PersonOut], summary=gettext_lazy("按姓名或单位查人员"))
def people(request, q: str = "", unit: int | None = None):
    qs = Post.objects.active().select_related("person", "unit")
    q = q.strip()[:50]
    if unit is not None:
        qs = qs.filter(unit_id=unit)
    elif q:
        qs = qs.filter(person__display_name__contains=q)
    else:
        return []
    return [{"post_id": p.id, "person_id": p.person_id, "display_name": p.person.display_name,
             "unit_id": p.unit_id, "unit_name": p.unit.name, "title": p.title, "roles": p.roles}
            for p in qs[:200]]


class DelegationIn(Schema):
    to_post_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


class DelegationOut(Schema):
    id: int
    from_post_id: int
    to_post_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str


@router.post("/delegations", response={201: DelegationOut}, summary=gettext_lazy("委托代签（领导在当前岗位委托他人）"))
def create_delegation(request, payload: DelegationIn):
    from office import actions, audit

    if request.post is None:
        raise ActionError(_("您当前没有岗位。"), status=403)
    to_post = Post.objects.active().select_related("unit", "person").filter(id=payload.to_post_id).first()
    if to_post is None:
        raise ActionError(_("受托岗位不存在。"), status=404)
    d = actions.do_delegate(actor=request.user, from_post=request.post, to_post=to_post,
                            starts_at=payload.starts_at, ends_at=payload.ends_at, reason=payload.reason,
                            ip=audit.client_ip(request))
    return 201, d


class PostIn(Schema):
    person_id: int
    unit_id: int
    roles: list[str]
    title: str = ""


@router.post("/posts", response={200: PostOut}, summary=gettext_lazy("设置人员岗位与角色（系统管理员）"))
def set_post(request, payload: PostIn):
    from office import actions, audit
    from office.models import Person

    actions.check_can_administer(request.user, posts=request.posts)
    person = Person.objects.filter(id=payload.person_id).first()
    unit_obj = Unit.objects.filter(id=payload.unit_id).first()
    if person is None or unit_obj is None:
        raise ActionError(_("人员或单位不存在。"), status=404)
    actions.check_can_administer(request.user, unit_obj, posts=request.posts)  # their own units only
    if len(payload.title) > 100:
        raise ActionError(_("职务名称不能超过100个字符。"))
    post = actions.do_set_post(actor=request.user, post=request.post, person=person, unit=unit_obj,
                               roles=payload.roles, title=payload.title, ip=audit.client_ip(request))
    return _post_out(post)


api.add_router("/office/", router)


# Each app's router by dotted path, so the core imports none of them.
api.add_router("/documents/archive/", "documents.archive.api.router")
api.add_router("/documents/", "documents.api.router")
api.add_router("/documents/files/", "documents.files.api.router")
api.add_router("/meetings/", "meetings.api.router")
api.add_router("/training/", "meetings.training.api.router")
