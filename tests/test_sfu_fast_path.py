"""The SFU's per-viewer sending path (meetings/sfu/forwarding.py): one frame of a viewer
leaves as one UDP GSO train that the network cuts into ordinary SRTP packets; a kernel that
refuses GSO and a relayed (TURN) pair get one datagram per packet. Real sockets on
loopback and real SRTP sessions; no aiortc peers."""

import errno
import os
import socket

import pylibsrtp
import pytest
from aiortc.rtp import RtpPacket

from meetings.sfu import forwarding

KEY = os.urandom(28)  # AES-128-GCM: 16-byte key + 12-byte salt


def srtp_pair():
    def session(direction):
        policy = pylibsrtp.Policy(key=KEY, ssrc_type=direction,
                                  srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM)
        policy.allow_repeat_tx = True
        policy.window_size = 1024
        return pylibsrtp.Session(policy)
    return session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND), session(pylibsrtp.Policy.SSRC_ANY_INBOUND)


class RecordingSocket:
    """A UDP socket that notes its calls (and can fail GSO sends with ``gso_error``, as a
    kernel without GSO does with EIO)."""

    type = socket.SOCK_DGRAM

    def __init__(self, gso_error=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.gso_error = gso_error
        self.calls = []

    def sendto(self, data, addr):
        self.calls.append(("sendto", len(data)))
        return self.sock.sendto(data, addr)

    def sendmsg(self, buffers, ancdata, flags, addr):
        self.calls.append(("sendmsg", sum(len(b) for b in buffers)))
        if self.gso_error is not None:
            raise OSError(self.gso_error, os.strerror(self.gso_error))
        return self.sock.sendmsg(buffers, ancdata, flags, addr)


class Obj:
    pass


def pair_to(receiver, transport):
    pair = Obj()
    pair.protocol = Obj()
    pair.protocol.transport = transport
    pair.remote_addr = receiver.getsockname()
    return pair


def udp_transport(sock):
    transport = Obj()
    transport._sock = sock
    transport.sendto = lambda data, addr: pytest.fail("asyncio's transport used, not the socket")
    return transport


def header(ssrc=0x1234, payload_type=96):
    first = RtpPacket(payload_type=payload_type, ssrc=ssrc)
    return bytearray(first.serialize())


def receive(receiver, rx, count):
    packets = []
    for _ in range(count):
        packets.append(RtpPacket.parse(rx.unprotect(receiver.recv(4096))))
    return packets


def frame_payloads():
    return [bytes([1]) * 1300, bytes([2]) * 1300, bytes([3]) * 1300, bytes([4]) * 500]


def test_it_groups_a_frames_packets_into_runs_the_kernel_can_cut():
    a, b, c = b"a" * 1300, b"b" * 1300, b"c" * 400
    assert forwarding.gso_groups([a, b, c]) == ((a, b, c),)  # a VP8 frame: one run, short tail
    assert forwarding.gso_groups([c]) == ((c,),)
    # a shorter packet ends a run; a longer one starts the next
    assert forwarding.gso_groups([c, a, b, c, c]) == ((c,), (a, b, c), (c,))
    # at most GSO_MAX_SEGMENTS per run (a big keyframe)
    runs = forwarding.gso_groups([a] * 100 + [c])
    assert [len(run) for run in runs] == [40, 40, 21] and runs[-1][-1] == c


def test_it_sends_a_viewers_frame_in_one_call_that_arrives_as_ordinary_srtp_packets(
        receiver, monkeypatch):
    monkeypatch.setattr(forwarding, "gso_enabled", True)
    tx, rx = srtp_pair()
    sock = RecordingSocket()
    write = forwarding._direct_send(tx, pair_to(receiver, udp_transport(sock)))
    payloads = frame_payloads()
    write(header(), 96, forwarding.gso_groups(payloads), 65534, 90000)  # sequence numbers wrap
    write(header(0x5678, 111), 111, forwarding.gso_groups([b"audio"]), 0, 180000)  # another stream
    assert [call[0] for call in sock.calls] == ["sendmsg", "sendto"]
    packets = receive(receiver, rx, 5)
    assert [p.sequence_number for p in packets] == [65534, 65535, 0, 1, 0]
    assert [p.marker for p in packets] == [0, 0, 0, 1, 1]  # the end of each frame
    assert [p.timestamp for p in packets] == [90000] * 4 + [180000]
    assert [p.payload for p in packets] == payloads + [b"audio"]
    assert [(p.ssrc, p.payload_type) for p in packets] == [(0x1234, 96)] * 4 + [(0x5678, 111)]


def test_it_sends_packet_by_packet_from_the_first_refusal_of_gso_on(receiver, monkeypatch):
    monkeypatch.setattr(forwarding, "gso_enabled", True)
    tx, rx = srtp_pair()
    sock = RecordingSocket(gso_error=errno.EIO)
    write = forwarding._direct_send(tx, pair_to(receiver, udp_transport(sock)))
    payloads = frame_payloads()
    write(header(), 96, forwarding.gso_groups(payloads), 10, 3000)
    assert forwarding.gso_enabled is False
    assert [call[0] for call in sock.calls] == ["sendmsg"] + ["sendto"] * 4  # nothing lost
    write(header(), 96, forwarding.gso_groups(payloads), 14, 6000)
    assert [call[0] for call in sock.calls[5:]] == ["sendto"] * 4  # and no GSO tried again
    packets = receive(receiver, rx, 8)
    assert [p.sequence_number for p in packets] == list(range(10, 18))
    assert [p.payload for p in packets] == payloads * 2


def test_it_sends_a_train_the_kernel_cannot_take_packet_by_packet_and_keeps_gso(receiver, monkeypatch):
    monkeypatch.setattr(forwarding, "gso_enabled", True)
    tx, rx = srtp_pair()
    sock = RecordingSocket(gso_error=errno.EMSGSIZE)
    write = forwarding._direct_send(tx, pair_to(receiver, udp_transport(sock)))
    write(header(), 96, forwarding.gso_groups(frame_payloads()), 10, 3000)
    assert [call[0] for call in sock.calls] == ["sendmsg"] + ["sendto"] * 4
    assert forwarding.gso_enabled is True
    assert [p.payload for p in receive(receiver, rx, 4)] == frame_payloads()
    # a full socket buffer loses the train like datagrams (the viewer's NACKs repair it)
    sock.gso_error = errno.ENOBUFS
    write(header(), 96, forwarding.gso_groups(frame_payloads()), 14, 6000)
    assert [call[0] for call in sock.calls[5:]] == ["sendmsg"] and forwarding.gso_enabled is True


def test_it_sends_one_datagram_per_packet_through_a_relayed_pair(receiver, monkeypatch):
    monkeypatch.setattr(forwarding, "gso_enabled", True)
    tx, rx = srtp_pair()
    sent = []
    plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    class TurnLike:  # aioice's TURN transport: no socket of ours, it wraps every datagram
        def sendto(self, data, addr):
            sent.append(len(data))
            plain.sendto(bytes(data), addr)

    try:
        write = forwarding._direct_send(tx, pair_to(receiver, TurnLike()))
        payloads = frame_payloads()
        write(header(), 96, forwarding.gso_groups(payloads), 100, 3000)
        assert len(sent) == 4
        packets = receive(receiver, rx, 4)
        assert [p.payload for p in packets] == payloads
    finally:
        plain.close()
