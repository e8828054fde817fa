"""A training across several SFU workers (meetings/sfu/cascade.py), viewers that answer like browsers.

W worker processes (``--workers``, default 2 then 3), each one Room of the same training with
its own PipeServer; the workers are joined by pipes as in production (each pair once). One
publisher (640x480 at 30 fps, VP8 pinned at ~600 kbps, plus Opus: bench_sfu.publisher_main) on
worker 0; N viewers spread evenly over all workers, in viewer processes.

The viewers are bench_sfu's (bench/_rtp_viewer.py, BrowserTap): cheap to run — they read
SRTP off their sockets — and browser-like in what they SEND, which is what a server pays for:
receiver reports with SDES and REMB every ~1 s per video stream (~5 s audio), NACKs for gaps,
PLIs for undecodable frames, SRTCP-protected. (The SFU offers viewers neither transport-cc nor
abs-send-time, so a browser answers with REMB, as these do.) The earlier version of this bench
ran aiortc's whole receive path per viewer: on this 2-core machine the viewers starved before
the workers did.

All workers are pinned to the first CPU, the publisher and viewers to the others (BENCH_PIN=0
turns it off): each worker's "% of a core" is its own process time on the server core, and
the largest training is what one server core carries across W workers.

Measured over a window after warm-up, per worker: CPU (process time / wall, % of one core), its
viewers, the fps they received (mean, worst), frame loss (gaps in their RTP timestamps),
latency (capture → last packet in, anchored on decoded keyframes' painted counters), and on the
workers fed through a pipe the hop's added latency (frame written into the pipe → read out of
it, median and p95). Then, per worker count, the largest training that held (every viewer 29+
fps, < 1 % loss), the marginal CPU per viewer on a piped worker (the first two steps), and from
it the workers (one per core) a 3,000-viewer training needs, each kept under 80 % of its core.

BENCH_PROFILE=DIR writes a cProfile of every worker to DIR/worker-<i>.prof.

Usage: python bench/bench_sfu_cascade.py [--workers 2,3] [--steps 60,240,420] [--per-process 64] [--window 6]
On a shared machine the viewers' own figures suffer first; the workers' CPU per viewer (on
the pinned server core) is the figure to plan with.
"""

import argparse
import asyncio
import json
import math
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

from bench_sfu import (VIEWERS_PER_PROCESS, feedback_rates, fmt_feedback, free_port, pin,  # noqa: E402
                       publisher_main, viewers_main)


# ----------------------------------------------------------------------------- worker
def worker_main(index, port, ready, pipe_address):
    pin("server")
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


# ----------------------------------------------------------------------------- a run
def _get(port, path):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def run_step(workers, n, window, per_process, warmup=None):
    """One training: ``workers`` workers (all pinned to the server core), the publisher on
    worker 0, ``n`` viewers spread evenly over the workers, in viewer processes pinned to the
    other core(s). Returns per-worker CPU and viewers' figures, and the whole training's."""
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
    time.sleep(0.5)
    ready_count, results = ctx.Value("i", 0), ctx.Queue()
    viewer_procs = []
    per_worker = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    for w, count in enumerate(per_worker):
        while count > 0:
            k = min(per_process, count)
            p = ctx.Process(target=viewers_main, args=(ports[w], k, t0, ready_count, start, stop, results,
                                                       False, w), daemon=True)
            p.start()
            viewer_procs.append(p)
            count -= k
    deadline = time.monotonic() + 120
    while ready_count.value < len(viewer_procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(warmup if warmup is not None else 2.0 + n / 64)
    ps = [psutil.Process(p.pid) for p in procs]
    c0 = [sum(p.cpu_times()[:2]) for p in ps]
    p0, w0 = produced.value, time.monotonic()
    start.set()
    time.sleep(window)
    c1 = [sum(p.cpu_times()[:2]) for p in ps]
    wall = time.monotonic() - w0
    produced_fps = (produced.value - p0) / wall
    stats = [_get(port, "/stats") for port in ports]
    load = os.getloadavg()[0]
    stop.set()
    viewers = []
    for _ in viewer_procs:
        try:
            viewers += results.get(timeout=60)
        except Exception:
            pass
    for p in viewer_procs + [publisher]:
        p.join(10)
    for p in procs:
        p.terminate()
        p.join(10)
    rows = []
    for w in range(workers):
        mine = [v for v in viewers if v["tag"] == w]
        rows.append({"cpu": 100 * (c1[w] - c0[w]) / wall, "viewers": per_worker[w], **figures(mine, wall),
                     "hop_ms": stats[w]["hop_ms"], "hop_p95_ms": stats[w]["hop_p95_ms"],
                     "added_ms": stats[w]["added_latency_ms"]})
    return {"workers": workers, "viewers": n, "per_worker": rows, "all": figures(viewers, wall),
            "produced_fps": produced_fps, "answered": len(viewers), "load": load,
            "pipe_dropped": sum(s["pipe_dropped"] for s in stats)}


def figures(viewers, wall):
    """fps (mean, worst), frame loss (gaps in each viewer's RTP timestamps), latency (capture →
    last packet in, median) and the feedback the viewers sent, over a set of viewers."""
    fps = [v["frames"] / wall for v in viewers]
    lost = expected = 0
    for v in viewers:
        pts = v["pts"]
        if len(pts) >= 2:
            exp = round(((pts[-1] - pts[0]) & 0xFFFFFFFF) / 3000) + 1
            expected += exp
            lost += max(0, exp - len(pts))
    lat = [x for v in viewers for x in v["lat"]]
    return {"fps_mean": statistics.mean(fps) if fps else 0.0, "fps_min": min(fps) if fps else 0.0,
            "loss": 100.0 * lost / expected if expected else 100.0,
            "latency_ms": 1000 * statistics.median(lat) if lat else None,
            "receiving": sum(1 for v in viewers if v["frames"] > 0),
            "tapped": sum(1 for v in viewers if v["tap"]), "rtcp": feedback_rates(viewers, wall)}


def fmt(x, spec=".1f"):
    return "—" if x is None else format(x, spec)


def held(r):
    """A training the machine drove: every viewer at 29+ fps (no catch-up burst), under 1 % loss."""
    a = r["all"]
    return a["fps_min"] >= 29.0 and a["fps_mean"] <= 31.0 and a["loss"] < 1.0 and a["receiving"] == r["viewers"]


def plan(rows, workers, target=3000, headroom=80.0):
    """From the marginal CPU per viewer on a worker fed through a pipe (two steps: slope) and its
    fixed cost (the pipe, the room), the workers (one per core) a ``target``-viewer training
    needs with each worker's core at most ``headroom`` % busy."""
    a, b = rows[0], rows[-1]
    far = range(1, workers)
    per_viewer = statistics.mean(
        (b["per_worker"][w]["cpu"] - a["per_worker"][w]["cpu"])
        / max(1, b["per_worker"][w]["viewers"] - a["per_worker"][w]["viewers"]) for w in far)
    fixed = statistics.mean(a["per_worker"][w]["cpu"] - per_viewer * a["per_worker"][w]["viewers"] for w in far)
    if per_viewer <= 0:
        return None
    per_worker = int((headroom - max(0.0, fixed)) / per_viewer)
    needed = math.ceil(target / max(1, per_worker))
    return {"per_viewer": per_viewer, "per_core": 100 / per_viewer, "fixed": fixed, "per_worker": per_worker,
            "workers": needed, "cores": needed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2,3", help="worker counts to run (2-4), e.g. 2,3,4")
    parser.add_argument("--steps", default="60,240,420",
                        help="viewer counts per worker count; the first two give the per-viewer cost")
    parser.add_argument("--per-process", type=int, default=VIEWERS_PER_PROCESS)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--target", type=int, default=3000, help="viewers of the training to plan for")
    args = parser.parse_args()
    steps = [int(x) for x in args.steps.split(",") if x]
    began = time.monotonic()
    print("| workers | viewers (per worker) | CPU per worker, % of a core | fps mean / worst (per worker) "
          "| frame loss % (per worker) | latency capture→in ms, median (per worker) | pipe hop median / p95 ms "
          "| RTCP per viewer per s: compound / REMB / NACK / PLI; RTX in | viewers receiving (tapped) "
          "| publisher fps | load avg |")
    print("| --- " * 11 + "|")
    plans, largest = [], {}
    for workers in [int(x) for x in args.workers.split(",") if x]:
        rows = []
        for n in steps:
            r = run_step(workers, n, args.window, args.per_process)
            rows.append(r)
            pw = r["per_worker"]
            hops = ", ".join(fmt(x["hop_ms"], ".2f") + " / " + fmt(x["hop_p95_ms"], ".2f")
                             for x in pw if x["hop_ms"] is not None) or "—"
            a = r["all"]
            print(f"| {workers} | {n} ({' / '.join(str(x['viewers']) for x in pw)}) "
                  f"| {' / '.join(fmt(x['cpu'], '.0f') for x in pw)} "
                  f"| {fmt(a['fps_mean'])} / {fmt(a['fps_min'])} ({' / '.join(fmt(x['fps_mean']) for x in pw)}) "
                  f"| {fmt(a['loss'], '.2f')} ({' / '.join(fmt(x['loss'], '.2f') for x in pw)}) "
                  f"| {fmt(a['latency_ms'], '.0f')} ({' / '.join(fmt(x['latency_ms'], '.0f') for x in pw)}) "
                  f"| {hops} | {fmt_feedback(a['rtcp'])} | {a['receiving']}/{n} ({a['tapped']}) "
                  f"| {r['produced_fps']:.1f} | {r['load']:.1f} |", flush=True)
            if held(r):
                largest[workers] = max(largest.get(workers, 0), n)
        if len(rows) >= 2 and workers >= 2:
            p = plan(rows[:2], workers, args.target)
            if p:
                plans.append((workers, p))
    print()
    for workers, n in sorted(largest.items()):
        print(f"largest training driven with {workers} workers: {n} viewers at >= 29 fps, < 1 % loss")
    for workers, p in plans:
        print(f"{workers} workers: marginal CPU per browser-like viewer on a piped worker {p['per_viewer']:.3f} % "
              f"of a core (≈{p['per_core']:.0f} viewers per core), fixed {p['fixed']:.1f} % (pipe in, room); "
              f"at most 80 % of a core each: {p['per_worker']} viewers per worker → a {args.target:,}-viewer "
              f"training needs {p['workers']} workers on {p['cores']} cores (+ the publisher's worker's own "
              f"viewers count among them).")
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
