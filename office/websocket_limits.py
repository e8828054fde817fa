"""Websocket frames over daphne's size limit end with a close frame, not a dropped connection.

daphne (autobahn) refuses a message or frame larger than ``--websocket_max_message_size`` /
``--websocket_max_frame_size`` (1 MiB by default) by failing the connection, and autobahn's
default ``failByDrop`` drops the TCP connection: the client sees 1006 and no reason. Here such a
connection is closed with RFC 6455's 1009 (message too big) and a Chinese reason instead, and
daphne then tells the application the socket closed (a meeting's consumer ends the session and
its attendance interval as on any disconnect).
"""

from django.utils.translation import gettext_noop

CLOSE_TOO_BIG = 1009
TOO_BIG_REASON = gettext_noop("消息过大，连接已关闭")  # < 123 bytes in UTF-8 (a close reason's limit)


def install() -> None:
    """Patch daphne's websocket protocol class (idempotent; nothing if daphne is not the server)."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - another ASGI server
        return
    if getattr(WebSocketProtocol, "_yw_too_big_closes", False):
        return

    def _max_message_size_exceeded(self, msg_size, max_msg_size, reason):
        self.failByDrop = False  # a close frame with a code and a reason, then the TCP close
        self._fail_connection(CLOSE_TOO_BIG, TOO_BIG_REASON)

    WebSocketProtocol._max_message_size_exceeded = _max_message_size_exceeded
    WebSocketProtocol._yw_too_big_closes = True
