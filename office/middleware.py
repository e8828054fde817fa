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
