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
            request.posts = posts
            wanted = request.session.get(SESSION_KEY)
            chosen = next((p for p in posts if p.id == wanted), None) or (posts[0] if posts else None)
            request.post = chosen
        else:
            request.posts = []
        return self.get_response(request)


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
