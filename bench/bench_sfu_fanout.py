"""SFU fan-out microbenchmark: the server's per-viewer cost of forwarding, in one process.

What bench_sfu.py measures end to end (a server on its own core, hundreds of browser-like
viewers in other processes) is noisy on a shared machine. This isolates the part that grows
with every viewer: one publication's frames (a 640x480@30 VP8 stream of ~2,500 bytes per
frame, and 50 Opus frames a second) fanned out by relay.Publication's loop to N viewers,
each a real relay.SubscriberTrack and forwarding.ForwardingSender with a real SRTP session
(AES-128-GCM, as negotiated with Chrome) and its own UDP socket on loopback, read by a
draining process on another CPU. No ICE, DTLS, RTCP or asyncio scheduling: those are
bench_sfu.py's.

Prints the server process's CPU time per viewer and second of media (µs, and % of a core:
the marginal cost per viewer) and per packet, the best of --repeat runs.

Usage: python bench/bench_sfu_fanout.py [--viewers 200] [--seconds 3] [--repeat 5]
"""

import argparse
import asyncio
import fractions
import multiprocessing as mp
import os
import selectors
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

VIDEO_FRAME_BYTES = 2500  # ~600 kbit/s at 30 fps: 2-3 RTP packets per frame
AUDIO_FRAME_BYTES = 120


def drain(socks, stop):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(0.2):
            try:
                while True:
                    key.fileobj.recv(4096)
            except BlockingIOError:
                pass


class _Obj:
    pass


def fake_dtls(tx_srtp, sock, remote_addr, master=None):
    """What ForwardingSender reads of an RTCDtlsTransport on its direct route (``master``: the
    libsrtp profile and master key the native route takes, as forwarding._tx_master leaves them)."""
    from aiortc import rtcdtlstransport

    udp = _Obj()
    udp._sock = sock
    udp.sendto = sock.sendto
    pair = _Obj()
    pair.protocol = _Obj()
    pair.protocol.transport = udp
    pair.remote_addr = remote_addr
    connection = _Obj()
    connection._nominated = {1: pair}
    dtls = _Obj()
    dtls._state = rtcdtlstransport.State.CONNECTED
    dtls.state = "connected"
    dtls._tx_srtp = tx_srtp
    dtls._transport = dtls.transport = _Obj()
    dtls._transport._connection = connection
    if master is not None:
        dtls._yw_tx_master = (tx_srtp, master)
    return dtls


async def run(n, seconds, repeat):
    import av
    import pylibsrtp
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters
    from aiortc.rtcrtpsender import RTCRtpSender

    from meetings.sfu import forwarding, relay

    codecs = {"video": RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96),
              "audio": RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2,
                                             payloadType=111)}
    sinks = []
    viewers = []
    for i in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sinks.append(sink)
        port = sink.getsockname()[1]
        key = os.urandom(28)
        policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                  srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM)
        policy.allow_repeat_tx = True
        policy.window_size = 1024
        dtls = fake_dtls(pylibsrtp.Session(policy), sock, ("127.0.0.1", port),
                         (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, key))
        tracks = {}
        for kind in ("video", "audio"):
            sender = RTCRtpSender(kind, dtls)
            forwarding.use_forwarding_sender(sender)
            sender._RTCRtpSender__mid = "0" if kind == "audio" else "1"
            lane = sender._yw_setup(codecs[kind])
            track = relay.SubscriberTrack(kind, relay.VIDEO_BUFFER if kind == "video" else relay.AUDIO_BUFFER)
            track.direct_writer = lane.write
            track.feedback = lane.feedback
            tracks[kind] = track
        viewers.append(tracks)
    stop = mp.get_context("fork").Event()
    drainer = mp.get_context("fork").Process(target=drain, args=(sinks, stop), daemon=True)
    drainer.start()
    time.sleep(1.0)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[0]})

    packers = {"video": forwarding.make_packer("VP8"), "audio": forwarding.make_packer("opus")}
    subscribers = {kind: [v[kind] for v in viewers] for kind in ("video", "audio")}
    video_data = bytes([0x10]) + os.urandom(VIDEO_FRAME_BYTES - 1)
    audio_data = os.urandom(AUDIO_FRAME_BYTES)

    time_bases = {"video": fractions.Fraction(1, 90000), "audio": fractions.Fraction(1, 48000)}

    def frame(kind, pts, key):
        packet = av.Packet(video_data if kind == "video" else audio_data)
        packet.pts = packet.dts = pts
        packet.time_base = time_bases[kind]
        packet.is_keyframe = key
        return forwarding.SharedFrame(packet, packers[kind])

    def fan_out(shared, subs):
        # what relay.Publication._pump does per frame
        publication_fan_out = getattr(relay, "fan_out", None)
        if publication_fan_out is not None:
            publication_fan_out(subs, shared)
        else:
            for sub in subs:
                sub.push(shared)

    best = None
    vpts = apts = 0
    for attempt in range(repeat + 1):  # the first is a warm-up
        t0 = time.process_time()
        for second in range(int(seconds)):
            for k in range(150):  # 1 s: 30 video frames, 50 audio frames, interleaved by 1/150 s
                if k % 5 == 0:
                    fan_out(frame("video", vpts, vpts == 0), subscribers["video"])
                    vpts += 3000
                if k % 3 == 0:
                    fan_out(frame("audio", apts, True), subscribers["audio"])
                    apts += 960
        cpu = time.process_time() - t0
        if attempt and (best is None or cpu < best):
            best = cpu
    stop.set()
    drainer.join(5)
    sent = [v["video"].delivered for v in viewers]
    assert min(sent) > 0, f"a viewer got nothing: {sent[:3]} {[v['audio'].delivered for v in viewers][:3]} {viewers[0]['video'].queue and len(viewers[0]['video'].queue)}"
    per_viewer_second = best / seconds / n
    packets_per_second = 30 * len(frame("video", 0, True).payloads()) + 50
    return per_viewer_second, packets_per_second


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    per, pps = asyncio.run(run(args.viewers, args.seconds, args.repeat))
    print(f"| viewers | µs CPU per viewer per s | % of a core per viewer | viewers per core | µs per packet | load avg |")
    print(f"| --- | --- | --- | --- | --- | --- |")
    print(f"| {args.viewers} | {1e6 * per:.0f} | {100 * per:.3f} | {1 / per:.0f} | {1e6 * per / pps:.2f} "
          f"| {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
