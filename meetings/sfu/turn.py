"""STUN/TURN servers handed to browsers and to the SFU, with time-limited TURN credentials.

coturn's shared-secret scheme (``use-auth-secret`` / ``static-auth-secret``, the "TURN REST
API"): the username is ``<expiry unix time>:<user id>`` and the password is
base64(HMAC-SHA1(secret, username)). coturn checks the HMAC with the same secret and refuses the
credentials after the expiry, so nothing per person is stored on the TURN server, and a leaked
password stops working by itself.

Settings: ``TURN_URLS`` (e.g. ``turn:turn.example:3478?transport=udp``,
``turn:turn.example:3478?transport=tcp``, ``turns:turn.example:443?transport=tcp``), and either
``TURN_SECRET`` / ``TURN_SECRET_FILE`` (time-limited credentials, valid ``TURN_CREDENTIAL_TTL``
seconds) or the older fixed ``TURN_USERNAME`` / ``TURN_PASSWORD``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Optional


def credentials(secret: str, user: Any, ttl: int, now: Optional[float] = None) -> tuple[str, str]:
    """(username, password) for coturn's use-auth-secret, valid ``ttl`` seconds from ``now``."""
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(user: Any = None) -> list:
    """The ICE servers for one person (``user``: their id), or for the SFU itself (``None``:
    STUN only — the SFU must be reachable directly; a relay allocation per viewer on the server's
    side would only double the TURN server's load)."""
    from django.conf import settings

    servers = []
    stun = list(getattr(settings, "STUN_URLS", []) or [])
    turn = list(getattr(settings, "TURN_URLS", []) or [])
    if stun:
        servers.append({"urls": stun})
    if turn and user is not None:
        secret = getattr(settings, "TURN_SECRET", "")
        if secret:
            username, password = credentials(secret, user, getattr(settings, "TURN_CREDENTIAL_TTL", 86400))
        else:
            username = getattr(settings, "TURN_USERNAME", "")
            password = getattr(settings, "TURN_PASSWORD", "") or ""
        servers.append({"urls": turn, "username": username, "credential": password})
    return servers
