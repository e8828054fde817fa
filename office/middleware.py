import json

from office.models import Post

SESSION_KEY = "yw_post_id"


class CurrentPostMiddleware:
    """Sets request.post: the post the person is working in now (岗位切换)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.post = None
        user = request.user
        if user.is_authenticated:
            posts = list(Post.objects.active().filter(person_id=user.id).select_related("unit"))
            request.posts = user.request_posts = posts  # Person.active_posts() reuses it
            wanted = request.session.get(SESSION_KEY)
            chosen = next((p for p in posts if p.id == wanted), None) or (posts[0] if posts else None)
            request.post = chosen
        else:
            request.posts = []
        return self.get_response(request)


class BodyTooLargeMiddleware:
    """Answers a request whose body office.uploads.BodyLimit refused (413), in the shell or as JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from office.uploads import SCOPE_FLAG

        if getattr(request, "scope", {}).get(SCOPE_FLAG):
            from office.errors import error_response, upload_too_large_message

            return error_response(request, 413, upload_too_large_message())
        return self.get_response(request)


class NulBytesMiddleware:
    """Refuses a request whose path or query string holds a NUL character (400): no text column
    can store one (PostgreSQL raises on it), so it would otherwise end as a 500 deep in a query.
    A page's form body is checked just before its view (process_view, where the CSRF check
    parses it anyway): its fields' names and values (Django strips
    non-printables from uploaded files' names itself). The API's parser refuses a NUL in
    a JSON or form string itself (office.api.NulRefusingParser)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or _has_nul(request.GET):
            return _refuse_nul(request)
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        from office.errors import is_api

        if request.method not in ("POST", "PUT", "PATCH") or is_api(request):
            return None
        if getattr(view, "refuses_nul_itself", False):
            # The sign-in page answers a NUL in the name or password with its own message and audits
            # the attempt (tests/test_sign_in_outages.py, tests/test_ldap_bad_input.py).
            return None
        kind = request.content_type or ""
        if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return None
        if _has_nul(request.POST) or any("\x00" in key for key in request.FILES):
            return _refuse_nul(request)
        return None


def _has_nul(query):
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


def _refuse_nul(request):
    from django.utils.translation import gettext as _

    from office.errors import error_response

    return error_response(request, 400, _("请求中含有不允许的控制字符（NUL）。"))


class ApiJsonErrorsMiddleware:
    """Every error under /api/ carries a JSON body {"detail": <message in the reader's language>}:
    also those that never reach the API's own handlers (an unknown path, a wrong method, a
    CSRF failure, a body too large)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from office.errors import is_api, json_error

        response = self.get_response(request)
        if response.status_code < 400 or not is_api(request) or getattr(response, "streaming", False):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            try:
                body = json.loads(response.content or b"null")
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("detail"):
                return response
        replaced = json_error(response.status_code)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                replaced[header] = response[header]
        return replaced


class PersonLanguageMiddleware:
    """A signed-in person's chosen language (语言, in the user menu) wins over the browser's; the
    language cookie follows it, so that websockets (office.i18n) speak the same language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        user = getattr(request, "user", None)
        chosen = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if chosen:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != chosen:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, max_age=settings.LANGUAGE_COOKIE_AGE,
                                path=settings.LANGUAGE_COOKIE_PATH, samesite=settings.LANGUAGE_COOKIE_SAMESITE)
        return response
