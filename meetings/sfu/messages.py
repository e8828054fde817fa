"""The room's side of the signalling contract: refusals, the send callback, the rate limit.

Every other module of the SFU may import this one; it imports none of them.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

RATE_PER_SECOND = 20.0  # signalling messages per session per second (token bucket)
RATE_BURST = 40.0

SendFn = Callable[[dict], Awaitable[None]]


def gettext_noop(message: str) -> str:
    """Marks a text for the catalogue (makemessages finds gettext_noop calls by name); the
    consumer translates it into each person's language. Django's own gettext_noop would
    need configured settings, and a room runs without them (bench/bench_sfu.py)."""
    return message


class SignallingError(Exception):
    """A refusal for the client. ``message`` is the Chinese msgid (marked with gettext_noop: the
    room knows no user language) and ``params`` fill its named placeholders; the signalling
    consumer translates it into the connected person's language (meetings/consumers.py)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params

    def frame(self, **extra: Any) -> dict:
        """The ``error`` frame: ``message`` in Chinese and, when it has placeholders, the ``msgid``
        and ``params`` the consumer translates it from."""
        out = {"type": "error", "code": self.code, "message": str(self), **extra}
        if self.params:
            out.update(msgid=self.message, params=self.params)
        return out


class TokenBucket:
    def __init__(self, rate: float = RATE_PER_SECOND, burst: float = RATE_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
