"""A cheap viewer that answers like a browser: raw SRTP/SRTCP off the viewer's own UDP socket.

An aiortc viewer costs about 100 µs of Python per received packet (ICE → DTLS → RTP parse →
jitter buffer → decoder thread), so a 2-core machine holds only a few dozen of them next to a
server: the viewers, not the server, run out of CPU and the server's figures mean little.
A browser, on the other hand, is cheap to simulate in what matters to the server — what it
SENDS. :class:`BrowserTap` takes over a connected aiortc viewer (signalling, ICE, DTLS and the
SRTP keys stay aiortc's; STUN consent checks and DTLS still go to aiortc) and from then on:

* reads RTP straight off its UDP socket(s): the header is in the clear, so sequence numbers,
  timestamps, the marker and the SSRC are read with one ``struct.unpack_from``; a payload is
  decrypted (SRTP-unprotected, i.e. authenticated) only when its content matters: RTX
  retransmissions (their original sequence number is in the payload) and, while a keyframe is
  awaited, the first packet of each frame (the VP8 frame tag);
* keeps per-stream receive statistics as RFC 3550 A.3/A.8 define them (extended highest
  sequence number, cumulative and fraction lost, interarrival jitter, LSR/DLSR from the
  server's sender reports, which it reads from SRTCP and keeps from aiortc);
* sends what Chrome sends on a connection without rtcp-rsize and without transport-cc (the
  SFU offers neither: aiortc supports neither), all SRTCP-protected with the connection's keys
  on the nominated ICE pair:
  - a compound RR + SDES(CNAME) + REMB every 0.5–1.5 s per video stream (Chrome's video
    report interval is 1 s, randomised as RFC 3550 says), RR + SDES every 2.5–7.5 s for audio
    (Chrome's 5 s);
  - a generic NACK (RFC 4585) for a video gap at once, repeated every NACK_RETRY while the
    packet is missing, up to NACK_TRIES times; as in compound mode, each with RR + SDES;
  - a PLI (with RR + SDES) when a frame cannot be decoded: a packet still missing after
    GIVE_UP seconds (its NACKs unanswered) breaks the reference chain; then nothing is shown
    until a keyframe arrives, and the PLI is repeated every PLI_RETRY while none has;
* shows (``sink.on_frame``) each video frame a decoder could decode: all its packets in,
  after a keyframe with nothing missing before it. Frames behind a gap wait for the
  retransmission (as a browser's frame buffer does) and are shown when it arrives.

The sink: ``on_frame(rtp_timestamp, parts)`` (``parts`` = the decrypted payloads of a keyframe
when ``sink.wants_keyframe()`` asked for one, else None) and ``wants_keyframe()``.

The sockets are read by bench/_rtptap.c when ``make native`` built it (``BENCH_CTAP=0``: not):
one epoll set over every viewer socket of the process, recvmmsg with UDP GRO, and the common
case in C — an in-order RTP packet of a stream with nothing missing, held or awaited: its
receive statistics and, at the marker, the frame handed to the sink. Every other datagram
(gaps, retransmissions, RTCP, STUN, DTLS, a keyframe the sink checks) comes here as before, and
each Stream's ``fast`` flag (set below) says when its packets may stay in C.

bench_sfu's "viewer-side CPU % per viewer" column shows what one costs (a few hundred fit on
one client core).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import random
import socket
import struct
import time
from typing import Any, Optional

try:  # the C receive loop (bench/_rtptap.c, built by make native)
    import _rtptap
except ImportError:
    _rtptap = None
if os.environ.get("BENCH_CTAP", "1") != "1":
    _rtptap = None

VIDEO_REPORT = 1.0  # seconds between a video stream's receiver reports (× 0.5–1.5)
AUDIO_REPORT = 5.0  # audio (Chrome's default; × 0.5–1.5)
NACK_RETRY = 0.1  # seconds between NACKs for the same missing packet (one round trip, at least)
NACK_TRIES = 10
GIVE_UP = 0.5  # seconds a packet may stay missing before its frame counts as undecodable
PLI_RETRY = 0.5  # seconds between PLIs while a keyframe is awaited

BURST = 64  # datagrams read per socket and wake-up
UDP_GRO = 104  # Linux <linux/udp.h>: receive a GSO train whole, with its segment size (kernel 5.0+)
_GRO_SIZE = struct.Struct("=i")
_HDR = struct.Struct("!HII")  # sequence number, timestamp, SSRC (bytes 2-12)
_RTCP_HDR = struct.Struct("!BBH")
_CNAME = b"{" + os.urandom(8).hex().encode() + b"}"


def _rtcp(count_or_fmt: int, packet_type: int, payload: bytes) -> bytes:
    return _RTCP_HDR.pack(0x80 | count_or_fmt, packet_type, len(payload) // 4) + payload


def _sdes(ssrc: int) -> bytes:
    chunk = struct.pack("!IBB", ssrc, 1, len(_CNAME)) + _CNAME + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return _rtcp(1, 202, chunk)


def _nack_fci(lost: list) -> bytes:
    """Generic NACK FCI (RFC 4585 6.2.1): (PID, BLP) pairs, sequence numbers modulo 2^16."""
    out = []
    lost = sorted(lost)  # extended sequence numbers: ordered across a wrap
    i = 0
    while i < len(lost):
        pid = lost[i]
        blp = 0
        i += 1
        while i < len(lost) and lost[i] - pid <= 16:
            blp |= 1 << (lost[i] - pid - 1)
            i += 1
        out.append(struct.pack("!HH", pid & 0xFFFF, blp))
    return b"".join(out)


def _remb_fci(bitrate: int, ssrcs: list) -> bytes:
    exponent, mantissa = 0, int(bitrate)
    while mantissa > 0x3FFFF:
        mantissa >>= 1
        exponent += 1
    return (b"REMB" + struct.pack("!BBH", len(ssrcs), (exponent << 2) | (mantissa >> 16), mantissa & 0xFFFF)
            + b"".join(struct.pack("!I", s) for s in ssrcs))


class _StreamFields:
    """What the C loop keeps up to date (_rtptap.StreamBase) when it is not built."""

    __slots__ = ("ssrc", "fast", "clock", "ext_max", "received", "octets", "last_marker", "jitter",
                 "transit", "frame_ts")


_StreamBase = _rtptap.StreamBase if _rtptap is not None else _StreamFields
FAST_AUDIO, FAST_VIDEO = 1, 2  # Stream.fast: its in-order packets are read in C (0: here)


def _hub(loop: Any) -> Any:
    """The process's C receive loop, reading on ``loop``."""
    hub = _HUB.get(id(loop))
    if hub is None:
        hub = _HUB[id(loop)] = _rtptap.Hub()
        loop.add_reader(hub.fileno(), hub.poll)
    return hub


_HUB: dict = {}


class Stream(_StreamBase):
    """Receive state of one incoming SSRC (RFC 3550 A.1, A.3, A.8), and for video its frames."""

    __slots__ = ("kind", "base", "expected_prior", "received_prior", "lsr", "lsr_at", "octets_prior", "report_at",
                 # video
                 "rate_at", "missing", "held", "last_marker", "waiting_key", "frame_ts", "first_key",
                 "key_first", "key_parts", "pli_at")

    def __init__(self, ssrc: int, kind: str, seq: int) -> None:
        self.ssrc = ssrc
        self.fast = 0
        self.kind = kind
        self.clock = 90000 if kind == "video" else 48000
        self.base = seq
        self.ext_max = seq
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.transit: Optional[float] = None
        self.jitter = 0.0
        self.lsr = 0
        self.lsr_at = 0.0
        self.octets = 0
        self.octets_prior = 0
        self.report_at = 0.0
        self.rate_at = time.monotonic()
        self.missing: dict = {}  # extended seq -> [first noticed, last NACK, NACKs sent]
        self.held: list = []  # (marker ext seq, timestamp, keyframe parts) complete but behind a gap
        self.last_marker = seq - 1  # ext seq of the last frame's last packet (the next starts after it)
        # The tap takes over a connection that aiortc has been receiving (and decoding) until now:
        # the reference chain is intact. After an undecodable frame, nothing is shown before a keyframe.
        self.waiting_key = False
        self.frame_ts: Optional[int] = None
        self.first_key: dict = {}  # timestamp -> is a keyframe (first packets read while waiting)
        self.key_first: Optional[int] = None  # ext seq of the first packet of a keyframe the sink checks
        self.key_parts: Optional[dict] = None  # its payloads so far: ext seq -> payload
        self.pli_at = 0.0

    def extend(self, seq: int) -> int:
        """The extended sequence number of ``seq`` (closest to the highest seen)."""
        delta = (seq - self.ext_max) & 0xFFFF
        return self.ext_max + delta if delta < 0x8000 else self.ext_max + delta - 0x10000

    def report_block(self, now: float) -> bytes:
        expected = self.ext_max - self.base + 1
        lost = max(-0x800000, min(0x7FFFFF, expected - self.received))
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior, self.received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if expected_interval > 0 and lost_interval > 0 else 0
        dlsr = int((now - self.lsr_at) * 65536) if self.lsr else 0
        return (struct.pack("!IB", self.ssrc, min(255, fraction)) + (lost & 0xFFFFFF).to_bytes(3, "big")
                + struct.pack("!IIII", self.ext_max & 0xFFFFFFFF, int(self.jitter) & 0xFFFFFFFF, self.lsr,
                              dlsr & 0xFFFFFFFF))


class BrowserTap:
    """Takes over a connected aiortc viewer's receiving: see the module docstring."""

    def __init__(self, sink: Any, dtls: Any, receivers: list, video_pt: Optional[int],
                 rtx_pt: Optional[int], audio_pts: set, rtx_ssrcs: Optional[dict] = None,
                 fresh: bool = False) -> None:
        from aiortc.codecs.vpx import VpxPayloadDescriptor

        self.parse_descriptor = VpxPayloadDescriptor.parse
        self.sink = sink
        self.rx = dtls._rx_srtp
        self.tx = dtls._tx_srtp
        self.connection = dtls.transport._connection
        self.video_pt, self.rtx_pt, self.audio_pts = video_pt, rtx_pt, audio_pts
        self.per_stream = getattr(sink, "on_stream_frame", None)  # (ssrc, rtp_timestamp, parts)
        self.rtx_ssrcs = rtx_ssrcs or {}  # RTX SSRC -> its media SSRC (a=ssrc-group:FID)
        self.streams: dict = {}
        self.loop = asyncio.get_running_loop()
        self.local_ssrc = {"video": None, "audio": None}
        for receiver in receivers:  # aiortc's own RTCP for these receivers stops: we send it now
            kind = receiver.track.kind if receiver.track is not None else "video"
            ssrc = getattr(receiver, "_RTCRtpReceiver__rtcp_ssrc", None)
            if self.local_ssrc.get(kind) is None and ssrc is not None:
                self.local_ssrc[kind] = ssrc
            task = getattr(receiver, "_RTCRtpReceiver__rtcp_task", None)
            if task is not None:
                task.cancel()
        fallback = self.local_ssrc["video"] or self.local_ssrc["audio"] or random.getrandbits(32)
        for kind in self.local_ssrc:
            self.local_ssrc[kind] = self.local_ssrc[kind] or fallback
        self.counts = {"rr": 0, "remb": 0, "nack": 0, "nacked": 0, "pli": 0, "rtx": 0, "recovered": 0,
                       "given_up": 0, "rtcp_bytes": 0}
        self.nack_timer: Optional[asyncio.TimerHandle] = None
        self.closed = False
        # fresh: the tap goes in before aiortc decoded anything (bench_sfu taps a viewer as soon as
        # its SRTP keys exist): as a browser's, its decoder starts at a keyframe
        self.fresh = fresh
        self.keyframe_due = getattr(sink, "keyframe_due", None)  # time.time() from which it wants_keyframe()
        self.conn = None
        self.fds: list = []
        if _rtptap is not None:
            self.conn = _rtptap.Conn(self.per_stream or (lambda ssrc, ts, parts: sink.on_frame(ts, parts)))
            self._key_due()
        for protocol in self.connection._protocols:  # every local socket: the server may use any
            protocol.datagram_received = self._wrap(protocol.datagram_received)
            if self.conn is not None and self._read_in_c(protocol):
                continue
            self._read_in_bursts(protocol)

    def _read_in_c(self, protocol: Any) -> bool:
        """Hand the socket to the process's C loop (bench/_rtptap.c); False without the socket."""
        sock = getattr(getattr(protocol, "transport", None), "_sock", None)
        if sock is None:
            return False
        fd = sock.fileno()
        _hub(self.loop).add(fd, self.conn, protocol.datagram_received)
        self.loop._remove_reader(fd)  # (private: the public form refuses a transport's fd)
        self.fds.append(fd)
        return True

    def _key_due(self) -> None:
        """Tell the C loop from when the sink wants keyframes looked at (video then comes here)."""
        if self.conn is not None:
            self.conn.key_due = self.keyframe_due() if self.keyframe_due is not None else 0.0

    @staticmethod
    def _refresh(st: Stream) -> None:
        """Whether the stream's next in-order packets may stay in C: nothing missing, held back,
        awaited (a keyframe) or being collected (a keyframe the sink checks)."""
        st.fast = FAST_VIDEO if not (st.missing or st.held or st.waiting_key or st.key_parts is not None) else 0

    def _read_in_bursts(self, protocol: Any) -> None:
        """Read the socket ourselves: up to BURST datagrams per wake-up, and with UDP_GRO, so that
        a video frame the server sent in one UDP GSO call (meetings/sfu/forwarding.py) arrives
        in one recvmsg, cut at its segment size here, as a browser's stack would hand the packets
        over one by one. asyncio's datagram transport reads one datagram per wake-up with
        recvfrom; with hundreds of viewers in one process that wake-up dominated their cost.
        Without the socket (aiortc's internals moved), asyncio keeps reading."""
        transport = getattr(protocol, "transport", None)
        sock = getattr(transport, "_sock", None)
        if sock is None or not hasattr(sock, "recvmsg"):
            return
        try:
            sock.setsockopt(socket.IPPROTO_UDP, UDP_GRO, 1)
        except OSError:
            pass  # an older kernel: one datagram per packet, still read in bursts
        fd = sock.fileno()
        handler = protocol.datagram_received
        recvmsg = sock.recvmsg
        unpack_size = _GRO_SIZE.unpack_from

        def ready() -> None:
            for _ in range(BURST):
                try:
                    data, anc, _flags, addr = recvmsg(65535, 64)
                except OSError:  # nothing more to read now (BlockingIOError), or the socket closed
                    return
                if anc:
                    size = 0
                    for level, kind, value in anc:
                        if level == socket.IPPROTO_UDP and kind == UDP_GRO and len(value) >= 4:
                            size = unpack_size(value)[0]
                    if 0 < size < len(data):
                        for pos in range(0, len(data), size):
                            handler(data[pos:pos + size], addr)
                        continue
                handler(data, addr)

        # (the private forms: the public ones refuse an fd that belongs to a transport; the
        # transport's close() still removes this reader)
        self.loop._remove_reader(fd)
        self.loop._add_reader(fd, ready)

    # ------------------------------------------------------------------ receiving
    def _wrap(self, original: Any) -> Any:
        streams = self.streams
        unpack = _HDR.unpack_from
        monotonic = time.monotonic

        def datagram_received(data: bytes, addr: Any) -> None:
            # (every packet of every viewer passes here: kept to a few operations)
            b0 = data[0]
            if not (127 < b0 < 192) or self.closed:  # STUN or DTLS: aiortc's
                original(data, addr)
                return
            b1 = data[1]
            if 191 < b1 < 224:
                self.rtcp(data)
                return
            seq, ts, ssrc = unpack(data, 2)
            now = monotonic()
            st = streams.get(ssrc)
            if st is None:
                st = self.new_stream(b0, b1 & 0x7F, seq, ssrc, data, now)
                if st is None:
                    return
            # the extended sequence number (RFC 3550 A.1), and the interarrival jitter (A.8)
            delta = (seq - st.ext_max) & 0xFFFF
            ext = st.ext_max + delta if delta < 0x8000 else st.ext_max + delta - 0x10000
            st.received += 1
            st.octets += len(data)
            transit = now * st.clock - ts
            if st.transit is not None:
                d = transit - st.transit
                st.jitter += ((d if d >= 0 else -d) - st.jitter) * 0.0625
            st.transit = transit
            if st.kind == "video":
                self.video_packet(st, ext, b0, b1, ts, data, now)
                self._refresh(st)
            elif ext > st.ext_max:
                st.ext_max = ext
        return datagram_received

    def new_stream(self, b0: int, pt: int, seq: int, ssrc: int, data: bytes, now: float) -> Optional[Stream]:
        """The first packet of an SSRC: a new stream to report on (or an RTX packet)."""
        if pt == self.video_pt:
            kind = "video"
        elif pt in self.audio_pts:
            kind = "audio"
        elif pt == self.rtx_pt:
            self.retransmission(b0, data, now)
            return None
        else:
            return None
        st = self.streams[ssrc] = Stream(ssrc, kind, seq)
        if self.fresh and kind == "video":
            st.waiting_key = True
        if self.conn is not None:
            st.fast = FAST_AUDIO if kind == "audio" else 0  # video: _refresh() decides, packet by packet
            self.conn.add(st)
        st.report_at = now + (VIDEO_REPORT if kind == "video" else AUDIO_REPORT) * (0.5 + random.random())
        self._schedule_report(st)
        return st

    def video_packet(self, st: Stream, ext: int, b0: int, b1: int, ts: int, data: bytes, now: float) -> None:
        if ext > st.ext_max:
            if ext > st.ext_max + 1:  # a gap: NACK it at once (RFC 4585 "immediate" mode, as Chrome)
                lost = list(range(st.ext_max + 1, ext))[-500:]
                for x in lost:
                    st.missing[x] = [now, now, 1]
                self.send_nack(st, lost)
                self._arm_nacks()
            st.ext_max = ext
        elif ext in st.missing:
            del st.missing[ext]  # reordered, or retransmitted without RTX
            self.frame_packet(st, ext, b0, b1, ts, data)
            self.release_held(st)
            return
        else:
            return  # a duplicate or older than we track
        self.frame_packet(st, ext, b0, b1, ts, data)

    def frame_packet(self, st: Stream, ext: int, b0: int, b1: int, ts: int, data: bytes) -> None:
        """A video packet (new, reordered or recovered): frames, keyframes, what can be shown."""
        if ts != st.frame_ts and ext > st.last_marker:
            st.frame_ts = ts
            st.key_parts = None
            if ext == st.last_marker + 1 and (st.waiting_key or self.sink.wants_keyframe()):
                # the first packet of a frame: its VP8 frame tag tells a keyframe (read only when it
                # matters: awaiting a keyframe, or the sink checks one)
                payload = self.payload(b0, data)
                key = payload is not None and self.starts_keyframe(payload)
                st.first_key[ts] = key
                if key and self.sink.wants_keyframe():
                    st.key_first, st.key_parts = ext, {ext: payload}
        elif st.key_parts is not None and ts == st.frame_ts:
            payload = self.payload(b0, data)
            if payload is None:
                st.key_parts = None
            else:
                st.key_parts[ext] = payload
        if b1 & 0x80:  # the marker: the frame's last packet
            parts = None
            if st.key_parts is not None and ts == st.frame_ts:
                got = st.key_parts
                if all(e in got for e in range(st.key_first, ext + 1)):
                    parts = [got[e] for e in range(st.key_first, ext + 1)]
            st.key_parts = None
            if ext > st.last_marker:
                st.last_marker = ext
            self.frame_done(st, ext, ts, parts)

    def starts_keyframe(self, payload: bytes) -> bool:
        """Whether a VP8 payload is the start of a keyframe (RFC 7741 4.2 and RFC 6386 9.1)."""
        try:
            desc, body = self.parse_descriptor(payload)
        except ValueError:
            return False
        return bool(desc.partition_start and desc.partition_id == 0 and body and not body[0] & 1)

    def frame_done(self, st: Stream, marker: int, ts: int, parts: Optional[list]) -> None:
        if st.missing and min(st.missing) < marker:
            bisect.insort(st.held, (marker, ts, parts), key=lambda h: h[0])  # waits for a retransmission
            return
        self.show(st, ts, parts)

    def show(self, st: Stream, ts: int, parts: Optional[list]) -> None:
        if st.waiting_key:
            if not st.first_key.pop(ts, False):
                self.keyframe_needed(st)
                return
            st.waiting_key = False
            st.first_key.clear()
        if self.per_stream is not None:  # a sink that tells its streams apart (bench_sfu --publishers)
            self.per_stream(st.ssrc, ts, parts)
        else:
            self.sink.on_frame(ts, parts)
        self._key_due()

    def release_held(self, st: Stream) -> None:
        low = min(st.missing) if st.missing else None
        while st.held and (low is None or st.held[0][0] < low):
            _, ts, parts = st.held.pop(0)
            self.show(st, ts, parts)

    def retransmission(self, b0: int, data: bytes, now: float) -> None:
        """An RTX packet (RFC 4588): decrypt it for the original sequence number; its header
        carries the original's marker and timestamp."""
        clear = self.unprotect(data)
        if clear is None:
            return
        self.counts["rtx"] += 1
        start = self.payload_start(b0, clear)
        if len(clear) < start + 2:
            return
        osn = struct.unpack_from("!H", clear, start)[0]
        media = self.rtx_ssrcs.get(struct.unpack_from("!I", clear, 8)[0])
        st = self.streams.get(media) if media is not None else None
        if st is None:
            videos = [s for s in self.streams.values() if s.kind == "video"]
            if len(videos) != 1:
                return
            st = videos[0]
        ext = st.extend(osn)
        if ext not in st.missing:
            return  # already given up, or a duplicate
        del st.missing[ext]
        st.received += 1
        self.counts["recovered"] += 1
        # the original packet: the RTX packet's header (marker, timestamp) + its payload without the OSN
        original = clear[:start] + clear[start + 2:]
        ts = struct.unpack_from("!I", clear, 4)[0]
        if st.waiting_key and self.starts_keyframe(original[start:]):
            st.first_key[ts] = True  # a keyframe whose first packet was lost and is now here
        self.frame_packet_clear(st, ext, b0, clear[1], ts, original)
        self.release_held(st)
        self._refresh(st)

    def frame_packet_clear(self, st: Stream, ext: int, b0: int, b1: int, ts: int, clear: bytes) -> None:
        """frame_packet for a packet already decrypted (a recovered one)."""
        self._clear = clear
        try:
            self.frame_packet(st, ext, b0, b1, ts, clear)
        finally:
            self._clear = None

    _clear: Optional[bytes] = None

    def payload(self, b0: int, data: bytes) -> Optional[bytes]:
        clear = self._clear if self._clear is not None else self.unprotect(data)
        if clear is None:
            return None
        return clear[self.payload_start(b0, clear):]

    @staticmethod
    def payload_start(b0: int, clear: bytes) -> int:
        start = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            start += 4 + 4 * struct.unpack_from("!H", clear, start + 2)[0]
        return start

    def unprotect(self, data: bytes) -> Optional[bytes]:
        try:
            return self.rx.unprotect(data)
        except Exception:
            return None

    def rtcp(self, data: bytes) -> None:
        """The server's RTCP: sender reports give LSR (RFC 3550 6.4.1) for our reports."""
        try:
            clear = self.rx.unprotect_rtcp(data)
        except Exception:
            return
        now = time.monotonic()
        pos = 0
        while pos + 4 <= len(clear):
            _, packet_type, words = _RTCP_HDR.unpack_from(clear, pos)
            if packet_type == 200 and pos + 16 <= len(clear):
                ssrc, ntp_hi, ntp_lo = struct.unpack_from("!III", clear, pos + 4)
                st = self.streams.get(ssrc)
                if st is not None:
                    st.lsr = ((ntp_hi & 0xFFFF) << 16) | (ntp_lo >> 16)
                    st.lsr_at = now
            pos += 4 * (words + 1)

    # ------------------------------------------------------------------ sending
    def _send(self, packet: bytes) -> None:
        pair = self.connection._nominated.get(1)
        if pair is None or self.closed:
            return
        try:
            protected = self.tx.protect_rtcp(packet)
            pair.protocol.transport.sendto(protected, pair.remote_addr)
            self.counts["rtcp_bytes"] += len(protected)
        except Exception:
            pass

    def _report(self, st: Stream, now: float) -> bytes:
        """RR (one report block: Chrome reports each receive stream from its own RTCP module) + SDES."""
        me = self.local_ssrc[st.kind]
        self.counts["rr"] += 1
        return _rtcp(1, 201, struct.pack("!I", me) + st.report_block(now)) + _sdes(me)

    def _schedule_report(self, st: Stream) -> None:
        delay = max(0.0, st.report_at - time.monotonic())
        self.loop.call_later(delay, self._send_report, st)

    def _send_report(self, st: Stream) -> None:
        if self.closed:
            return
        now = time.monotonic()
        packet = self._report(st, now)
        interval = VIDEO_REPORT if st.kind == "video" else AUDIO_REPORT
        if st.kind == "video":
            # REMB (draft-alvestrand-rmcat-remb): the receive-side estimate; here what arrived lately
            # with headroom, as an estimator that is not congested keeps raising it
            rate = 8 * (st.octets - st.octets_prior) / max(0.1, now - st.rate_at)
            st.octets_prior, st.rate_at = st.octets, now
            packet += _rtcp(15, 206, struct.pack("!II", self.local_ssrc["video"], 0)
                            + _remb_fci(max(300_000, int(rate * 1.5)), [st.ssrc]))
            self.counts["remb"] += 1
        self._send(packet)
        st.report_at = now + interval * (0.5 + random.random())
        self._schedule_report(st)

    def send_nack(self, st: Stream, lost: list) -> None:
        me = self.local_ssrc["video"]
        self.counts["nack"] += 1
        self.counts["nacked"] += len(lost)
        self._send(self._report(st, time.monotonic())
                   + _rtcp(1, 205, struct.pack("!II", me, st.ssrc) + _nack_fci(lost)))

    def send_pli(self, st: Stream) -> None:
        me = self.local_ssrc["video"]
        self.counts["pli"] += 1
        self._send(self._report(st, time.monotonic()) + _rtcp(1, 206, struct.pack("!II", me, st.ssrc)))

    def keyframe_needed(self, st: Stream) -> None:
        st.waiting_key = True
        now = time.monotonic()
        if now - st.pli_at >= PLI_RETRY:
            st.pli_at = now
            self.send_pli(st)

    def _arm_nacks(self) -> None:
        if self.nack_timer is None and not self.closed:
            self.nack_timer = self.loop.call_later(NACK_RETRY / 2, self._nack_tick)

    def _nack_tick(self) -> None:
        """Repeat NACKs for packets still missing; give up on old ones (the frame is undecodable:
        PLI, wait for a keyframe)."""
        self.nack_timer = None
        now = time.monotonic()
        pending = False
        for st in self.streams.values():
            if st.kind != "video" or not st.missing:
                continue
            again, dead = [], []
            for ext, entry in st.missing.items():
                if now - entry[0] > GIVE_UP or entry[2] >= NACK_TRIES:
                    dead.append(ext)
                elif now - entry[1] >= NACK_RETRY:
                    entry[1] = now
                    entry[2] += 1
                    again.append(ext)
            if dead:
                self.counts["given_up"] += len(dead)
                for ext in dead:
                    del st.missing[ext]
                # frames up to the last dead packet cannot be decoded: drop them, ask for a keyframe
                last = max(dead)
                st.held = [h for h in st.held if h[0] > last]
                self.keyframe_needed(st)
                self.release_held(st)
                self._refresh(st)
            if again:
                self.send_nack(st, again)
            if st.missing:
                pending = True
        if pending:
            self._arm_nacks()

    def close(self) -> None:
        self.closed = True
        if self.nack_timer is not None:
            self.nack_timer.cancel()
        for fd in self.fds:
            _hub(self.loop).remove(fd)
        self.fds = []


def tap_connection(pc: Any, sink: Any, fresh: bool = False) -> Optional[BrowserTap]:
    """A BrowserTap on ``pc``'s (bundled) connection feeding ``sink``, or None while its DTLS/SRTP
    is not up yet (or aiortc's internals moved: the viewer then keeps receiving through aiortc,
    and the bench's "tapped" column says so)."""
    if pc is None:
        return None
    try:
        return _tap_connection(pc, sink, fresh)
    except AttributeError:
        return None


def _tap_connection(pc: Any, sink: Any, fresh: bool) -> Optional[BrowserTap]:
    dtls = None
    video_pt = rtx_pt = None
    audio_pts: set = set()
    receivers = []
    for t in pc.getTransceivers():
        receiver = t.receiver
        if receiver.transport is None:
            continue
        dtls = dtls or receiver.transport
        receivers.append(receiver)
        codecs = getattr(receiver, "_RTCRtpReceiver__codecs", {})
        for pt, codec in codecs.items():
            mime = codec.mimeType.lower()
            if mime == "video/vp8":
                video_pt = pt
            elif mime == "audio/opus":
                audio_pts.add(pt)
        for pt, codec in codecs.items():
            if codec.mimeType.lower() == "video/rtx" and codec.parameters.get("apt") == video_pt:
                rtx_pt = pt
    if dtls is None or video_pt is None or dtls._rx_srtp is None or dtls._tx_srtp is None:
        return None
    rtx_ssrcs = {}
    if pc.remoteDescription is not None:
        for line in pc.remoteDescription.sdp.splitlines():
            if line.startswith("a=ssrc-group:FID "):
                parts = line.split()[1:]
                if len(parts) == 2:
                    rtx_ssrcs[int(parts[1])] = int(parts[0])
    return BrowserTap(sink, dtls, receivers, video_pt, rtx_pt, audio_pts, rtx_ssrcs, fresh)
