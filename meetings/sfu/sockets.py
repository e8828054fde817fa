"""ICE sockets read in bursts, so that a busy event loop does not let a publisher's media (and the
STUN answers behind it) pile up in the kernel.

asyncio's datagram transport reads ONE datagram each time the loop finds its socket readable
(``_SelectorDatagramTransport._read_ready``). A presenter sends ~110 packets a second (camera and
microphone); when a join storm makes each turn of the loop take tens of milliseconds, one packet a
turn is less than what arrives: the presenter's socket backs up, its media reaches the viewers late
and its ICE consent answers wait seconds behind the queue (measured with bench/bench_join_storm.py:
answers 2.7 s late with the loop never stalled more than 0.5 s) — until the kernel's buffer
overflows and packets are lost. :func:`install` lets the transports of aioice's sockets read up to
:data:`BURST` datagrams a turn (stopping as soon as the socket is empty): a socket with a backlog
is emptied in a few turns; a quiet one costs one failed ``recvfrom`` more.
"""

from __future__ import annotations

import asyncio.selector_events as selector_events
import inspect

from aioice.ice import StunProtocol

BURST = 32  # datagrams read per readiness of one ICE socket, at most

_Transport = selector_events._SelectorDatagramTransport
_original = _Transport._read_ready


def _read_ready(self: _Transport) -> None:
    _original(self)
    if not isinstance(self._protocol, StunProtocol):
        return
    for _ in range(BURST - 1):
        if self._conn_lost:
            return
        try:
            data, addr = self._sock.recvfrom(self.max_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
            return
        self._protocol.datagram_received(data, addr)


def check_hook() -> None:
    """asyncio's datagram transport still reads the way :func:`_read_ready` extends (else: fail
    loudly; tests/test_sfu_join_storm.py holds it)."""
    source = inspect.getsource(_original)
    for needle in ("self._sock.recvfrom(self.max_size)", "self._protocol.datagram_received(data, addr)",
                   "self._conn_lost"):
        assert needle in source, f"asyncio's datagram transport no longer has {needle}"


def install() -> None:
    """Read ICE sockets in bursts from now on (idempotent)."""
    if _Transport._read_ready is _read_ready:
        return
    check_hook()
    _Transport._read_ready = _read_ready
