"""Join storm: N viewers join one room at once while the presenter publishes (issue #14).

A training starts and every village joins within seconds. Each join costs the SFU's event loop
an SDP offer, ICE checks, a DTLS handshake and a roster entry; without admission control a few
hundred joins at once kept the loop so busy that the presenter's ICE consent checks (one STUN
request, 0.5 s to answer, six failures in a row close the connection) and its media starved.

One presenter (a pre-encoded 640x480 VP8 clip at ~600 kbps + Opus: it costs its process almost
nothing) → the forwarding SFU (meetings.sfu.room.Room, pinned to CPU 0) → one *witness* viewer
that joined before the storm, then N viewers that all open their websocket at the same moment
(processes of 64). The viewers are the bench's browser-like ones: aiortc until the first frame,
then BrowserTap (bench/_rtp_viewer.py).

Measured, from the moment the storm starts:
* time until every viewer has received a frame (and the median viewer's time);
* the witness's longest gap between two frames (what everyone already in the room saw);
* the presenter's connection: still connected at the end, and the longest gap between two of
  its video packets arriving at the server;
* the server's consent checks of the presenter: failures and the slowest answer;
* the server's loop lag (the longest a 50 ms timer fired late);
* how many viewers were asked to wait ("正在进入…", admission queue).

Usage: python bench/bench_join_storm.py [--viewers 256] [--hold 30] [--wait 60] [--max-joining 0] [--stock-consent] [--stock-reads]
``--max-joining`` sets SFU_MAX_JOINING for the server (0: no admission control, to compare);
``--stock-consent`` / ``--stock-reads`` put back aioice's consent checks and asyncio's one datagram
per turn (the behaviour before meetings/sfu/consent.py and sockets.py). The clients' ICE behaves as
a browser's (RFC 7675 consent). BENCH_PROFILE=/path.prof profiles the server; BENCH_STALLS=/path
samples the server loop's stack whenever it stalls over 0.2 s (written at each /stats).
Watches --hold s, longer (up to --wait s) until every viewer receives.
Absolute figures depend on the machine's load: the load average is printed with them.
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bench_sfu import _read, clip_track_class, encode_clip, free_port, pin, run_profiled  # noqa: E402

PER_PROCESS = 64


# ----------------------------------------------------------------------------- server
def server_main(port, ready, max_joining, stock_consent=False, stock_reads=False):
    pin("server")
    import logging

    logging.basicConfig(level=logging.ERROR)
    if max_joining is not None:
        os.environ["SFU_MAX_JOINING"] = str(max_joining)
    from aiohttp import WSMsgType, web
    from aioice import stun
    from aioice.ice import StunProtocol

    consent = {"ok": 0, "failed": 0, "slowest": 0.0, "connection": None}

    def counted(ok, started):
        consent["ok" if ok else "failed"] += 1
        consent["slowest"] = max(consent["slowest"], time.monotonic() - started)

    # the server's consent checks of the presenter's connection: aioice's own (one STUN request
    # without retransmissions, 0.5 s to answer) with --stock-consent, else meetings/sfu/consent.py
    real_request = StunProtocol.request

    async def timed_request(self, request, addr, integrity_key=None, retransmissions=None):
        if retransmissions != 0 or self.receiver is not consent.get("connection"):
            # connectivity checks, or another connection's; consent checks send no retransmissions
            return await real_request(self, request, addr, integrity_key, retransmissions)
        started = time.monotonic()
        try:
            result = await real_request(self, request, addr, integrity_key, retransmissions)
            counted(True, started)
            return result
        except stun.TransactionError:
            counted(False, started)
            raise

    StunProtocol.request = timed_request
    from meetings.sfu import consent as consent_module

    real_check = consent_module._check

    async def timed_check(connection, pair):
        if connection is not consent.get("connection"):
            return await real_check(connection, pair)
        started = time.monotonic()
        ok = await real_check(connection, pair)
        counted(ok, started)
        return ok

    consent_module._check = timed_check

    async def main():
        from meetings.sfu import forwarding
        from meetings.sfu.room import Room

        room = Room("storm")
        if stock_consent:  # aioice's own consent checks, as before consent.py
            from aioice import ice

            ice.Connection.query_consent = consent_module._original
        if stock_reads:  # asyncio's one datagram per readiness, as before sockets.py
            from meetings.sfu import sockets

            sockets._Transport._read_ready = sockets._original
        lag = {"max": 0.0}
        presenter = {"last": None, "gap": 0.0, "watch": False}

        async def lag_probe():
            while True:
                t = time.monotonic()
                await asyncio.sleep(0.05)
                lag["max"] = max(lag["max"], time.monotonic() - t - 0.05)

        asyncio.ensure_future(lag_probe())
        if os.environ.get("BENCH_STALLS"):  # sample the loop thread's stack while the loop stalls
            import collections
            import threading
            import traceback

            beat = {"t": time.monotonic()}
            stalls = collections.Counter()
            main_id = threading.get_ident()

            async def heartbeat():
                while True:
                    beat["t"] = time.monotonic()
                    await asyncio.sleep(0.01)

            def sampler():
                while True:
                    time.sleep(0.02)
                    if time.monotonic() - beat["t"] > 0.2:
                        frame = sys._current_frames().get(main_id)
                        stack = traceback.extract_stack(frame)[-14:]
                        stalls["\n".join(f"{f.filename.split('site-packages/')[-1]}:{f.lineno} {f.name}"
                                          for f in stack)] += 1

            def dump_stalls():
                with open(os.environ["BENCH_STALLS"], "w") as f:
                    for stack, count in stalls.most_common(25):
                        f.write(f"--- {count}\n{stack}\n")

            lag["dump"] = dump_stalls
            asyncio.ensure_future(heartbeat())
            threading.Thread(target=sampler, daemon=True).start()
        n = {"n": 0}

        async def ws_handler(request):
            ws = web.WebSocketResponse(max_msg_size=1 << 22)
            await ws.prepare(request)
            n["n"] += 1
            sid = f"s{n['n']}"

            async def send(message):
                if not ws.closed:
                    await ws.send_str(json.dumps(message))

            await room.join(n["n"], sid, send, session_id=sid)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await room.handle(sid, json.loads(msg.data))
            await room.leave(sid)
            return ws

        def watch_presenter():
            for sess in room.sessions.values():
                pub = sess.publications.get("camera")
                if pub is not None and not presenter["watch"]:
                    presenter["watch"] = True
                    consent["connection"] = pub.receiver.transport.transport._connection

                    def on_packet(packet):
                        now = time.monotonic()
                        if presenter["last"] is not None:
                            presenter["gap"] = max(presenter["gap"], now - presenter["last"])
                        presenter["last"] = now
                    forwarding.on_rtp_packet(pub.receiver, on_packet)

        async def stats_handler(request):
            watch_presenter()
            if "dump" in lag:
                lag["dump"]()
            if request.query.get("reset"):
                lag["max"], presenter["gap"] = 0.0, 0.0
                consent.update(ok=0, failed=0, slowest=0.0)
            states = [s.pub.connectionState for s in room.sessions.values() if s.pub is not None]
            admission = getattr(room, "admission", None)
            return web.json_response({
                "publishers": states, "sessions": len(room.sessions), "lag": lag.get("max"),
                "presenter_gap": presenter["gap"],
                "consent": {k: v for k, v in consent.items() if k != "connection"},
                "admission": admission.stats() if admission is not None else None})

        app = web.Application()
        app.router.add_get("/ws", ws_handler)
        app.router.add_get("/stats", stats_handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        while True:
            await asyncio.sleep(3600)

    run_profiled(main)


# -------------------------------------------------------------------------- presenter
def browser_like_ice():
    """The clients' ICE as a browser's: consent lost after 30 s without an answer (RFC 7675, as
    Chrome), not after six answers later than 0.5 s (aioice), which the clients' own busy loops —
    64 viewers a process — would cause; and their sockets read in bursts."""
    from meetings.sfu import consent, sockets

    consent.install()
    sockets.install()


def presenter_main(port, ready, stop, out):
    pin("publisher")
    browser_like_ice()
    import aiohttp
    from aiortc import RTCPeerConnection

    from tests import sfu_peers

    video, audio = encode_clip(640, 480, 90, 600_000)
    ClipTrack = clip_track_class(video, audio)

    async def main():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22) as ws:
                async def send(m):
                    await ws.send_str(json.dumps(m))

                peer = sfu_peers.Peer("presenter", send, camera=True, mic=True)
                reader = asyncio.ensure_future(_read(ws, peer))
                peer.pub = RTCPeerConnection(sfu_peers.CONFIG)
                states = []
                peer.pub.on("connectionstatechange", lambda: states.append(peer.pub.connectionState))
                mic = peer.pub.addTransceiver(ClipTrack("audio"), direction="sendonly")
                cam = peer.pub.addTransceiver(ClipTrack("video"), direction="sendonly")
                peer._sources = {mic: "mic", cam: "camera"}
                await peer.offer_pub()
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.2)
                out.put({"states": list(states), "final": peer.pub.connectionState})  # (a copy: put pickles later)
                reader.cancel()
                await peer.close()

    asyncio.run(main())


# ---------------------------------------------------------------------------- viewers
def viewers_main(port, count, ready, go, stop, results, witness=False, receiving=None):
    """``count`` viewers in one process; each counts the frames it could show and their gaps.
    The witness (count 1) joins at once; the others at ``go``, all at the same moment."""
    pin("viewer")
    browser_like_ice()
    import aiohttp

    from _rtp_viewer import tap_connection
    from bench_sfu import inline_frames
    from tests import sfu_peers

    class StormViewer(sfu_peers.Peer):
        def __init__(self, *a, **kw):
            super().__init__(*a, decode=False, **kw)
            self.first = None
            self.last = None
            self.gap = 0.0
            self.frames = 0
            self.tap = None
            self.joined_at = None
            self.connected_at = None
            self.waiting = 0  # "joining" notices (admission queue)
            self.retries = 0

        def _on_track(self, track):
            receiver = next(t.receiver for t in self.sub.getTransceivers() if t.receiver.track is track)
            inline_frames(receiver, self._on_video if track.kind == "video" else (lambda p: None))

        async def deliver(self, message):
            if message.get("type") == "joined":
                self.joined_at = time.time()
            await super().deliver(message)
            if self.sub is not None and not getattr(self, "_watching", False):
                self._watching = True
                sub = self.sub

                def changed():
                    if sub.connectionState == "connected" and self.connected_at is None:
                        self.connected_at = time.time()
                sub.on("connectionstatechange", changed)

        def _on_video(self, packet):
            self.frame()

        def on_frame(self, ts, parts):  # from BrowserTap
            self.frame()

        def wants_keyframe(self):
            return False

        def keyframe_due(self):  # from BrowserTap: never (video stays in its C loop)
            return float("inf")

        def frame(self):
            now = time.time()
            if self.first is None:
                self.first = now
                if receiving is not None:
                    with receiving.get_lock():
                        receiving.value += 1
                asyncio.get_running_loop().call_soon(self.install_tap)
            elif now - self.last > self.gap:
                self.gap = now - self.last
            self.last = now
            self.frames += 1

        def install_tap(self):
            if self.tap is None:
                self.tap = tap_connection(self.sub, self)

    async def one(http, i):
        ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22, timeout=60)

        async def send(m):
            await ws.send_str(json.dumps(m))

        viewer = StormViewer(f"v{i}", send)
        viewer.ws = ws
        viewer.reader = asyncio.ensure_future(_read(ws, viewer))
        return viewer

    async def main():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            if witness:
                made = [await one(http, 0)]
                ready.set()
                go.wait()
            else:
                ready.set()
                while not go.is_set():
                    await asyncio.sleep(0.01)
                made = await asyncio.gather(*(one(http, i) for i in range(count)))
            started = time.time()
            while not stop.is_set():
                await asyncio.sleep(0.1)
            out = []
            for v in made:
                out.append({"joined": v.joined_at, "connected": v.connected_at, "first": v.first, "gap": v.gap, "frames": v.frames, "started": started,
                            "waiting": sum(1 for m in v.messages if m.get("type") == "joining"),
                            "errors": [m.get("code") for m in v.errors], "witness": witness,
                            "sub": v.sub.connectionState if v.sub is not None else "none"})
            results.put(out)
            for v in made:
                v.reader.cancel()
                await v.close()
                await v.ws.close()

    asyncio.run(main())


def _count(values):
    out = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def run(viewers, hold, max_joining=None, stock_consent=False, stock_reads=False, wait=60.0):
    import urllib.request

    ctx = mp.get_context("spawn")
    port = free_port()
    ready = ctx.Event()
    server = ctx.Process(target=server_main, args=(port, ready, max_joining, stock_consent, stock_reads),
                         daemon=True)
    server.start()
    ready.wait(60)

    def stats(reset=False):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats" + ("?reset=1" if reset else ""),
                                    timeout=60) as r:
            return json.loads(r.read())

    stop, go = ctx.Event(), ctx.Event()
    presenter_out, results = ctx.Queue(), ctx.Queue()
    p_ready = ctx.Event()
    presenter = ctx.Process(target=presenter_main, args=(port, p_ready, stop, presenter_out), daemon=True)
    presenter.start()
    p_ready.wait(60)
    w_ready = ctx.Event()
    witness = ctx.Process(target=viewers_main, args=(port, 1, w_ready, go, stop, results, True), daemon=True)
    witness.start()
    w_ready.wait(60)
    procs, readies = [], []
    receiving = ctx.Value("i", 0)
    left = viewers
    while left > 0:
        k = min(PER_PROCESS, left)
        r = ctx.Event()
        p = ctx.Process(target=viewers_main, args=(port, k, r, go, stop, results, False, receiving),
                        daemon=True)
        p.start()
        procs.append(p)
        readies.append(r)
        left -= k
    for r in readies:
        r.wait(60)
    time.sleep(3.0)  # the witness is receiving
    stats(reset=True)
    go.set()
    t_go = time.time()
    time.sleep(hold)
    while receiving.value < viewers and time.time() < t_go + max(hold, wait):
        time.sleep(0.2)  # (a loaded machine: watch on until all receive, or `wait` s passed)
    watched = time.time() - t_go
    s = stats()
    load = os.getloadavg()[0]
    stop.set()
    rows = []
    for _ in procs + [witness]:
        rows += results.get(timeout=120)
    pres = presenter_out.get(timeout=60)
    for p in procs + [witness, presenter]:
        p.join(15)
    if os.environ.get("BENCH_PROFILE"):
        server.terminate()
    else:
        server.kill()
    server.join(10)
    storm = [r for r in rows if not r["witness"]]
    wit = next(r for r in rows if r["witness"])
    firsts = [r["first"] - t_go for r in storm if r["first"] is not None]
    return {
        "viewers": viewers, "max_joining": max_joining, "hold": hold, "watched": watched,
        "receiving": len(firsts),
        "all_in": max(firsts) if len(firsts) == viewers else float("nan"),
        "median_in": statistics.median(firsts) if firsts else float("nan"),
        "joined_to_connected": max((r["connected"] - r["joined"] for r in storm
                                    if r["connected"] and r["joined"]), default=float("nan")),
        "connected_to_frame": max((r["first"] - r["connected"] for r in storm
                                   if r["connected"] and r["first"]), default=float("nan")),
        "last_joined": max((r["joined"] - t_go for r in storm if r["joined"]), default=float("nan")),
        "witness_gap": wit["gap"], "witness_frames": wit["frames"],
        "viewer_gap": max((r["gap"] for r in storm if r["first"] is not None), default=float("nan")),
        "presenter": pres["final"], "presenter_states": pres["states"],
        "presenter_gap": s["presenter_gap"], "consent": s["consent"], "lag": s["lag"],
        "waited": sum(1 for r in storm if r["waiting"]), "stock_consent": stock_consent,
        "stock_reads": stock_reads, "sub_states": _count([r["sub"] for r in storm]),
        "refused": sum(1 for r in storm if r["errors"]),
        "admission": s["admission"], "load": load,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="256", help="comma-separated storm sizes")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds watched after the storm starts")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds watched at most, while not every viewer receives")
    parser.add_argument("--max-joining", type=int, default=None,
                        help="SFU_MAX_JOINING for the server (0: no admission control); default: the setting's")
    parser.add_argument("--stock-consent", action="store_true",
                        help="aioice's own consent checks (0.5 s per answer), not meetings/sfu/consent.py")
    parser.add_argument("--stock-reads", action="store_true",
                        help="asyncio's one datagram per readiness, not meetings/sfu/sockets.py")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print("| viewers joining at once | admission (joins in flight) | all receiving after s | median viewer s "
          "| viewers receiving | presenter at the end | presenter's longest packet gap at the server s "
          "| witness's longest frame gap s | storm viewers' longest gap after their first frame s "
          "| consent checks of the presenter ok / failed (slowest answer s) | server loop lag max s "
          "| viewers told to wait | load avg (2 cores) |")
    print("| --- " * 13 + "|")
    rows = []
    for n in [int(x) for x in args.viewers.split(",") if x]:
        r = run(n, args.hold, args.max_joining, args.stock_consent, args.stock_reads, args.wait)
        rows.append(r)
        adm = r["admission"]
        c = r["consent"]
        limit = adm["limit"] if adm and adm["limit"] else "none"
        if adm and adm["limit"] and "window" in adm:  # paced by the loop's lag (admission.py)
            limit = f"≤ {adm['limit']}, paced: {adm['least_window']}–{adm['window']} ({adm['halved']} halvings)"
        stock = [x for x, on in (("aioice consent", args.stock_consent), ("one read per turn", args.stock_reads)) if on]
        print(f"| {n} | {limit}{' (' + ', '.join(stock) + ')' if stock else ''} | {r['all_in']:.1f} | {r['median_in']:.1f} "
              f"| {r['receiving']}/{n} | {r['presenter']} | {r['presenter_gap']:.2f} | {r['witness_gap']:.2f} "
              f"| {r['viewer_gap']:.2f} | {c['ok']} / {c['failed']} ({c['slowest']:.2f}) | {r['lag']:.2f} "
              f"| {r['waited']} | {r['load']:.1f} |", flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
