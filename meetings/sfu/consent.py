"""ICE consent freshness (RFC 7675) that a busy event loop does not break.

aioice checks consent every ~5 s with one STUN request that must be answered within 0.5 s
(``retransmissions=0``: one RTO) and closes the connection after six failed checks in a row.
Those 0.5 s are measured on the SFU's own event loop: when a join storm keeps that loop busy for
a second or two at a time (bench/bench_join_storm.py), the presenter's answer is in the socket
but is read after its transaction timed out, so the check "fails" though the presenter answered;
enough of those in a row and the presenter's connection is closed, ending the training for
everyone. RFC 7675 says otherwise: consent expires when *no* response has been received for
30 seconds (section 5.1); a late answer is still an answer.

:func:`install` replaces ``aioice.ice.Connection.query_consent`` with :func:`query_consent`:
a check every ~5 s (randomised 0.8–1.2 as aioice does and RFC 7675 asks), one request each,
no retransmissions, whose answer is accepted until the next check is due; consent is lost only
when the last answer is :data:`CONSENT_EXPIRY` seconds old. :func:`check_hook` fails loudly if
an aioice upgrade moves what this relies on (tests/test_sfu_join_storm.py holds it).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from typing import Any

from aioice import ice, stun

logger = logging.getLogger(__name__)

CONSENT_INTERVAL = 5.0  # seconds between checks (× 0.8–1.2), aioice's and RFC 7675's
CONSENT_EXPIRY = 30.0  # seconds without any answer before consent is lost (RFC 7675 5.1)
ANSWER_WAIT = 0.8 * CONSENT_INTERVAL  # how long one check's answer is accepted

_original = ice.Connection.query_consent


class _ConsentCheck:
    """One consent check: a STUN transaction sent once, whose (authenticated) answer is taken
    whenever it arrives before the check is forgotten. It stands in aioice's transaction table
    (``StunProtocol.transactions``), which calls ``response_received``."""

    def __init__(self, integrity_key: bytes) -> None:
        self.integrity_key = integrity_key
        self.answer: asyncio.Future = asyncio.get_running_loop().create_future()

    def response_received(self, message: Any, addr: Any) -> None:
        if not message.check_message_integrity(self.integrity_key):
            return
        if not self.answer.done():
            self.answer.set_result(message.message_class == stun.Class.RESPONSE)


async def _check(connection: Any, pair: Any) -> bool:
    """Send one consent check on ``pair``; whether it was answered with a success response."""
    request = connection.build_request(pair, nominate=False)
    key = connection.remote_password.encode("utf8")
    request.add_message_integrity(key)
    check = _ConsentCheck(key)
    transactions = pair.protocol.transactions
    transactions[request.transaction_id] = check
    try:
        pair.protocol.send_stun(request, pair.remote_addr)
        return await asyncio.wait_for(check.answer, ANSWER_WAIT)
    except (asyncio.TimeoutError, OSError):
        return False
    finally:
        transactions.pop(request.transaction_id, None)


async def query_consent(self: Any) -> None:
    """Periodically check consent (RFC 7675); lose it after CONSENT_EXPIRY s with no answer."""
    assert self.remote_password is not None
    loop = asyncio.get_running_loop()
    answered = loop.time()  # the connectivity check that nominated the pair granted consent
    while True:
        await asyncio.sleep(CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))
        pairs = list(self._nominated.values())
        if pairs:
            results = await asyncio.gather(*(_check(self, pair) for pair in pairs))
            if all(results):
                answered = loop.time()
        if loop.time() - answered >= CONSENT_EXPIRY:
            logger.info("ICE consent expired (no answer for %.0f s)", loop.time() - answered)
            self._query_consent_task = None
            return await self.close()


def check_hook() -> None:
    """What the replacement relies on in aioice is where it expects (else: fail loudly)."""
    assert inspect.iscoroutinefunction(_original), "aioice Connection.query_consent moved"
    for name in ("build_request", "close"):
        assert callable(getattr(ice.Connection, name, None)), f"aioice Connection.{name} moved"
    source = inspect.getsource(ice.Connection)
    for needle in ("self._nominated", "self.remote_password", "self._query_consent_task",
                   "self.query_consent()"):
        assert needle in source, f"aioice Connection no longer uses {needle}"
    proto = inspect.getsource(ice.StunProtocol)
    for needle in ("self.transactions", "transaction.response_received(message, addr)", "def send_stun"):
        assert needle in proto, f"aioice StunProtocol no longer has {needle}"


def install() -> None:
    """Use :func:`query_consent` for every ICE connection made from now on (idempotent)."""
    if ice.Connection.query_consent is query_consent:
        return
    check_hook()
    ice.Connection.query_consent = query_consent
