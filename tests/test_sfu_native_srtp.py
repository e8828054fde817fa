"""The SFU's native send path (meetings/sfu/native/_srtpsend.c): SRTP that libsrtp agrees with
byte for byte, for every profile aiortc negotiates, across a sequence-number wrap; a frame sent as
one GSO train that a libsrtp receiver reads as ordinary packets; bad input refused with an error.
Real sockets on loopback and real libsrtp sessions (pylibsrtp) on the other side."""

import os
import socket
import struct

import pylibsrtp
import pytest

from meetings.sfu import forwarding, native

PROFILES = [  # (libsrtp profile, key length, salt length)
    (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14),
    (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12),
    (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 32, 12),
]


def session(profile, master, direction):
    policy = pylibsrtp.Policy(key=master, ssrc_type=direction, srtp_profile=profile)
    policy.allow_repeat_tx = True
    policy.window_size = 1024
    return pylibsrtp.Session(policy)


def rtp(seq, timestamp=3000, ssrc=0x11223344, marker=False, payload=b"x" * 100, csrcs=(), extension=None):
    b0 = 0x80 | len(csrcs) | (0x10 if extension is not None else 0)
    head = struct.pack("!BBHII", b0, 96 | (0x80 if marker else 0), seq & 0xFFFF, timestamp, ssrc)
    head += b"".join(struct.pack("!I", c) for c in csrcs)
    if extension is not None:
        head += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    return head + payload


def test_it_is_built_here():
    # the suite runs after `make native`: a missing build would silently test the Python path
    assert native.Route is not None, native.why


@pytest.mark.parametrize("profile,key_len,salt_len", PROFILES)
def test_it_protects_every_packet_as_libsrtp_does_across_a_sequence_number_wrap(profile, key_len, salt_len):
    master = os.urandom(key_len + salt_len)
    libsrtp = session(profile, master, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    route = native.Route(profile, master, -1, "127.0.0.1", 9)
    packets = []
    seq = 65500
    for i in range(120):  # across the wrap: the rollover counter goes from 0 to 1
        packets.append(rtp(seq + i, timestamp=3000 * i, marker=i % 3 == 2, payload=os.urandom(1 + 11 * i)))
    # a CSRC list and a header extension are authenticated (and not encrypted) as header
    packets.append(rtp(65535 + 100, csrcs=(1, 2), extension=b"\x10\xab\x00\x00"))
    for packet in packets:
        assert route.protect(packet) == libsrtp.protect(packet)
    # a retransmission of a packet from before the wrap keeps its old rollover counter
    old = rtp(65510)
    assert route.protect(old) == libsrtp.protect(old)


def test_it_sends_a_frame_in_one_gso_train_that_a_libsrtp_receiver_reads_as_packets(receiver):
    profile, key_len, salt_len = PROFILES[2]
    master = os.urandom(key_len + salt_len)
    rx = session(profile, master, pylibsrtp.Policy.SSRC_ANY_INBOUND)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    try:
        host, port = receiver.getsockname()
        route = native.Route(profile, master, sender.fileno(), host, port, socket.AF_INET)
        payloads = [bytes([1]) * 1300, bytes([2]) * 1300, bytes([3]) * 1300, bytes([4]) * 500]
        header = bytearray(rtp(0, payload=b""))
        route.write(header, 96, forwarding.gso_groups(payloads), 65534, 90000)
        route.write(header, 96, forwarding.gso_groups([b"audio"]), 2, 93000)
        got = []
        for _ in range(5):
            clear = rx.unprotect(receiver.recv(4096))
            seq, timestamp = struct.unpack_from("!HI", clear, 2)
            got.append((seq, clear[1] >> 7, timestamp, clear[12:]))
        assert [g[0] for g in got] == [65534, 65535, 0, 1, 2]
        assert [g[1] for g in got] == [0, 0, 0, 1, 1]  # the marker ends each frame
        assert [g[2] for g in got] == [90000] * 4 + [93000]
        assert [g[3] for g in got] == payloads + [b"audio"]
        # a packet the receiver missed, sent again on the stream's own SSRC from after the wrap:
        # it keeps its old rollover counter, and the same receiver reads it
        route.resend(rtp(65533, timestamp=87000, payload=bytes([9]) * 1300))
        clear = rx.unprotect(receiver.recv(4096))
        assert struct.unpack_from("!H", clear, 2)[0] == 65533 and clear[12:] == bytes([9]) * 1300
    finally:
        sender.close()


def test_it_refuses_what_it_cannot_do_with_an_error_not_a_crash():
    master = os.urandom(28)
    with pytest.raises(ValueError, match="not supported"):
        native.Route(pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, os.urandom(30), -1, "127.0.0.1", 9)
    with pytest.raises(ValueError, match="wrong length"):
        native.Route(pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, master[:20], -1, "127.0.0.1", 9)
    with pytest.raises(ValueError, match="not an IP address"):
        native.Route(pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, master, -1, "viewer.example", 9)
    route = native.Route(pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, master, -1, "127.0.0.1", 9)
    with pytest.raises(ValueError, match="not an RTP"):
        route.protect(b"\x80\x60")
    with pytest.raises(ValueError, match="too long"):
        route.protect(rtp(1, payload=b"x" * 1500))
    with pytest.raises(ValueError, match="not an RTP header"):
        route.write(bytearray(b"\x90" + b"\x00" * 11), 96, ((b"x",),), 1, 1)  # extension flag, none
    with pytest.raises(TypeError):
        route.write(bytearray(rtp(0, payload=b"")), 96, [[b"x"]], 1, 1)
    with pytest.raises(TypeError):
        route.write(bytearray(rtp(0, payload=b"")), 96, (("text",),), 1, 1)
