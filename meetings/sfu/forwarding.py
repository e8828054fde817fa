"""Everything the SFU does to aiortc lives in this module (and is checked by
tests/test_sfu_forwarding.py::test_it_fails_loudly_if_aiortc_moves_the_hook):

1. the receiving hook (the only module-level patch): receivers hand out encoded frames;
2. ForwardingSender: viewers' senders switched per instance (``sender.__class__``) to a
   lean loop that sends shared, once-packetised frames (see below);
3. per-instance wrappers: keyframe requests (PLI/FIR) and incoming RTP peeking.

The receiving hook
------------------

aiortc 1.16 always decodes what it receives: ``RTCRtpReceiver.receive()`` starts a
thread running ``aiortc.rtcrtpreceiver.decoder_worker(loop, input_q, output_q,
decode_error)`` which calls ``get_decoder(codec).decode(encoded_frame)`` and puts the
resulting frames on ``output_q`` (the remote track's queue).

We replace, in the ``aiortc.rtcrtpreceiver`` module namespace only:

* ``decoder_worker`` by a wrapper that, when ``output_q`` belongs to a track marked with
  :func:`mark_forwarding`, flags its thread as "forwarding" and then runs aiortc's own
  worker unchanged;
* ``get_decoder`` by a function that, on a forwarding thread, returns
  :class:`PassthroughDecoder` (an encoded frame -> one ``av.Packet`` with
  ``pts`` = the (unwrapped) RTP timestamp and ``time_base`` = 1/clock rate), and
  aiortc's real decoder everywhere else (so aiortc clients in the same process,
  e.g. test viewers, still decode).

The remote track then yields ``av.Packet`` objects, which ``RTCRtpSender`` merely
packetises (``encoder.pack()``): no decode, no encode.

``tests/test_sfu_forwarding.py::test_it_fails_loudly_if_aiortc_moves_the_hook`` checks
the names and signatures this relies on.

Second (per-instance, no module patch) hooks used by room.py live here too:
``on_keyframe_request(sender, cb)`` (a viewer's PLI/FIR) and
``on_rtp_packet(receiver, cb)`` (peek at incoming RTP, e.g. the audio-level extension).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import fractions
import inspect
import logging
import random
import socket
import struct
import sys
import threading
import time
from typing import Any, Callable

import av
import pylibsrtp as _srtp
from aiortc import rtcrtpreceiver
from aiortc import rtcdtlstransport as _dtls_module
from aiortc import rtcrtpsender as _sender_module
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError
from aiortc import clock
from aiortc.rtp import (RTCP_PSFB_APP, RTCP_SR, RTP_HISTORY_SIZE, RtcpByePacket, RtcpPsfbPacket,
                        RtcpRrPacket, RtcpSdesPacket, RtcpSourceInfo, RtcpSrPacket, RtpPacket, wrap_rtx)
from aiortc.stats import RTCRemoteInboundRtpStreamStats

_log = logging.getLogger(__name__)

_FORWARDING_QUEUES: "set[int]" = set()
_local = threading.local()

_original_decoder_worker = rtcrtpreceiver.decoder_worker
_original_get_decoder = rtcrtpreceiver.get_decoder

EXPECTED_WORKER_PARAMS = ["loop", "input_q", "output_q", "decode_error"]


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded frame (depayloaded) is a keyframe."""
    if not data:
        return False
    name = codec_name.upper()
    if name == "VP8":
        # RFC 6386 section 9.1: frame tag bit 0 is 0 for a key frame.
        return (data[0] & 0x01) == 0
    if name == "H264":
        # Annex B stream produced by aiortc's depayloader: look for an IDR or SPS NAL.
        i = 0
        n = len(data)
        while i + 3 < n:
            if data[i] == 0 and data[i + 1] == 0 and (
                data[i + 2] == 1 or (data[i + 2] == 0 and i + 4 < n and data[i + 3] == 1)
            ):
                j = i + 3 if data[i + 2] == 1 else i + 4
                if j < n and (data[j] & 0x1F) in (5, 7):
                    return True
                i = j
            else:
                i += 1
        return False
    return True  # audio frames are independent


class PassthroughDecoder:
    """A receiver "decoder" returning the encoded frame as one av.Packet."""

    def __init__(self, codec: Any) -> None:
        self.codec_name = codec.name
        self.time_base = fractions.Fraction(1, codec.clockRate)

    def decode(self, encoded_frame: Any) -> list:
        data = encoded_frame.data
        packet = av.Packet(data)
        packet.pts = encoded_frame.timestamp
        packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        packet.is_keyframe = is_keyframe(self.codec_name, data)
        return [packet]


def _get_decoder(codec: Any) -> Any:
    if getattr(_local, "forwarding", False):
        return PassthroughDecoder(codec)
    return _original_get_decoder(codec)


def _decoder_worker(loop: Any, input_q: Any, output_q: Any, decode_error: Any) -> None:
    if id(output_q) in _FORWARDING_QUEUES:
        _local.forwarding = True
        try:
            _original_decoder_worker(loop, input_q, output_q, decode_error)
        finally:
            _local.forwarding = False
            _FORWARDING_QUEUES.discard(id(output_q))
    else:
        _original_decoder_worker(loop, input_q, output_q, decode_error)


def check_hook() -> None:
    """Raise RuntimeError if aiortc no longer has the shape this hook relies on."""
    params = list(inspect.signature(_original_decoder_worker).parameters)
    if params != EXPECTED_WORKER_PARAMS:
        raise RuntimeError(f"aiortc decoder_worker signature changed: {params}")
    src = inspect.getsource(_original_decoder_worker)
    if "get_decoder(codec)" not in src or ".decode(" not in src:
        raise RuntimeError("aiortc decoder_worker no longer calls get_decoder(codec).decode()")
    recv_src = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver.receive)
    if "target=decoder_worker" not in recv_src or "self._track._queue" not in recv_src:
        raise RuntimeError("aiortc RTCRtpReceiver.receive() no longer starts decoder_worker")
    init_src = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver.__init__)
    handle_src = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet)
    if "self.__decoder_queue.put((codec, encoded_frame))" not in handle_src or \
            "self.__decoder_queue.put(None)" not in inspect.getsource(rtcrtpreceiver.RTCRtpReceiver) or \
            "self.__decoder_thread" not in init_src:
        raise RuntimeError("aiortc RTCRtpReceiver's decoder queue moved (forwarding.InlineFrames)")
    if "self.__remote_bitrate_estimator" not in init_src or "self.__rtcp_ssrc" not in init_src or \
            "if self.__remote_bitrate_estimator is not None:" not in handle_src:
        raise RuntimeError("aiortc RTCRtpReceiver's bitrate estimator or RTCP SSRC moved")
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci  # noqa: F401 (send_remb)
    from aiortc.rtcrtpsender import RTCRtpSender

    send_src = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    if "self._send_keyframe()" not in send_src:
        raise RuntimeError("aiortc RTCRtpSender no longer routes PLI/FIR to _send_keyframe")
    next_src = inspect.getsource(RTCRtpSender._next_encoded_frame)
    if ".pack(data)" not in next_src:
        raise RuntimeError("aiortc RTCRtpSender no longer packetises pre-encoded packets")


def install() -> None:
    """Install the hook (idempotent)."""
    if rtcrtpreceiver.decoder_worker is _decoder_worker:
        return
    check_hook()
    rtcrtpreceiver.decoder_worker = _decoder_worker
    rtcrtpreceiver.get_decoder = _get_decoder


def mark_forwarding(track: Any) -> None:
    """Make this remote track (before its receiver starts) yield encoded av.Packet."""
    install()
    _FORWARDING_QUEUES.add(id(track._queue))


class InlineFrames:
    """Stands in for a forwarding receiver's decoder queue (aiortc's ``queue.Queue`` that its
    decoder thread reads): each encoded frame aiortc's jitter buffer completes becomes an
    ``av.Packet`` (:class:`PassthroughDecoder`) right here in the event loop and goes on the
    remote track's queue, instead of crossing to the decoder thread and back. That handoff
    (a thread woken per frame, the GIL passed back and forth, the loop woken through its
    self-pipe) cost the server several percent of its core for every publisher; there is no
    decoding to move off the loop. ``get`` and the ``None`` that stops the thread go to the
    real queue, so aiortc's thread starts and stops as before and only idles between."""

    def __init__(self, real: Any, output: "asyncio.Queue") -> None:
        self.real = real
        self.output = output
        self.decoder: "PassthroughDecoder | None" = None

    def put(self, item: Any, *args: Any, **kwargs: Any) -> None:
        if item is None:
            self.real.put(None)
            return
        codec, encoded_frame = item
        decoder = self.decoder
        if decoder is None or decoder.codec_name != codec.name:
            decoder = self.decoder = PassthroughDecoder(codec)
        for packet in decoder.decode(encoded_frame):
            self.output.put_nowait(packet)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.real.get(*args, **kwargs)


def forward_inline(receiver: Any, track: Any) -> bool:
    """Give a forwarding receiver (its track marked with :func:`mark_forwarding`) an
    :class:`InlineFrames` decoder queue, if its decoder thread has not started yet (a thread
    already running keeps its queue: frames it still holds would overtake the new path's).
    Returns whether it did."""
    name = _R + "decoder_queue"
    real = getattr(receiver, name, None)
    output = getattr(track, "_queue", None)
    if real is None or output is None or isinstance(real, InlineFrames) or \
            getattr(receiver, _R + "decoder_thread", None) is not None or \
            id(output) not in _FORWARDING_QUEUES:
        return False
    setattr(receiver, name, InlineFrames(real, output))
    return True


def on_keyframe_request(sender: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the remote side of ``sender`` asks for a keyframe (PLI/FIR)."""
    original = sender._send_keyframe

    def _send_keyframe() -> None:
        original()
        callback()

    sender._send_keyframe = _send_keyframe


def on_rtp_packet(receiver: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(rtp_packet)`` for every RTP packet reaching ``receiver``."""
    original = receiver._handle_rtp_packet

    async def _handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
        try:
            callback(packet)
        except Exception:  # never let accounting break the media path
            pass
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = _handle_rtp_packet


_R = "_RTCRtpReceiver__"


def stop_bitrate_estimate(receiver: Any) -> None:
    """Turn off aiortc's receive-side bandwidth estimator for ``receiver`` (before it starts).

    Its REMB feedback under-estimates browser publishers badly: measured here on loopback,
    Chrome's available bitrate swung between 275 and 60 kbit/s and the presenter's camera
    fell to 320 px at ~70 kbit/s. A forwarding server cannot adapt the stream to each
    viewer anyway; the publisher's rate is what the room allows (:func:`send_remb`, a fixed
    ceiling) and what the publisher's own uplink carries (the browser's loss-based control).
    """
    setattr(receiver, _R + "remote_bitrate_estimator", None)


async def send_remb(receiver: Any, bitrate: int, ssrcs: list) -> bool:
    """Send the publisher an RTCP REMB: at most ``bitrate`` bit/s for its ``ssrcs``."""
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

    rtcp_ssrc = getattr(receiver, _R + "rtcp_ssrc", None)
    if rtcp_ssrc is None or not ssrcs:
        return False
    await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0,
                                             fci=pack_remb_fci(int(bitrate), list(ssrcs))))
    return True


async def request_keyframe(receiver: Any) -> bool:
    """Send an RTCP PLI for the stream(s) ``receiver`` gets. Returns whether one was sent."""
    sent = False
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)
        sent = True
    return sent


# --------------------------------------------------------------------------------------
# The sending side: shared packetisation and a lean RTP loop.
#
# aiortc's RTCRtpSender packetises pre-encoded packets itself (encoder.pack()), once per
# viewer, and serialises every RTP packet from scratch. For a forwarding server that is
# most of the per-viewer cost, so viewers' senders are switched (``use_forwarding_sender``)
# to ForwardingSender: its track yields ForwardedFrame objects whose payloads are
# packetised once per publication (SharedFrame) and shared by all viewers; its RTP loop
# serialises the stream's header once with aiortc's own serializer (mid extension
# included) and then only patches marker, sequence number and timestamp, and hands the
# SRTP-protected packet straight to the nominated ICE pair's socket (_direct_send). Its
# _retransmit answers NACKs (as RTX when negotiated) from its own video history. RTCP SR
# statistics, PLI handling, REMB and stop() are aiortc's unchanged.
# --------------------------------------------------------------------------------------
_P = "_RTCRtpSender__"
SENDER_PRIVATE_NAMES = ["transport", "cname", "lsr", "lsr_time", "rtt", "stats", "rtcp_started", "rtcp_exited", "track", "rtp_started", "rtp_exited", "rtp_header_extensions_map", "mid",
                        "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count", "encoder",
                        "rtx_payload_type", "rtx_sequence_number"]


class SharedFrame:
    """One encoded frame of a publication; packetised once, on first demand. What every
    viewer's path reads is worked out once here: the timestamp, keyframe or not, when it was
    relayed (monotonic ``at``; ``ntp_at``, the same instant on the sender reports' clock) and
    the frame's :meth:`layout`."""

    __slots__ = ("packet", "_payloads", "_packer", "_layout", "pts", "key", "at", "ntp_at")

    def __init__(self, packet: av.Packet, packer: Callable[[av.Packet], list]) -> None:
        self.packet = packet
        self._payloads: "list | None" = None
        self._layout: "tuple | None" = None
        self._packer = packer
        self.pts = packet.pts
        self.key = packet.is_keyframe
        self.at = time.monotonic()
        self.ntp_at = _ntp_now()

    def payloads(self) -> list:
        if self._payloads is None:
            self._payloads = self._packer(self.packet)
        return self._payloads

    def layout(self) -> tuple:
        """``(payloads, groups, octets)``: the RTP payloads, the same split into the runs that
        go out as one UDP datagram train (:func:`gso_groups`), and their bytes in all."""
        if self._layout is None:
            payloads = self.payloads()
            self._layout = (payloads, gso_groups(payloads), sum(map(len, payloads)))
        return self._layout


GSO_MAX_SEGMENTS = 40  # packets per UDP GSO send: 40 x ~1,330 bytes stays under 64 KiB


def gso_groups(payloads: list, max_segments: int = GSO_MAX_SEGMENTS) -> tuple:
    """Split a frame's RTP payloads into runs that UDP segmentation offload can send in one
    call: equal sizes, except that the last may be shorter (the kernel cuts the buffer every
    ``gso_size`` bytes). A VP8 frame is one run (the packetiser cuts 1,300-byte pieces and a
    shorter tail); every packet of a stream has the same header and SRTP tag lengths, so the
    runs hold for every viewer."""
    groups = []
    i, n = 0, len(payloads)
    while i < n:
        size = len(payloads[i])
        j = i + 1
        while j < n and j - i < max_segments and len(payloads[j]) == size:
            j += 1
        if j < n and j - i < max_segments and len(payloads[j]) < size:
            j += 1
        groups.append(tuple(payloads[i:j]))
        i = j
    return tuple(groups)


class ForwardedFrame:
    """What a viewer's track yields: a shared frame and this viewer's RTP timestamp offset."""

    __slots__ = ("shared", "timestamp")

    def __init__(self, shared: SharedFrame, timestamp: int) -> None:
        self.shared = shared
        self.timestamp = timestamp


def make_packer(codec_name: str) -> Callable[[av.Packet], list]:
    """Packetiser of one publication (VP8 picture ids run per publication)."""
    name = codec_name.upper()
    if name == "VP8":
        vp8 = Vp8Encoder()
        return lambda packet: vp8.pack(packet)[0]
    if name == "H264":
        h264 = H264Encoder()
        return lambda packet: h264.pack(packet)[0]
    return lambda packet: [bytes(packet)]


class Lane:
    """One viewer stream's state on the direct route, in one small object (slots): what every
    frame of every viewer reads and writes. With hundreds of viewers, the per-frame cost is
    largely memory: aiortc's sender keeps ~40 attributes in its instance dict and the route
    runs through four more objects; reading them for each viewer and frame missed the cache.

    ``write(shared, frame_timestamp)`` (the SubscriberTrack's ``direct_writer``) sends one
    frame now; False: no route yet (the caller queues it for the RTP loop). The counters the
    RTCP sender reports read (octets, packets, NTP and RTP time of the last frame) live here
    and are read through ForwardingSender's properties of aiortc's private names."""

    __slots__ = ("sender", "enabled", "pt", "seq", "origin", "template", "history", "feedback",
                 "octets", "packets", "ntp", "rtp_timestamp",
                 "dtls", "srtp", "nominated", "pair", "send")

    def __init__(self, sender: "ForwardingSender", codec: Any, template: bytearray) -> None:
        state = sender.__dict__
        self.sender = sender
        self.enabled = state.get("_enabled", True)
        self.pt = codec.payloadType
        self.seq = _sender_module.random_sequence_number()
        self.origin = _sender_module.random32()
        self.template = template  # the stream's RTP header: only seq, timestamp, marker change
        # NACK history (video only): the last frames sent, as (first sequence number, packets,
        # RTP timestamp, payloads); the payloads are the frame's shared ones, not copies
        self.history = collections.deque(maxlen=HISTORY_FRAMES) \
            if codec.mimeType.lower().startswith("video/") else None
        self.feedback = feedback_clock(state.get(_TRANSPORT))
        self.octets = state.get(_OCTET_COUNT, 0)
        self.packets = state.get(_PACKET_COUNT, 0)
        self.ntp = state.get(_NTP_TIMESTAMP, 0)
        self.rtp_timestamp = state.get(_RTP_TIMESTAMP, 0)
        self.dtls = self.srtp = self.nominated = self.pair = self.send = None

    def reroute(self) -> bool:
        """(Re)resolve the direct route: the sender's DTLS transport, its SRTP session and the
        nominated ICE pair; False while there is none (DTLS not up yet)."""
        dtls = self.sender.__dict__.get(_TRANSPORT)
        cached = None
        if self.send is not None:
            cached = (self.srtp, self.pair, self.send, self.dtls)
        route = _direct_route(dtls, cached)
        if route is None:
            self.dtls = self.send = None
            return False
        self.srtp, self.pair, self.send, self.dtls = route
        self.nominated = dtls._transport._connection._nominated
        return True

    def write(self, shared: "SharedFrame", frame_timestamp: int) -> bool:
        if not self.enabled:
            return True  # aiortc drops frames of a disabled sender too
        layout = shared._layout
        if layout is None:
            layout = shared.layout()
        payloads = layout[0]
        if not payloads:
            return True
        dtls = self.dtls
        # the route holds while DTLS is up with the same SRTP session and ICE pair (checked per frame)
        if dtls is None or dtls._state is not _CONNECTED or dtls._tx_srtp is not self.srtp or \
                self.nominated.get(1) is not self.pair:
            if not self.reroute():
                return False
        timestamp = (self.origin + frame_timestamp) & 0xFFFFFFFF
        first = self.seq
        self.send(self.template, self.pt, layout[1], first, timestamp)
        count = len(payloads)
        self.seq = (first + count) & 0xFFFF
        history = self.history
        if history is not None:
            history.append((first, count, timestamp, payloads))
        feedback = self.feedback
        if feedback.sending_since is None:
            feedback.sending_since = shared.at
        self.ntp = shared.ntp_at
        self.rtp_timestamp = timestamp
        self.octets += layout[2]
        self.packets += count
        return True

    def sent(self, first: int, payloads: list, timestamp: int) -> None:
        """Note a frame sent another way (the RTP loop): what :meth:`write` notes."""
        count = len(payloads)
        self.seq = (first + count) & 0xFFFF
        if self.history is not None:
            self.history.append((first, count, timestamp, payloads))
        self.feedback.sent()
        self.ntp = _ntp_now()
        self.rtp_timestamp = timestamp
        self.octets += sum(map(len, payloads))
        self.packets += count

    def find(self, sequence_number: int) -> "tuple | None":
        """``(sequence number, timestamp, marker, payload)`` of a packet still in the history."""
        for first, count, timestamp, payloads in reversed(self.history or ()):
            index = (sequence_number - first) & 0xFFFF
            if index < count:
                return sequence_number, timestamp, index == count - 1, payloads[index]
        return None


def _lane_counter(name: str, slot: str) -> property:
    """aiortc's private counter ``name`` of a ForwardingSender, kept in its Lane once it runs
    (its RTCP sender reports, getStats() and _rtx_allowed read it by that name)."""

    def get(self: Any) -> Any:
        lane = self.__dict__.get("_yw_lane")
        return getattr(lane, slot) if lane is not None else self.__dict__.get(name, 0)

    def set_(self: Any, value: Any) -> None:
        lane = self.__dict__.get("_yw_lane")
        if lane is not None:
            setattr(lane, slot, value)
        else:
            self.__dict__[name] = value

    return property(get, set_)


class ForwardingSender(_sender_module.RTCRtpSender):
    """An RTCRtpSender for ForwardedFrame tracks (installed by use_forwarding_sender).

    Two ways in, one stream out: a track that offers ``direct_writer`` (SubscriberTrack)
    hands each frame to its :class:`Lane` (``Lane.write``) synchronously, from the
    publication's relay, while the viewer's buffer is empty and the direct route is up — no
    task wakes up per viewer and frame. Anything else (a backlog, a route not yet up, other
    tracks) goes through the RTP loop, which awaits the track as aiortc's does. Both share the
    same sequence numbers, timestamps and NACK history, so the viewer sees one stream.
    """

    _RTCRtpSender__octet_count = _lane_counter(_P + "octet_count", "octets")
    _RTCRtpSender__packet_count = _lane_counter(_P + "packet_count", "packets")
    _RTCRtpSender__ntp_timestamp = _lane_counter(_P + "ntp_timestamp", "ntp")
    _RTCRtpSender__rtp_timestamp = _lane_counter(_P + "rtp_timestamp", "rtp_timestamp")

    @property
    def _enabled(self) -> bool:
        return self.__dict__.get("_enabled", True)

    @_enabled.setter
    def _enabled(self, value: bool) -> None:
        # the transceiver's direction sets it; the lane keeps a copy for the per-frame check
        self.__dict__["_enabled"] = value
        lane = self.__dict__.get("_yw_lane")
        if lane is not None:
            lane.enabled = value

    async def _next_encoded_frame(self, codec: Any) -> Any:
        data = await getattr(self, _P + "track").recv()
        if not self._enabled:
            return None
        if not isinstance(data, ForwardedFrame):
            raise TypeError("ForwardingSender needs a track yielding ForwardedFrame")
        return _sender_module.RTCEncodedFrame(data.shared.payloads(), data.timestamp, None)

    def _yw_setup(self, codec: Any) -> "Lane":
        first = RtpPacket(payload_type=codec.payloadType, ssrc=self._ssrc)
        first.extensions.mid = getattr(self, _P + "mid")
        template = bytearray(first.serialize(getattr(self, _P + "rtp_header_extensions_map")))
        lane = self._yw_lane = Lane(self, codec, template)
        self._yw_feedback = lane.feedback
        return lane

    def _yw_packets(self, payloads: list, frame_timestamp: int) -> list:
        """Serialise one frame's RTP packets for aiortc's own send path (no direct route yet),
        noted for NACKs and RTCP SR like the direct route's."""
        lane = self._yw_lane
        out: list = []
        timestamp = (lane.origin + frame_timestamp) & 0xFFFFFFFF
        template = bytearray(lane.template)
        sequence_number = first = lane.seq
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            _PATCH.pack_into(template, 1, lane.pt | (0x80 if i == last else 0), sequence_number, timestamp)
            out.append(bytes(template) + payload)
            sequence_number = (sequence_number + 1) & 0xFFFF
        lane.sent(first, payloads, timestamp)
        return out

    def _yw_send_direct(self, payloads: list, frame_timestamp: int) -> bool:
        """Packetise and send one frame on the direct route (the RTP loop's frames); False
        (nothing sent, no sequence number used) while there is no route yet."""
        lane = self._yw_lane
        if not lane.reroute():
            return False
        timestamp = (lane.origin + frame_timestamp) & 0xFFFFFFFF
        first = lane.seq
        lane.send(lane.template, lane.pt, gso_groups(payloads), first, timestamp)
        lane.sent(first, payloads, timestamp)
        return True

    def _yw_find(self, sequence_number: int) -> "tuple | None":
        lane = self.__dict__.get("_yw_lane")
        return lane.find(sequence_number) if lane is not None else None

    async def _run_rtp(self, codec: Any) -> None:
        getattr(self, _P + "rtp_started").set()
        lane = self._yw_setup(codec)
        track = getattr(self, _P + "track")
        if track is not None and hasattr(track, "direct_writer"):
            track.direct_writer = lane.write
            track.feedback = lane.feedback
        try:
            while True:
                if not getattr(self, _P + "track"):
                    await asyncio.sleep(0.02)
                    continue
                frame = await self._next_encoded_frame(codec)
                if frame is None or not frame.payloads:
                    continue
                if not self._yw_send_direct(frame.payloads, frame.timestamp):
                    for data in self._yw_packets(frame.payloads, frame.timestamp):
                        await self.transport._send_rtp(data)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        except Exception:
            _log.exception("forwarding sender failed")
        track = getattr(self, _P + "track")
        if track:
            if hasattr(track, "direct_writer"):
                track.direct_writer = None
            track.stop()
            setattr(self, _P + "track", None)
        setattr(self, _P + "encoder", None)
        getattr(self, _P + "rtp_exited").set()

    async def _run_rtcp(self) -> None:
        """aiortc's RTCP sender reports (SR + SDES, then BYE when stopped), at Chrome's cadence
        instead of every second for every stream: about every RTCP_INTERVAL_VIDEO seconds for
        video and RTCP_INTERVAL_AUDIO for audio, each varied over [0.5, 1.5] times (RFC 3550),
        serialised without building aiortc's packet objects (the SDES chunk once). Like
        aiortc's, it sets the started and exited events that stop() waits for: stop() awaits
        both tasks' events, so an RTCP loop that never sets them hangs every close."""
        getattr(self, _P + "rtcp_started").set()
        interval = RTCP_INTERVAL_VIDEO if self.kind == "video" else RTCP_INTERVAL_AUDIO
        sdes = b""
        try:
            while True:
                await asyncio.sleep(interval * (0.5 + random.random()))
                cname = getattr(self, _P + "cname")
                if cname is not None and not sdes:
                    sdes = bytes(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=self._ssrc,
                                                                       items=[(1, cname.encode("utf8"))])]))
                lane = self.__dict__.get("_yw_lane")
                ntp = lane.ntp if lane is not None else 0
                report = _SR.pack(0x80, RTCP_SR, 6, self._ssrc, ntp,
                                  lane.rtp_timestamp if lane is not None else 0,
                                  (lane.packets if lane is not None else 0) & 0xFFFFFFFF,
                                  (lane.octets if lane is not None else 0) & 0xFFFFFFFF)
                state = self.__dict__
                state[_P + "lsr"] = (ntp >> 16) & 0xFFFFFFFF
                state[_P + "lsr_time"] = time.time()
                try:
                    await self.transport._send_rtp(report + sdes)
                except ConnectionError:
                    pass
        except asyncio.CancelledError:
            pass
        try:
            await self._send_rtcp([RtcpByePacket(sources=[self._ssrc])])
        finally:
            getattr(self, _P + "rtcp_exited").set()

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        """A viewer's RTCP for this stream. Receiver reports (about one a second per stream from
        every viewer) only update the round-trip estimate and keep the report, for getStats()
        to show on demand: aiortc builds a stats object with a fresh datetime for each. The
        viewer's REMB is of no use to a sender that does not encode (aiortc only logs it).
        NACKs and PLI/FIR are aiortc's own."""
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            ssrc = self._ssrc
            for report in packet.reports:
                if report.ssrc != ssrc:
                    continue
                state = self.__dict__
                if report.dlsr and state.get(_P + "lsr") == report.lsr:
                    rtt = time.time() - state[_P + "lsr_time"] - (report.dlsr / 65536)
                    previous = state.get(_P + "rtt")
                    state[_P + "rtt"] = rtt if previous is None else \
                        _sender_module.RTT_ALPHA * previous + (1 - _sender_module.RTT_ALPHA) * rtt
                self._yw_report = (packet.ssrc, report)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            return
        else:
            await super()._handle_rtcp_packet(packet)

    async def getStats(self) -> Any:
        report = getattr(self, "_yw_report", None)
        if report is not None:
            ssrc, block = report
            getattr(self, _P + "stats").add(RTCRemoteInboundRtpStreamStats(
                timestamp=clock.current_datetime(), type="remote-inbound-rtp",
                id="remote-inbound-rtp_" + str(id(self)), ssrc=ssrc, kind=self.kind,
                transportId=self.transport._stats_id,
                packetsReceived=getattr(self, _P + "packet_count") - block.packets_lost,
                packetsLost=block.packets_lost, jitter=block.jitter,
                roundTripTime=getattr(self, _P + "rtt"), fractionLost=block.fraction_lost))
        return await super().getStats()

    async def _retransmit(self, sequence_number: int) -> None:
        """A viewer's NACK: resend from this sender's history (as RTX when negotiated)."""
        item = self._yw_find(sequence_number)
        if item is None or not _rtx_allowed(self, item):
            return
        seq, timestamp, marker, payload = item
        codec_pt = self._yw_lane.pt
        packet = RtpPacket(payload_type=codec_pt, marker=1 if marker else 0, sequence_number=seq,
                           timestamp=timestamp, ssrc=self._ssrc, payload=payload)
        packet.extensions.mid = getattr(self, _P + "mid")
        rtx_payload_type = getattr(self, _P + "rtx_payload_type")
        if rtx_payload_type is not None:
            rtx_seq = getattr(self, _P + "rtx_sequence_number")
            packet = wrap_rtx(packet, payload_type=rtx_payload_type, sequence_number=rtx_seq,
                              ssrc=self._rtx_ssrc)
            setattr(self, _P + "rtx_sequence_number", (rtx_seq + 1) & 0xFFFF)
        data = packet.serialize(getattr(self, _P + "rtp_header_extensions_map"))
        from meetings.sfu import native

        route = getattr(self._yw_lane.send, "__self__", None)
        if rtx_payload_type is None and native.Route is not None and isinstance(route, native.Route):
            # the stream's own SSRC: the native route that sent the original knows its
            # rollover counter (libsrtp never saw this stream's packets)
            route.resend(data)
            return
        try:
            await self.transport._send_rtp(data)
        except ConnectionError:
            pass

    async def send(self, parameters: Any) -> None:
        self._yw_payload_type = parameters.codecs[0].payloadType
        await super().send(parameters)


_PATCH = struct.Struct("!BHI")  # an RTP header's marker + payload type, sequence number, timestamp
_TRANSPORT = _P + "transport"
_SR = struct.Struct("!BBHIQIII")  # an RTCP sender report without report blocks (RFC 3550 6.4.1)
RTCP_INTERVAL_VIDEO = 1.0  # seconds between a stream's sender reports: Chrome's cadence
RTCP_INTERVAL_AUDIO = 5.0
HISTORY_FRAMES = 64  # video frames kept per viewer for NACKs (~2 s; aiortc keeps 128 packets)
_NTP_TIMESTAMP, _RTP_TIMESTAMP = _P + "ntp_timestamp", _P + "rtp_timestamp"
_OCTET_COUNT, _PACKET_COUNT = _P + "octet_count", _P + "packet_count"
_CONNECTED = _dtls_module.State.CONNECTED

FROZEN_AFTER = 3.0  # seconds of media sent to a viewer with no RTCP back: it is frozen


class FeedbackClock:
    """Whether a viewer's connection still answers: browsers and aiortc send RTCP (receiver
    reports, REMB or transport-cc, NACKs) at least every second or so for every stream they
    receive. A viewer that got media for FROZEN_AFTER seconds and sent nothing back is frozen
    (a tab in the background, a phone asleep, a link gone): what is sent to it then only piles
    up in its socket buffer and is played late when it wakes up. The relay sends it nothing
    while it is frozen and asks for a keyframe when it is heard again (relay.SubscriberTrack).
    A client never heard at all is never called frozen (it may send no RTCP)."""

    __slots__ = ("heard_once", "sending_since")

    def __init__(self) -> None:
        self.heard_once = False
        self.sending_since: "float | None" = None  # first send since the viewer was last heard

    def heard(self) -> None:
        self.heard_once = True
        self.sending_since = None

    def sent(self) -> None:
        if self.sending_since is None:
            self.sending_since = time.monotonic()

    def frozen(self, now: float) -> bool:
        return (self.heard_once and self.sending_since is not None
                and now - self.sending_since > FROZEN_AFTER)


def feedback_clock(dtls: Any) -> FeedbackClock:
    """The FeedbackClock of a viewer's connection (one per DTLS transport, shared by its senders:
    any RTCP on the connection counts), installed on first use."""
    clock = getattr(dtls, "_yw_feedback", None)
    if clock is None:
        clock = FeedbackClock()
        try:
            original = dtls._handle_rtcp_data
        except AttributeError:
            return clock  # not aiortc's transport: never frozen (heard_once stays False)

        async def _handle_rtcp_data(data: bytes) -> None:
            clock.heard()
            await original(data)

        dtls._handle_rtcp_data = _handle_rtcp_data
        dtls._yw_feedback = clock
    return clock


RTX_RESEND_INTERVAL = 0.3  # seconds before the same packet is resent again
RTX_SHARE = 0.3  # retransmitted bytes at most this share of the stream's own bytes
RTX_BURST = 16000  # bytes of retransmission allowed at once


def _rtx_allowed(sender: Any, item: tuple) -> bool:
    """Bound retransmissions, for viewers on congested links. A viewer repeats its NACK for a
    missing packet every round trip; resending on every NACK multiplies the very load that
    lost the packet (on a 120 kbit/s line: hundreds of resent packets a second, and neither
    the small track nor the audio got through any more). So a packet is resent at most once
    per RTX_RESEND_INTERVAL, and a stream's resent bytes stay within RTX_SHARE of the bytes
    it sent (counted from the sender's octet count: nothing is added to the RTP loop)."""
    now = time.monotonic()
    octets = getattr(sender, _P + "octet_count")
    state = getattr(sender, "_yw_rtx", None)
    if state is None:
        state = sender._yw_rtx = {"tokens": float(RTX_BURST), "octets": octets, "sent": {}}
    seq, payload = item[0], item[3]
    sent = state["sent"]  # like the history: slot -> (sequence number, when resent)
    last = sent.get(seq % RTP_HISTORY_SIZE)
    if last is not None and last[0] == seq and now - last[1] < RTX_RESEND_INTERVAL:
        return False
    state["tokens"] = min(float(RTX_BURST), state["tokens"] + RTX_SHARE * max(0, octets - state["octets"]))
    state["octets"] = octets
    if state["tokens"] < len(payload):
        return False
    state["tokens"] -= len(payload)
    sent[seq % RTP_HISTORY_SIZE] = (seq, now)
    return True


_NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)


def _ntp_now() -> int:
    """The current time as a 64-bit NTP timestamp (what aiortc's clock.current_ntp_time()
    returns, without building datetime objects once per frame and viewer)."""
    t = time.time() + _NTP_UNIX_OFFSET
    seconds = int(t)
    return (seconds << 32) | int((t - seconds) * 4294967296.0)


def _direct_route(dtls: Any, cached: "tuple | None") -> "tuple | None":
    """``(srtp, pair, write, dtls)`` for :func:`_direct_send`, reusing ``cached`` while the DTLS
    transport, its state, its SRTP session and the nominated ICE pair are unchanged (checked
    per frame)."""
    try:
        if dtls._state != _dtls_module.State.CONNECTED:
            return None
        srtp = dtls._tx_srtp
        pair = dtls._transport._connection._nominated.get(1)
    except AttributeError:
        return None
    if cached is not None and cached[0] is srtp and cached[1] is pair and cached[3] is dtls:
        return cached
    write = _native_send(dtls, srtp, pair) or _direct_send(srtp, pair)
    return (srtp, pair, write, dtls) if write is not None else None


def _tx_master(dtls: Any, srtp: Any) -> "tuple | None":
    """``(libsrtp profile, master key + salt)`` of the DTLS transport's sending SRTP session,
    exported again from its DTLS session as aiortc's ``_setup_srtp`` does (RFC 5764 4.2: the
    same label gives the same keys); None if aiortc's internals are not as expected."""
    cached = dtls.__dict__.get("_yw_tx_master")
    if cached is not None and cached[0] is srtp:
        return cached[1]
    try:
        ssl = dtls._ssl
        name = ssl.get_selected_srtp_profile()
        profile = next(p for p in dtls._srtp_profiles if p.openssl_profile == name)
        view = ssl.export_keying_material(b"EXTRACTOR-dtls_srtp",
                                          2 * (profile.key_length + profile.salt_length))
        master = profile.get_key_and_salt(view, 1 if dtls._role == "server" else 0)
    except (AttributeError, StopIteration, ValueError, TypeError):
        return None
    except Exception:  # e.g. OpenSSL's own error: the Python path will do
        _log.debug("no SRTP keys for the native path", exc_info=True)
        return None
    result = (profile.libsrtp_profile, bytes(master))
    dtls.__dict__["_yw_tx_master"] = (srtp, result)
    return result


_native_said = False


def _native_send(dtls: Any, srtp: Any, pair: Any) -> "Callable[[bytearray, int, tuple, int, int], None] | None":
    """The frame writer of :func:`_direct_send` in C (meetings/sfu/native/_srtpsend.c): the same
    packets (byte for byte: tests/test_sfu_native_srtp.py), protected and sent in one call per
    frame and viewer stream. None (the Python writer then) without the built extension, on a
    relayed (TURN) pair, or when the keys or the socket are not where expected."""
    global _native_said
    from meetings.sfu import native

    if native.Route is None:
        if not _native_said:
            _native_said = True
            _log.info("SFU native send path off: %s", native.why)
        return None
    try:
        sock = pair.protocol.transport._sock
        host, port = pair.remote_addr[:2]
    except (AttributeError, TypeError, ValueError):
        return None
    if srtp is None or getattr(sock, "type", None) != socket.SOCK_DGRAM:
        return None
    master = _tx_master(dtls, srtp)
    if master is None:
        return None
    try:
        route = native.Route(master[0], master[1], sock.fileno(), host, port, sock.family)
    except (ValueError, RuntimeError) as exc:  # e.g. a profile it does not do
        _log.debug("native send path refused: %s", exc)
        return None
    return route.write


UDP_SEGMENT = 103  # Linux <linux/udp.h>: the segment size of a UDP GSO send (kernel 4.18+)
_GSO_UNSUPPORTED = (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP)
_BUFFER_FULL = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS)
gso_enabled = sys.platform.startswith("linux")  # turned off for good on the first refusal


def _direct_send(srtp: Any, pair: Any) -> "Callable[[bytearray, int, tuple, int, int], None] | None":
    """A frame writer for the nominated ICE ``pair``: ``write(header, payload_type, groups,
    first_sequence_number, timestamp)`` serialises each packet of a frame (the stream's
    ``header`` with marker, sequence number and timestamp patched in), SRTP-protects it with
    ``srtp`` and sends it without aiortc's await chain (RTCDtlsTransport._send_rtp →
    RTCIceTransport._send → Connection.sendto → send_data). None (use aiortc's path) whenever
    anything is not as expected.

    ``groups`` (:func:`gso_groups`): each run of more than one packet leaves in ONE sendmsg
    with UDP segmentation offload (UDP_SEGMENT), which the kernel (or the network card) cuts
    into ordinary datagrams; the receiver sees no difference. Only on a plain UDP socket of
    our own (host or server-reflexive candidates): a relayed (TURN) pair has no such socket
    and gets one datagram per packet through aioice's TURN transport, as before. A kernel
    that refuses GSO turns it off for good; that train goes out packet by packet."""
    try:
        udp = pair.protocol.transport
        addr = pair.remote_addr
    except AttributeError:
        return None
    if srtp is None or udp is None:
        return None

    # The datagram socket itself, not asyncio's transport wrapper (which only adds a
    # buffer for when the kernel's is full: for media, a dropped datagram is better than
    # a late one, and the viewer's NACK or PLI repairs it).
    sock = getattr(udp, "_sock", None)
    sendto = udp.sendto if sock is None else sock.sendto
    sendmsg = None
    if sock is not None and getattr(sock, "type", None) == socket.SOCK_DGRAM and hasattr(sock, "sendmsg"):
        sendmsg = sock.sendmsg
    protect = srtp.protect  # pylibsrtp's own, when its internals are not as expected
    parts = _fast_protect_parts(srtp)
    ctx, cdata, buffer, length, limit, srtp_protect = parts if parts is not None else (None,) * 6
    view = memoryview(buffer) if parts is not None else None
    pack_into = _PATCH.pack_into
    join = b"".join
    gso_size = struct.Struct("=H").pack
    sol_udp = socket.SOL_UDP

    def send_train(train: bytearray, size: int) -> None:
        global gso_enabled
        try:
            sendmsg((train,), ((sol_udp, UDP_SEGMENT, gso_size(size)),), 0, addr)
            return
        except OSError as exc:
            if exc.errno in _BUFFER_FULL:
                return  # a full socket buffer: lost like datagrams, the viewer NACKs or asks a keyframe
            if exc.errno in _GSO_UNSUPPORTED:
                gso_enabled = False
                _log.info("UDP GSO refused (%s): one datagram per packet from now on", exc)
            # anything else (e.g. a train too long for this path): this one packet by packet
        for offset in range(0, len(train), size):
            try:
                sendto(train[offset:offset + size], addr)
            except OSError:
                pass

    def write(template: bytearray, payload_type: int, groups: tuple, sequence_number: int,
              timestamp: int) -> None:
        # A viewer's every packet passes here: locals only, _fast_protect inlined, the
        # protected packet sent (or gathered) straight from libsrtp's buffer.
        if view is not None and len(groups) == 1 and len(groups[0]) == 1:
            # one packet (an audio frame, a small video frame): the shortest way
            pack_into(template, 1, payload_type | 0x80, sequence_number, timestamp)
            data = join((template, groups[0][0]))
            n = len(data)
            if n > limit:
                raise ValueError("packet is too long")
            length[0] = n
            buffer[0:n] = data
            rc = srtp_protect(ctx, cdata, length)
            if rc != 0:
                raise _srtp.Error(f"libsrtp protect failed ({rc})")
            try:
                sendto(view[0:length[0]], addr)
            except OSError:
                pass  # a full socket buffer: lost like a datagram
            return
        final = groups[-1]
        train_ok = sendmsg is not None and gso_enabled
        for group in groups:
            last = len(group) - 1
            single = last == 0 or not train_ok
            train = None
            i = 0
            for payload in group:
                pack_into(template, 1, payload_type | 0x80 if i == last and group is final else payload_type,
                          sequence_number, timestamp)
                data = join((template, payload))
                sequence_number = (sequence_number + 1) & 0xFFFF
                if view is None:
                    protected = protect(data)
                else:
                    n = len(data)
                    if n > limit:
                        raise ValueError("packet is too long")
                    length[0] = n
                    buffer[0:n] = data
                    rc = srtp_protect(ctx, cdata, length)
                    if rc != 0:
                        raise _srtp.Error(f"libsrtp protect failed ({rc})")
                    protected = view[0:length[0]]
                if single:
                    try:
                        sendto(protected, addr)
                    except OSError:
                        pass  # a full socket buffer: lost like a datagram, the viewer NACKs
                elif i == 0:
                    train = bytearray(protected)
                    size = len(train)
                else:
                    train += protected
                i += 1
            if train is not None:
                send_train(train, size)

    return write


def _fast_protect_parts(session: Any) -> "tuple | None":
    """What protecting with pylibsrtp's session without its per-call allocations takes: the
    same libsrtp call on the same session buffer (one event loop thread uses a session at a
    time). None when pylibsrtp's internals are not as expected."""
    try:
        cdata = session._cdata
        buffer = session._buffer
        ctx = session._srtp[0]
    except (AttributeError, TypeError, IndexError):
        return None
    limit = len(cdata) - _srtp.SRTP_MAX_TRAILER_LEN
    return ctx, cdata, buffer, _srtp.ffi.new("int *"), limit, _srtp.lib.srtp_protect


def _fast_protect(session: Any) -> "Callable[[bytes], bytes] | None":
    """pylibsrtp's ``Session.protect`` without its per-call allocations: the same libsrtp
    call on the same session buffer (one event loop thread uses a session at a time).
    None when pylibsrtp's internals are not as expected (then its own protect is used)."""
    parts = _fast_protect_parts(session)
    if parts is None:
        return None
    ctx, cdata, buffer, length, limit, srtp_protect = parts

    def protect(data: bytes) -> bytes:
        n = len(data)
        if n > limit:
            raise ValueError("packet is too long")
        length[0] = n
        buffer[0:n] = data
        rc = srtp_protect(ctx, cdata, length)
        if rc != 0:
            raise _srtp.Error(f"libsrtp protect failed ({rc})")
        return buffer[0:length[0]]

    return protect


def check_sender_hook() -> None:
    """Raise RuntimeError if RTCRtpSender's internals used by ForwardingSender moved."""
    init_src = inspect.getsource(_sender_module.RTCRtpSender)
    for name in SENDER_PRIVATE_NAMES:
        if f"self.__{name}" not in init_src:
            raise RuntimeError(f"aiortc RTCRtpSender has no self.__{name} any more")
    run_src = inspect.getsource(_sender_module.RTCRtpSender._run_rtp)
    for needle in ("self._next_encoded_frame(codec)", "packet.extensions.mid = self.__mid",
                   "packet.serialize(self.__rtp_header_extensions_map)",
                   "self.transport._send_rtp(packet_bytes)", "self.__rtp_exited.set()"):
        if needle not in run_src:
            raise RuntimeError(f"aiortc RTCRtpSender._run_rtp changed: {needle!r} not found")
    rtcp_src = inspect.getsource(_sender_module.RTCRtpSender._handle_rtcp_packet)
    if "self.__lsr == report.lsr" not in rtcp_src or "self.__lsr_time" not in rtcp_src or \
            "RTT_ALPHA * self.__rtt" not in rtcp_src or "self.__encoder.target_bitrate = bitrate" not in rtcp_src:
        raise RuntimeError("aiortc RTCRtpSender no longer estimates RTT from __lsr/__lsr_time")
    stop_src = inspect.getsource(_sender_module.RTCRtpSender.stop)
    if "self.__rtcp_started.wait()" not in stop_src or "self.__rtcp_exited.wait()" not in stop_src:
        raise RuntimeError("aiortc RTCRtpSender.stop() no longer waits for the RTCP task's events")
    if "await self._retransmit(seq)" not in rtcp_src:
        raise RuntimeError("aiortc RTCRtpSender no longer answers NACKs with _retransmit()")
    if "self.__rtx_payload_type = codec.payloadType" not in inspect.getsource(
            _sender_module.RTCRtpSender.send):
        raise RuntimeError("aiortc RTCRtpSender.send() no longer notes the RTX payload type")
    process_src = inspect.getsource(_srtp.Session)
    for needle in ("self._cdata = ffi.new(", "self._buffer = ffi.buffer(self._cdata)",
                   "func(self._srtp[0], self._cdata, len_p)"):
        if needle not in process_src:
            raise RuntimeError(f"pylibsrtp Session changed: {needle!r} not found")
    for name in ("random_sequence_number", "random32", "RTCEncodedFrame"):
        if not hasattr(_sender_module, name):
            raise RuntimeError(f"aiortc.rtcrtpsender.{name} is gone")
    if "return self._transport" not in inspect.getsource(_dtls_module.RTCDtlsTransport.transport.fget):
        raise RuntimeError("aiortc RTCDtlsTransport.transport is no longer self._transport")
    send_src = inspect.getsource(_dtls_module.RTCDtlsTransport._send_rtp)
    if "self._tx_srtp.protect(data)" not in send_src or "self._state != State.CONNECTED" not in send_src:
        raise RuntimeError("aiortc RTCDtlsTransport._send_rtp changed")
    from aioice import ice

    sendto_src = inspect.getsource(ice.Connection.sendto)
    if "self._nominated.get(component)" not in sendto_src or \
            "active_pair.protocol.send_data(data, active_pair.remote_addr)" not in sendto_src:
        raise RuntimeError("aioice Connection.sendto changed")
    if "self.transport.sendto(data, addr)" not in inspect.getsource(ice.StunProtocol.send_data):
        raise RuntimeError("aioice StunProtocol.send_data changed")


_sender_checked = False


def use_forwarding_sender(sender: Any) -> None:
    """Switch a not-yet-started RTCRtpSender to ForwardingSender."""
    global _sender_checked
    if not _sender_checked:
        check_sender_hook()
        _sender_checked = True
    sender.__class__ = ForwardingSender
