"""The language of a person on a websocket, chosen the way LocaleMiddleware chooses it for a page.

Pages get their language from django.middleware.locale.LocaleMiddleware: the language cookie
(set by Django's set_language view), else the browser's Accept-Language, else LANGUAGE_CODE.
A websocket has no request and no middleware, so consumers ask `language_from_scope(scope)`,
which applies the same rules to the handshake's cookies and headers, and translate their
frames with `translated(language, msgid, params)`. There is no per-person language setting.
"""
from django.conf import settings
from django.utils import translation


class _Handshake:
    """The two things get_language_from_request() reads, taken from an ASGI websocket scope."""

    def __init__(self, scope):
        self.COOKIES = scope.get("cookies") or {}
        headers = {}
        for name, value in scope.get("headers") or ():
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        self.META = {"HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", "")}
        if not self.COOKIES and "cookie" in headers:  # a scope without channels' CookieMiddleware
            from django.http import parse_cookie

            self.COOKIES = parse_cookie(headers["cookie"])
        self.path_info = scope.get("path", "/")


def language_from_scope(scope):
    """The language code (one of settings.LANGUAGES) for the person behind this websocket."""
    try:
        return translation.get_language_from_request(_Handshake(scope), check_path=False)
    except Exception:  # a malformed header never costs the connection
        return settings.LANGUAGE_CODE


def translated(language, msgid, params=None):
    """`msgid` (a Chinese source string) in `language`, its named placeholders filled from `params`.

    If the translation and the params do not fit together, the Chinese text is returned rather
    than an error."""
    with translation.override(language):
        text = translation.gettext(msgid)
    if not params:
        return text
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        try:
            return msgid % params
        except (KeyError, TypeError, ValueError):
            return msgid
