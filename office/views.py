from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from office import actions, audit, ldap, todo
from office.auth import Throttle, normalise_username
from office.errors import ActionError
from office.forms import LoginForm
from office.models import Post, Unit, UnitKind


async def login_view(request):
    """The sign-in page. Asking the directory can take a while (and a hung server its whole timeout):
    that part runs in a worker thread, so other people's pages (Django runs synchronous views on one
    thread per process under ASGI) and other sign-ins do not wait behind it."""
    fetched = None
    if request.method == "POST":
        prepared = await sync_to_async(_ldap_sign_in_wanted)(request)
        if prepared is not None:
            fetched = await sync_to_async(ldap.fetch_sign_in, thread_sensitive=False)(*prepared)
    return await sync_to_async(_login_view)(request, fetched)


login_view.refuses_nul_itself = True  # its form says which field holds the NUL, and the attempt is audited


def _ldap_sign_in_wanted(request):
    form = LoginForm(request.POST)
    if not form.is_valid():
        return None
    username = normalise_username(form.cleaned_data["username"])
    if Throttle(username, audit.client_ip(request)).locked():
        return None
    return ldap.prepare_sign_in(username, form.cleaned_data["password"])


def _login_view(request, ldap_fetched=None):
    if request.user.is_authenticated and request.method == "GET":
        return redirect("/")
    form = LoginForm(request.POST or None)
    error = None
    status = 200
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if request.method == "POST":
        ip = audit.client_ip(request)
        if not form.is_valid():
            error = " ".join(str(e) for errs in form.errors.values() for e in errs)
            status = 400
            raw = (request.POST.get("username") or "")[:64]
            clean = "".join(ch if ch.isprintable() else "\ufffd" for ch in raw)  # no NUL into JSON
            audit.record("auth.login_failed", ip=ip, data={"username": clean, "reason": "invalid-form"})
        else:
            # One form of the name for the throttle and every lookup (full-width, capitals).
            username = normalise_username(form.cleaned_data["username"])
            throttle = Throttle(username, ip)
            if throttle.locked():
                error = _("登录失败次数过多，请稍后再试。")
                status = 429
                audit.record("auth.login_throttled", ip=ip, data={"username": username[:64]})
            else:
                try:
                    user = authenticate(request, username=username, password=form.cleaned_data["password"],
                                        ldap_fetched=ldap_fetched)
                except ActionError as exc:
                    user, error, status = None, exc.message, exc.status
                if user is not None:
                    throttle.clear()
                    with transaction.atomic():  # last_login and the audit entry of the sign-in: one commit
                        login(request, user)
                    return redirect(next_url)
                if error is None:  # only wrong credentials count: an outage is nobody's failed password
                    throttle.fail()
                    error = _("用户名或密码不正确。")
                    status = 401
                audit.record("auth.login_failed", ip=ip, data={"username": username[:64], "reason": error})
    return render(request, "office/login.html", {"form": form, "error": error, "next": next_url}, status=status)


def logout_view(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    logout(request)
    return redirect("/login/")


@login_required
def home(request):
    """工作台: 待办, 待阅, 今日会议与培训, 通知公告 and 已办 as panels; a leader's opens on sign-offs."""
    if not getattr(request, "posts", None) and request.user.source == "ldap":
        from office.views_ldap import no_post_page

        return no_post_page(request)
    post = request.post
    is_leader = bool(post and post.is_leader)
    panels = todo.workbench(request.user, is_leader=is_leader)
    return render(request, "office/home.html", {
        "panels": panels, "is_leader": is_leader,
        "can_draft": post is not None,
    })


@login_required
@require_POST
def switch_post(request):
    try:
        post = actions.do_switch_post(request=request, post_id=int(request.POST.get("post", "0") or 0))
        messages.success(request, _("已切换到岗位：%(unit)s") % {"unit": post.unit.name})
    except (ActionError, ValueError):
        messages.error(request, _("您没有这个岗位。"))
    back = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    return redirect(back)


def _children_with_counts(unit_id):
    return (Unit.objects.filter(parent_id=unit_id, dissolved_at__isnull=True)
            .annotate(child_count=Count("children", filter=Q(children__dissolved_at__isnull=True), distinct=True))
            .order_by("sort_order", "kind", "name"))


@login_required
def directory(request):
    q = (request.GET.get("q") or "").strip()[:50]
    if q:
        units = Unit.objects.active().filter(name__contains=q).select_related("parent")[:50]
        posts = (Post.objects.active().filter(Q(person__display_name__contains=q) | Q(person__username=q))
                 .select_related("person", "unit")[:50])
        return render(request, "office/directory_search.html", {"q": q, "units": units, "posts": posts})
    post = request.post
    if post is not None:  # start where the person works; the breadcrumbs lead up the tree
        return unit_detail(request, post.unit_id)
    city = Unit.objects.filter(kind=UnitKind.CITY).first()
    if city is None:
        return render(request, "office/directory_unit.html", {"unit": None, "children": [], "posts": []})
    return unit_detail(request, city.id)


@login_required
def unit_detail(request, unit_id):
    try:
        unit = Unit.objects.select_related("parent").get(id=unit_id)
    except Unit.DoesNotExist:
        raise Http404(_("没有这个单位。")) from None
    children = _children_with_counts(unit.id)
    governments = [c for c in children if c.kind != UnitKind.DEPARTMENT]
    departments = [c for c in children if c.kind == UnitKind.DEPARTMENT]
    page = Paginator(governments, 60).get_page(request.GET.get("page"))
    posts = Post.objects.active().filter(unit=unit).select_related("person").order_by("-is_leader", "id")
    return render(request, "office/directory_unit.html", {
        "unit": unit, "ancestors": unit.ancestors(), "children": page, "departments": departments,
        "posts": posts,
    })


@login_required
def my_account(request):
    """我的岗位: the person's posts, and sign-off delegations given and received (代理)."""
    from datetime import datetime

    from django.utils import timezone

    from office.models import Delegation

    error = None
    post = request.post
    if request.method == "POST" and post is not None:
        try:
            to_post = Post.objects.active().select_related("unit").get(id=int(request.POST.get("to_post") or 0))
            tz = timezone.get_current_timezone()
            starts = timezone.make_aware(datetime.fromisoformat(request.POST.get("starts_at", "")), tz)
            ends = timezone.make_aware(datetime.fromisoformat(request.POST.get("ends_at", "")), tz)
            actions.do_delegate(actor=request.user, from_post=post, to_post=to_post, starts_at=starts,
                                ends_at=ends, reason=request.POST.get("reason", "")[:200], ip=audit.client_ip(request))
            messages.success(request, _("已委托 %(who)s 代签。") % {"who": to_post.person.display_name})
            return redirect("my-account")
        except (Post.DoesNotExist, ValueError):
            error = _("请选择受托人并填写正确的起止时间。")
        except ActionError as exc:
            error = exc.message
    colleagues = []
    if post is not None and post.is_leader:
        colleagues = (Post.objects.active().filter(unit__path__startswith=post.unit.government.path)
                      .exclude(id=post.id).select_related("person", "unit").order_by("-is_leader", "id")[:200])
    given = Delegation.objects.filter(from_post__person_id=request.user.id).select_related(
        "to_post__person", "from_post__unit").order_by("-starts_at")[:20]
    received = Delegation.objects.filter(to_post__person_id=request.user.id).select_related(
        "from_post__person", "from_post__unit").order_by("-starts_at")[:20]
    return render(request, "office/my_account.html", {
        "colleagues": colleagues, "given": given, "received": received, "error": error,
        "now": timezone.localtime(),
    }, status=400 if error else 200)


@login_required
@require_POST
def set_language(request):
    """语言: remembered on the person (every device) and in Django's language cookie (this browser)."""
    from django.views.i18n import set_language as django_set_language

    try:
        actions.do_set_language(person=request.user, code=request.POST.get("language", ""), ip=audit.client_ip(request))
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("/")
    from django.utils import translation

    translation.activate(request.user.language)
    return django_set_language(request)
