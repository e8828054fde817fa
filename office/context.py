from django.conf import settings


def shell(request):
    return {
        "current_post": getattr(request, "post", None),
        "my_posts": getattr(request, "posts", []),
        "debug": settings.DEBUG,
    }
