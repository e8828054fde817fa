"""Refusals and error answers.

ActionError is the refusal every check_* raises. The handlers below (named in office/urls.py as
handler400/403/404/500) answer every other failure: a page inside the suite's shell in the
reader's language with navigation and a way back, or, under /api/, a JSON body {"detail": …}.
"""
import logging

from django.http import JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger("office.errors")

API_PREFIX = "/api/"


class ActionError(Exception):
    """A refusal with a message for the user (Chinese) and an HTTP status (4xx)."""

    def __init__(self, message, status=400, code=None):
        super().__init__(str(message))
        self.message = str(message)
        self.status = status
        self.code = code


def status_message(status):
    """The plain message for an HTTP error status (translated to the reader's language)."""
    messages = {
        400: _("请求不正确，请检查后重试。"),
        401: _("请先登录。"),
        403: _("您无权访问此页面。"),
        404: _("没有找到该页面，或您无权查看。"),
        405: _("不支持此请求方法。"),
        413: _("上传的文件太大。"),
        500: _("服务器出错了，请稍后再试；问题持续请联系系统管理员。"),
    }
    if status in messages:
        return messages[status]
    return messages[500] if status >= 500 else messages[400]


def status_title(status):
    titles = {400: _("请求不正确"), 401: _("请先登录"), 403: _("无权访问"), 404: _("没有找到"),
              405: _("不支持的请求"), 413: _("文件太大"), 503: _("服务暂时不可用")}
    return titles.get(status, _("服务器出错") if status >= 500 else _("请求不正确"))


def is_api(request):
    return (getattr(request, "path", "") or "").startswith(API_PREFIX)


def json_error(status, message=None):
    return JsonResponse({"detail": str(message or status_message(status))}, status=status,
                        json_dumps_params={"ensure_ascii": False})


def _own_message(exception):
    """A message our own code put into the exception (already translated), else None."""
    args = getattr(exception, "args", ())
    if args and isinstance(args[0], str) and args[0].strip():
        return args[0]
    return None


def error_response(request, status, message=None):
    """The error answer for this request: JSON under /api/, else a page in the shell."""
    if is_api(request):
        return json_error(status, message)
    from django.shortcuts import render

    context = {"status": status, "title": status_title(status), "message": message or status_message(status)}
    try:
        return render(request, "error.html", context, status=status)
    except Exception:  # the shell itself failed (e.g. the database is down): a plain page
        logger.exception("error page failed to render in the shell")
        from django.http import HttpResponse
        from django.utils.html import escape

        html = (f'<!DOCTYPE html><html lang="zh-hans"><head><meta charset="utf-8"><title>{escape(context["title"])}'
                f'</title></head><body><main><h1>{escape(context["title"])}</h1><p>{escape(context["message"])}</p>'
                f'<p><a href="/">{escape(_("返回首页"))}</a></p></main></body></html>')
        return HttpResponse(html, status=status)


def bad_request(request, exception=None):
    from django.core.exceptions import RequestDataTooBig

    if isinstance(exception, RequestDataTooBig):
        return error_response(request, 413, upload_too_large_message())
    return error_response(request, 400)


def permission_denied(request, exception=None):
    return error_response(request, 403, _own_message(exception))


def page_not_found(request, exception=None):
    # Django's own 404s carry English text (or the resolver's dict); only ours are shown.
    message = _own_message(exception)
    if message and message.isascii():
        message = None
    return error_response(request, 404, message)


def unavailable_message(exception):
    """The Chinese message for a backing service that is down (database, Redis), or None."""
    import sys

    from django.db import InterfaceError, OperationalError

    exception = exception or sys.exc_info()[1]
    if isinstance(exception, (OperationalError, InterfaceError)):
        return _("数据库暂时无法连接，请稍后再试；已保存的内容不会丢失。")
    if exception.__class__.__module__.startswith("redis"):
        return _("消息服务暂时无法连接，请稍后再试；已保存的内容不会丢失。")
    return None


def server_error(request):
    message = unavailable_message(None)
    if message:  # the database or Redis is down (a restart): say so, as a 503
        from django.contrib.auth.models import AnonymousUser

        # The shell without asking the database again (each try would wait for the pool's timeout).
        request.user, request.posts, request.post, request._messages = AnonymousUser(), [], None, []
        return error_response(request, 503, message)
    return error_response(request, 500)


def upload_too_large_message():
    from django.conf import settings

    limit = settings.YW_MAX_UPLOAD_BYTES
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KB"
    return _("文件过大（最大%(size)s）。") % {"size": size}
