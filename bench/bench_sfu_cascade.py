"""A training across several SFU workers (meetings/sfu/cascade.py), viewers that answer like browsers.

W worker processes (``--workers``, default 2), each one Room of the same training with its own
PipeServer; the workers are joined by pipes as in production (each pair once). One publisher
(640x480 at 30 fps, VP8 pinned at ~600 kbps, plus Opus: bench_sfu.publisher_main) on worker 0;
N viewers spread evenly over all workers, in viewer processes.

The viewers answer like browsers: every viewer runs aiortc's whole receive path — jitter
buffer, receiver reports every ~1 s, NACKs for every lost packet, PLIs when a frame cannot be
completed — and only skips decoding (its track is marked with forwarding.mark_forwarding, so
the frames are handed over still encoded). (aiortc sends no transport-cc, and REMB only with
abs-send-time, which the SFU does not offer viewers: browsers' transport-cc costs the server a
little more than this.)

Measured over a window after warm-up, per worker: CPU (process time / wall, % of one core),
its viewers, fps they received (mean, worst), loss (frames missing against the publisher's),
and, on the workers fed through a pipe, the added latency of the hop (frame written into the
pipe → read out of it, median and p95). Then the marginal CPU per viewer and, from it, the
cores (one worker per core) for a 3,000-viewer training.

BENCH_PROFILE=DIR writes a cProfile of every worker to DIR/worker-<i>.prof.

Usage: python bench/bench_sfu_cascade.py [--workers 2] [--steps 40,120] [--per-process 20] [--window 6]
On a shared machine (2 cores here, with other work on them) the figures are noisy: the viewers'
own figures suffer first; the workers' CPU per viewer is the figure to plan with.
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
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from bench_sfu import free_port, publisher_main  # noqa: E402


# ----------------------------------------------------------------------------- worker
def worker_main(index, port, ready, pipe_address):
    import logging

    logging.basicConfig(level=logging.ERROR)
    from aiohttp import WSMsgType, web

    async def main():
        from meetings.sfu.cascade import PipeServer
        from meetings.sfu.worker import RoomHost

        host = RoomHost(ice=[])
        pipes = PipeServer(host, f"worker-{index}")
        host.on_room_created = pipes.attach
        pipe_address.value = (await pipes.start()).encode()
        room = host.room("training")
        state = {"n": 0}

        async def ws_handler(request):
            ws = web.WebSocketResponse(max_msg_size=1 << 22)
            await ws.prepare(request)
            state["n"] += 1
            sid = f"w{index}s{state['n']}"

            async def send(message):
                if not ws.closed:
                    await ws.send_str(json.dumps(message))

            await room.join(index * 100000 + state["n"], sid, send, session_id=sid)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await room.handle(sid, json.loads(msg.data))
            await room.leave(sid)
            return ws

        async def link_handler(request):
            await room.cascade.dial(request.query["peer"], request.query["address"])
            return web.json_response({"links": len(room.cascade.links)})

        async def stats_handler(request):
            s = room.stats()
            c = room.cascade.stats()
            return web.json_response({
                "viewers": len(room.local_sessions()) - (1 if index == 0 else 0),
                "delivered": s["delivered"], "dropped": s["dropped"],
                "added_latency_ms": 1000 * s["added_latency"] if s["added_latency"] else None,
                "hop_ms": 1000 * c["hop_latency"] if c["hop_latency"] is not None else None,
                "hop_p95_ms": 1000 * c["hop_latency_p95"] if c["hop_latency_p95"] is not None else None,
                "pipe_dropped": c["pipe_dropped"], "links": c["links"]})

        app = web.Application()
        app.router.add_get("/ws", ws_handler)
        app.router.add_get("/link", link_handler)
        app.router.add_get("/stats", stats_handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        while True:
            await asyncio.sleep(3600)

    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        import cProfile
        import signal

        prof = cProfile.Profile()

        def dump(*_):
            prof.disable()
            prof.dump_stats(os.path.join(profile, f"worker-{index}.prof"))
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
        prof.enable()
    asyncio.run(main())


# ----------------------------------------------------------------------------- viewers
def viewers_main(port, count, ready_count, start, stop, results):
    os.nice(5)
    import aiohttp

    from meetings.sfu import forwarding
    from tests import sfu_peers

    class BrowserLikeViewer(sfu_peers.Peer):
        """aiortc's whole receive path (RR, NACK, PLI, jitter buffer); frames not decoded."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.frames = 0
            self.counting = False

        def _on_track(self, track):
            if track.kind == "video":
                forwarding.mark_forwarding(track)
                self._tasks.append(asyncio.ensure_future(self._count(track)))

        async def _count(self, track):
            try:
                while True:
                    await track.recv()
                    if self.counting:
                        self.frames += 1
            except Exception:
                pass

    async def one(http, i):
        ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 22)

        async def send(m):
            if not ws.closed:
                await ws.send_str(json.dumps(m))

        peer = BrowserLikeViewer(f"v{i}", send)

        async def read():
            async for msg in ws:
                await peer.deliver(json.loads(msg.data))

        peer.reader = asyncio.ensure_future(read())
        return peer

    async def main():
        async with aiohttp.ClientSession() as http:
            peers = []
            for i in range(count):
                peers.append(await one(http, i))
                await asyncio.sleep(0.05)
            with ready_count.get_lock():
                ready_count.value += 1
            while not start.is_set():
                await asyncio.sleep(0.05)
            for p in peers:
                p.counting = True
            while not stop.is_set():
                await asyncio.sleep(0.05)
            results.put([p.frames for p in peers])
            for p in peers:
                p.reader.cancel()
                await p.close()

    asyncio.run(main())


# ----------------------------------------------------------------------------- a run
def _get(port, path):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def run_step(workers, n, window, per_process, warmup=4.0):
    import psutil

    ctx = mp.get_context("spawn")
    ports, procs, addresses = [], [], []
    for i in range(workers):
        port, ready, address = free_port(), ctx.Event(), ctx.Array("c", 64)
        proc = ctx.Process(target=worker_main, args=(i, port, ready, address), daemon=True)
        proc.start()
        ready.wait(60)
        ports.append(port)
        procs.append(proc)
        addresses.append(address.value.decode())
    for i in range(workers):  # each pair once, as the registry has them dial
        for j in range(i + 1, workers):
            _get(ports[i], f"/link?peer=worker-{j}&address={addresses[j]}")
    t0 = ctx.Value("d", 0.0)
    pub_ready, stop, start = ctx.Event(), ctx.Event(), ctx.Event()
    produced = ctx.Value("i", 0)
    publisher = ctx.Process(target=publisher_main, args=(ports[0], t0, pub_ready, stop, produced), daemon=True)
    publisher.start()
    pub_ready.wait(60)
    ready_count, results = ctx.Value("i", 0), ctx.Queue()
    viewer_procs = []
    per_worker = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    for w, count in enumerate(per_worker):
        while count > 0:
            k = min(per_process, count)
            p = ctx.Process(target=viewers_main, args=(ports[w], k, ready_count, start, stop, results),
                            daemon=True)
            p.start()
            viewer_procs.append(p)
            count -= k
    deadline = time.monotonic() + 120
    while ready_count.value < len(viewer_procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(warmup)
    ps = [psutil.Process(p.pid) for p in procs]
    c0 = [sum(p.cpu_times()[:2]) for p in ps]
    p0, w0 = produced.value, time.monotonic()
    start.set()
    time.sleep(window)
    c1 = [sum(p.cpu_times()[:2]) for p in ps]
    wall = time.monotonic() - w0
    produced_fps = (produced.value - p0) / wall
    stats = [_get(port, "/stats") for port in ports]
    stop.set()
    frames = []
    for _ in viewer_procs:
        try:
            frames += results.get(timeout=30)
        except Exception:
            pass
    for p in viewer_procs + [publisher]:
        p.join(10)
    for p in procs:
        p.terminate()
        p.join(10)
    fps = [f / wall for f in frames]
    return {
        "workers": workers, "viewers": n,
        "cpu": [100 * (b - a) / wall for a, b in zip(c0, c1)],
        "per_worker": per_worker,
        "fps_mean": statistics.mean(fps) if fps else 0.0, "fps_min": min(fps) if fps else 0.0,
        "loss": max(0.0, 1 - statistics.mean(fps) / produced_fps) if fps and produced_fps else None,
        "produced_fps": produced_fps,
        "hop_ms": [s["hop_ms"] for s in stats], "hop_p95_ms": [s["hop_p95_ms"] for s in stats],
        "pipe_dropped": sum(s["pipe_dropped"] for s in stats),
    }


def fmt(x, spec=".1f"):
    return "—" if x is None else format(x, spec)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", default="20,80")
    parser.add_argument("--per-process", type=int, default=20)
    parser.add_argument("--window", type=float, default=6.0)
    args = parser.parse_args()
    steps = [int(x) for x in args.steps.split(",")]
    rows = []
    print("| workers | viewers | viewers per worker | CPU per worker (% of a core) | fps mean / worst | loss | "
          "pipe hop median / p95 (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in steps:
        r = run_step(args.workers, n, args.window, args.per_process)
        rows.append(r)
        hops = ", ".join(fmt(h, ".2f") + " / " + fmt(p, ".2f")
                         for h, p in zip(r["hop_ms"], r["hop_p95_ms"]) if h is not None) or "—"
        print(f"| {r['workers']} | {n} | {' / '.join(map(str, r['per_worker']))} | "
              f"{' / '.join(fmt(c, '.0f') for c in r['cpu'])} | {fmt(r['fps_mean'])} / {fmt(r['fps_min'])} | "
              f"{fmt(100 * r['loss'] if r['loss'] is not None else None)} % | "
              f"{hops} |", flush=True)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        # the worker without the publisher: its CPU is piped-in frames plus its own viewers
        far = range(1, args.workers)
        per_viewer = statistics.mean(
            (b["cpu"][w] - a["cpu"][w]) / max(1, b["per_worker"][w] - a["per_worker"][w]) for w in far)
        per_core = 100 / per_viewer if per_viewer > 0 else float("inf")
        cores = 3000 / per_core
        print(f"\nmarginal CPU per browser-like viewer on a piped worker: {per_viewer:.2f} % of a core "
              f"(≈{per_core:.0f} viewers per core); a 3,000-viewer training needs ≈{cores:.1f} cores "
              f"(⌈{cores:.1f}⌉ workers, one per core, each fed once through a pipe).")


if __name__ == "__main__":
    main()
