"""Cheaper joins and admission paced by the loop's real load (issue #14, after the join storm).

* One DTLS certificate per SFU worker (meetings/sfu/certificate.py): the SFU's connections share
  it, its fingerprints and OpenSSL context are made once, it is replaced after a day, and other
  connections of the process keep aiortc's own.
* Admission paced by the event loop's lag (meetings/sfu/admission.py, AIMD): the window of joins
  in flight halves when the loop lags over 50 ms and widens by one per join completed while it
  keeps up, between a floor and the SFU_MAX_JOINING ceiling. The lag is injected (``observe``).
"""
import asyncio
import time

import pytest
from aiortc import RTCPeerConnection, rtcdtlstransport

from meetings.sfu import admission as admission_module
from meetings.sfu import certificate
from meetings.sfu.admission import Admission


def _certificate_of(pc):
    return pc._RTCPeerConnection__certificates[0]


# ------------------------------------------------------------------ one certificate per worker
def test_it_fails_loudly_if_aiortc_moves_how_a_connection_gets_its_certificate():
    certificate.check_hook()
    certificate.install()
    certificate.check_hook()  # still true once installed


@pytest.mark.asyncio
async def test_it_gives_every_sfu_connection_the_workers_certificate_and_others_their_own():
    first = certificate.peer_connection()
    second = certificate.peer_connection()
    outsider = RTCPeerConnection()  # e.g. a test's or the bench's client peer in the same process
    try:
        assert _certificate_of(first) is _certificate_of(second)
        assert isinstance(_certificate_of(first), certificate.WorkerCertificate)
        assert _certificate_of(outsider) is not _certificate_of(first)
        assert not isinstance(_certificate_of(outsider), certificate.WorkerCertificate)
    finally:
        for pc in (first, second, outsider):
            await pc.close()


def test_it_computes_the_fingerprints_and_the_tls_context_once(monkeypatch):
    digests = []
    real_digest = rtcdtlstransport.certificate_digest
    monkeypatch.setattr(rtcdtlstransport, "certificate_digest",
                        lambda cert, algorithm: digests.append(algorithm) or real_digest(cert, algorithm))
    cert = certificate.WorkerCertificate.generateCertificate()
    fingerprints = cert.getFingerprints()
    assert cert.getFingerprints() == fingerprints
    assert len(digests) == len(fingerprints)  # not again for the second SDP
    profiles = [rtcdtlstransport.SRTP_AEAD_AES_128_GCM, rtcdtlstransport.SRTP_AES128_CM_SHA1_80]
    assert cert._create_ssl_context(profiles) is cert._create_ssl_context(list(profiles))
    assert cert._create_ssl_context(profiles[1:]) is not cert._create_ssl_context(profiles)


def test_it_replaces_the_workers_certificate_after_a_day():
    now = [1000.0]
    holder = certificate._Holder(clock=lambda: now[0])
    first = holder.get()
    now[0] += certificate.ROTATE - 1
    assert holder.get() is first
    now[0] += 1
    second = holder.get()
    assert second is not first
    assert second.getFingerprints() != first.getFingerprints()
    assert holder.generated == 2


# ------------------------------------------------------------------ admission paced by lag
class _Room:
    pass


def _noop_send():
    async def send(message):
        pass
    return send


async def _ask(adm, room, key):
    async def enter():
        return key
    return await adm.request(key, room, hash(key), _noop_send(), enter)


@pytest.mark.asyncio
async def test_it_halves_the_joins_in_flight_when_the_loop_lags_and_widens_them_as_it_keeps_up():
    now = [0.0]
    adm = Admission(limit=8, hold=60, probe=False, clock=lambda: now[0])
    room = _Room()
    keys = [f"s{i}" for i in range(20)]
    for key in keys:
        await _ask(adm, room, key)
    assert len(adm.in_flight) == 8 and len(adm.queue) == 12  # starts at min(START, ceiling)

    adm.observe(0.2)  # the loop woke 200 ms late
    assert adm.allowed() == 4
    adm.observe(0.3)  # the same stall seen again within the cooldown: one signal
    assert adm.allowed() == 4
    now[0] += 1
    adm.observe(0.3)
    assert adm.allowed() == 2
    now[0] += 1
    adm.observe(0.3)
    assert adm.allowed() == 2  # never below the floor
    assert adm.stats()["halved"] == 2

    for key in keys[:6]:  # six complete while the loop still lags: no widening, nobody enters
        adm.done(key)
    assert adm.allowed() == 2
    assert len(adm.in_flight) == 2 and len(adm.queue) == 12

    adm.observe(0.01)  # the loop keeps up again
    adm.done(keys[6])  # window 3, one left in flight: two enter
    assert adm.allowed() == 3
    assert len(adm.in_flight) == 3 and len(adm.queue) == 10
    while adm.in_flight:  # the rest complete one after the other while the loop keeps up
        adm.done(next(iter(adm.in_flight)))
        assert len(adm.in_flight) <= adm.allowed()
    await asyncio.sleep(0)
    assert adm.allowed() == 8  # the ceiling, SFU_MAX_JOINING
    assert not adm.queue


@pytest.mark.asyncio
async def test_it_does_not_widen_the_window_while_nobody_waits():
    adm = Admission(limit=32, hold=60, probe=False)
    room = _Room()
    for i in range(40):
        await _ask(adm, room, f"s{i}")
        adm.done(f"s{i}")  # each join completes before the next comes: never limited
    assert adm.allowed() == admission_module.START


@pytest.mark.asyncio
async def test_it_keeps_a_fixed_count_when_the_ceiling_is_below_the_floor():
    adm = Admission(limit=1, hold=60, probe=False)
    adm.observe(1.0)
    assert adm.allowed() == 1


@pytest.mark.asyncio
async def test_it_measures_the_loops_lag_while_joins_are_in_flight():
    adm = Admission(limit=16, hold=60)
    await _ask(adm, _Room(), "s0")
    await asyncio.sleep(0)  # the probe's timer is set
    time.sleep(0.4)  # a join storm's worth of work on the loop
    await asyncio.sleep(admission_module.PROBE)
    assert adm.lag >= 0.2
    assert adm.allowed() < 16
    adm.done("s0")
    await asyncio.sleep(2 * admission_module.PROBE)
    assert adm._prober.done()  # nothing in flight or waiting: no probe
