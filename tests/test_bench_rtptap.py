"""The bench viewers' receive loop in C (bench/_rtptap.c, built by ``make native``): real UDP
sockets on loopback. What a bench figure rests on: in-order RTP of a known stream is counted in C
(packets, bytes, highest sequence number, frames at the marker), everything else (a gap, RTCP,
STUN, an unknown SSRC, a stream Python still reads) reaches Python with the sender's address, a
GSO train is cut into its packets, a removed socket is no longer read, bad arguments are refused."""

import os
import socket
import struct
import sys
import time

import pytest

from meetings.sfu.forwarding import UDP_SEGMENT

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import _rtptap  # noqa: E402  (make native builds it: a missing module fails here, it does not skip)


def rtp(seq, timestamp=90000, ssrc=0x1234, marker=False, payload=b"v" * 200):
    return struct.pack("!BBHII", 0x80, 96 | (0x80 if marker else 0), seq & 0xFFFF, timestamp, ssrc) + payload


class Stream(_rtptap.StreamBase):
    pass


class Viewer:
    """One tapped socket: a Conn with its streams, what reached Python, the frames seen."""

    def __init__(self, hub):
        self.hub = hub
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.frames = []
        self.slow = []
        self.conn = _rtptap.Conn(lambda ssrc, ts, _none: self.frames.append((ssrc, ts)))
        self.conn.key_due = time.time() + 3600  # no keyframe awaited
        hub.add(self.sock.fileno(), self.conn, lambda data, addr: self.slow.append((data, addr)))

    def stream(self, ssrc, fast, ext_max=0, clock=90000.0):
        st = Stream()
        st.ssrc, st.fast, st.ext_max, st.clock = ssrc, fast, ext_max, clock
        self.conn.add(st)
        return st


def drain(hub, expected, timeout=2.0):
    """Poll until `expected` datagrams were read (or the time is up); the number read."""
    read, deadline = 0, time.monotonic() + timeout
    while read < expected and time.monotonic() < deadline:
        read += hub.poll()
        time.sleep(0.001)
    return read


@pytest.fixture
def hub():
    return _rtptap.Hub()


@pytest.fixture
def sender(receiver):
    return receiver  # (conftest's loopback UDP socket: here the one that sends)


def test_it_counts_in_order_video_in_c_and_reports_each_frame_once(hub, sender):
    viewer = Viewer(hub)
    st = viewer.stream(0x1234, fast=2, ext_max=99)
    packets = [rtp(100 + i, timestamp=90000 + 3000 * (i // 3), marker=i % 3 == 2) for i in range(9)]
    for p in packets:
        sender.sendto(p, viewer.sock.getsockname())
    assert drain(hub, 9) == 9
    assert viewer.slow == []
    assert (st.received, st.octets, st.ext_max, st.last_marker) == (9, sum(map(len, packets)), 108, 108)
    assert viewer.frames == [(0x1234, 90000), (0x1234, 93000), (0x1234, 96000)]
    assert st.frame_ts == 96000


def test_it_hands_a_gap_rtcp_stun_and_unknown_streams_to_python_with_the_senders_address(hub, sender):
    viewer = Viewer(hub)
    st = viewer.stream(0x1234, fast=2, ext_max=99)
    python_reads = viewer.stream(0x5555, fast=0)
    rtcp = struct.pack("!BBHI", 0x80, 201, 1, 0x9999)  # an empty receiver report
    stun = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, b"t" * 12)  # a binding request
    others = [
        rtp(102),  # 101 is missing: Python's loss and NACK logic decides
        rtcp,
        stun,
        rtp(7, ssrc=0x7777),  # a stream this viewer does not know
        rtp(1, ssrc=0x5555),  # a stream Python still reads (fast=0)
        b"\x80\x60",  # too short to be RTP
    ]
    sender.sendto(rtp(100), viewer.sock.getsockname())
    for p in others:
        sender.sendto(p, viewer.sock.getsockname())
    assert drain(hub, 1 + len(others)) == 1 + len(others)
    assert [data for data, _ in viewer.slow] == others
    assert {addr for _, addr in viewer.slow} == {sender.getsockname()}
    assert (st.received, st.ext_max) == (1, 100)  # the packet after the gap is not counted in C
    assert python_reads.received == 0
    assert viewer.frames == []


def test_it_counts_audio_in_any_order_and_keeps_the_highest_sequence_number(hub, sender):
    viewer = Viewer(hub)
    st = viewer.stream(0xA0D1, fast=1, ext_max=10, clock=48000.0)
    for seq in (11, 13, 12, 14):
        sender.sendto(rtp(seq, ssrc=0xA0D1, payload=b"a" * 60), viewer.sock.getsockname())
    assert drain(hub, 4) == 4
    assert viewer.slow == []
    assert (st.received, st.ext_max) == (4, 14)
    assert viewer.frames == []  # audio frames are not reported


def test_it_extends_the_sequence_number_across_the_wrap(hub, sender):
    viewer = Viewer(hub)
    st = viewer.stream(0x1234, fast=2, ext_max=65534)
    for i, seq in enumerate((65535, 0, 1)):
        sender.sendto(rtp(seq, marker=i == 2), viewer.sock.getsockname())
    assert drain(hub, 3) == 3
    assert (st.received, st.ext_max, st.last_marker) == (3, 65537, 65537)
    assert viewer.slow == []


def test_it_leaves_video_to_python_once_a_keyframe_is_due(hub, sender):
    viewer = Viewer(hub)
    st = viewer.stream(0x1234, fast=2, ext_max=99)
    viewer.conn.key_due = time.time() - 1
    sender.sendto(rtp(100, marker=True), viewer.sock.getsockname())
    assert drain(hub, 1) == 1
    assert st.received == 0 and len(viewer.slow) == 1 and viewer.frames == []


def test_it_cuts_a_gso_train_into_its_packets(hub, sender):
    viewer = Viewer(hub)
    st = viewer.stream(0x1234, fast=2, ext_max=99)
    packets = [rtp(100 + i, marker=i == 2, payload=bytes([i]) * 300) for i in range(3)]
    try:
        sender.setsockopt(socket.SOL_UDP, UDP_SEGMENT, len(packets[0]))
    except OSError:
        pytest.fail("this kernel refuses UDP GSO, which the SFU's send path relies on")
    sender.sendto(b"".join(packets), viewer.sock.getsockname())
    assert drain(hub, 3) == 3
    assert (st.received, st.octets, st.ext_max) == (3, sum(map(len, packets)), 102)
    assert viewer.frames == [(0x1234, 90000)]


def test_it_reads_many_sockets_and_stops_reading_a_removed_one(hub, sender):
    viewers = [Viewer(hub) for _ in range(40)]
    streams = [v.stream(0x1234, fast=2, ext_max=99) for v in viewers]
    for v in viewers:
        for i in range(20):
            sender.sendto(rtp(100 + i), v.sock.getsockname())
    assert drain(hub, 800) == 800
    assert all(st.received == 20 and st.ext_max == 119 for st in streams)

    gone = viewers.pop()
    hub.remove(gone.sock.fileno())
    sender.sendto(rtp(120), gone.sock.getsockname())
    sender.sendto(rtp(120), viewers[0].sock.getsockname())
    assert drain(hub, 2, timeout=0.5) == 1
    assert streams[-1].received == 20 and streams[0].received == 21
    assert gone.sock.recv(2048) == rtp(120)  # still in the removed socket, unread


def test_it_refuses_bad_arguments_with_an_error(hub):
    conn = _rtptap.Conn(print)
    with pytest.raises(TypeError):
        conn.add(object())
    with pytest.raises(TypeError):
        hub.add(3, object(), print)  # not a Conn
    with pytest.raises(ValueError):
        hub.add(-1, conn, print)
    with pytest.raises(ValueError):
        hub.add(3, conn, "not callable")
    for ssrc in range(16):
        st = Stream()
        st.ssrc = ssrc
        conn.add(st)
    st = Stream()
    st.ssrc = 99
    with pytest.raises(ValueError):
        conn.add(st)
    same = Stream()
    same.ssrc = 5
    conn.add(same)  # an SSRC already there is replaced, not added
    with pytest.raises(TypeError):
        _rtptap.Conn()
