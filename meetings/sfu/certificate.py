"""One DTLS certificate per SFU worker process, as a browser keeps one for many connections.

aiortc 1.16 makes every :class:`~aiortc.RTCPeerConnection` generate a fresh key and self-signed
certificate (``RTCPeerConnection.__init__``: ``[RTCCertificate.generateCertificate()]``; its
:class:`~aiortc.RTCConfiguration` has no ``certificates``), recomputes the certificate's three
fingerprints for every SDP it writes (``getFingerprints``) and builds a new OpenSSL context, loading
the certificate and key again, for every DTLS handshake (``_create_ssl_context``). In a join storm
that is paid once per viewer, on the loop everyone shares.

:func:`peer_connection` makes the SFU's connections with the worker's :class:`WorkerCertificate`
instead: made once (on the first join), replaced after :data:`ROTATE` seconds (aiortc's
certificates are valid 30 days; connections made before keep theirs), its fingerprints computed
once and its OpenSSL context built once per set of SRTP profiles. Only connections made through
:func:`peer_connection` share it (the tests' and the bench's client peers keep aiortc's own).
:func:`check_hook` fails loudly if an aiortc upgrade moves what this relies on
(tests/test_sfu_join_storm.py holds it).
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any, Callable, Optional

from aiortc import RTCPeerConnection, rtcpeerconnection
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport

ROTATE = 24 * 3600.0  # seconds a worker's certificate is used for new connections

_stock_generate = RTCCertificate.generateCertificate


class WorkerCertificate(RTCCertificate):
    """An :class:`RTCCertificate` whose fingerprints and OpenSSL contexts are computed once."""

    def __init__(self, key: Any, cert: Any) -> None:
        super().__init__(key, cert)
        self._fingerprints: Optional[list] = None
        self._contexts: dict = {}

    def getFingerprints(self) -> list:
        if self._fingerprints is None:
            self._fingerprints = super().getFingerprints()
        return list(self._fingerprints)

    def _create_ssl_context(self, srtp_profiles: list) -> Any:
        # An SSL.Context is a template: each DTLS transport still makes its own SSL.Connection.
        key = tuple(p.openssl_profile for p in srtp_profiles)
        context = self._contexts.get(key)
        if context is None:
            context = self._contexts[key] = super()._create_ssl_context(srtp_profiles)
        return context


class _Holder:
    """The worker's certificate and when it was made (``clock``: injectable for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.certificate: Optional[WorkerCertificate] = None
        self.made = 0.0
        self.generated = 0

    def get(self) -> WorkerCertificate:
        now = self.clock()
        if self.certificate is None or now - self.made >= ROTATE:
            self.certificate = WorkerCertificate.generateCertificate()
            self.made = now
            self.generated += 1
        return self.certificate


holder = _Holder()
_sharing = threading.local()  # set while peer_connection() builds one (RTCPeerConnection.__init__ is sync)


def _generate() -> RTCCertificate:
    if getattr(_sharing, "on", False):
        return holder.get()
    return _stock_generate()


class _Certificates:
    """What ``aiortc.rtcpeerconnection`` calls ``RTCCertificate``: the class itself, except that
    ``generateCertificate`` hands out the worker's certificate inside :func:`peer_connection`."""

    generateCertificate = staticmethod(_generate)

    def __getattr__(self, name: str) -> Any:
        return getattr(RTCCertificate, name)

    def __call__(self, *args: Any, **kwargs: Any) -> RTCCertificate:
        return RTCCertificate(*args, **kwargs)


def check_hook() -> None:
    """What :func:`install` relies on in aiortc is where it expects (else: fail loudly)."""
    init = inspect.getsource(RTCPeerConnection.__init__)
    assert "RTCCertificate.generateCertificate()" in init, \
        "aiortc RTCPeerConnection no longer makes its certificate with RTCCertificate.generateCertificate()"
    assert rtcpeerconnection.RTCCertificate in (RTCCertificate, _CERTIFICATES), \
        "aiortc.rtcpeerconnection no longer imports RTCCertificate"
    for name in ("getFingerprints", "_create_ssl_context", "generateCertificate"):
        assert callable(getattr(RTCCertificate, name, None)), f"aiortc RTCCertificate.{name} moved"
    dtls = inspect.getsource(RTCDtlsTransport)
    for needle in ("self.__local_certificate.getFingerprints()", "self.__local_certificate._create_ssl_context(",
                   "SSL.Connection("):
        assert needle in dtls, f"aiortc RTCDtlsTransport no longer has {needle}"


_CERTIFICATES = _Certificates()


def install() -> None:
    """Let :func:`peer_connection` share the worker's certificate (idempotent)."""
    if rtcpeerconnection.RTCCertificate is _CERTIFICATES:
        return
    check_hook()
    rtcpeerconnection.RTCCertificate = _CERTIFICATES


def peer_connection(configuration: Any = None) -> RTCPeerConnection:
    """A new :class:`RTCPeerConnection` of the SFU, with the worker's certificate."""
    install()
    _sharing.on = True
    try:
        return RTCPeerConnection(configuration)
    finally:
        _sharing.on = False
