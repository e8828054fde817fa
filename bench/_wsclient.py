"""One client process of bench_events.py: many authenticated websockets to one server.

Run by bench_events.py, not by hand:
    python bench/_wsclient.py URL ORIGIN SESSIONS_JSON START COUNT

It connects COUNT sockets (session keys START..START+COUNT-1 of SESSIONS_JSON, one person
each) with a bounded number of handshakes in flight, waits for each socket's "hello" frame (the
consumer is registered with the hub by then) and prints "READY <ok> <failed>". Then, for each
line "fired <seq>" on stdin, it waits until every socket has the bench frame with that seq or
10 s have passed, and prints one JSON line: for each socket that got it, receive time minus the
frame's commit timestamp "t" (same machine, same clock: time.time()). "quit" or EOF ends it.
"""
import asyncio
import json
import os
import resource
import sys
import time
from collections import defaultdict

from websockets.asyncio.client import connect

CONCURRENT_HANDSHAKES = 25
STRAGGLER_WAIT = 10.0


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(url, origin, session_keys):
    gate = asyncio.Semaphore(CONCURRENT_HANDSHAKES)
    failures = []
    latencies = defaultdict(list)  # seq → receive - commit, one per socket
    complete = defaultdict(asyncio.Event)  # seq → every socket has it
    expected = len(session_keys)
    open_sockets = 0

    async def one(key):
        async with gate:
            for attempt in range(3):
                try:
                    ws = await connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={key}"},
                                       ping_interval=None, open_timeout=60, close_timeout=1, max_queue=64)
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if hello.get("type") != "hello":
                        raise RuntimeError(f"unexpected first frame {hello}")
                    return ws
                except Exception as exc:  # noqa: BLE001 - counted and reported, not hidden
                    if attempt == 2:
                        failures.append(repr(exc)[:200])
                        return None
                    await asyncio.sleep(0.5)

    async def listen(ws):
        try:
            async for raw in ws:
                now = time.time()
                frame = json.loads(raw)
                if frame.get("type") == "bench":
                    got = latencies[frame["seq"]]
                    got.append(now - frame["t"])
                    if len(got) >= open_sockets:
                        complete[frame["seq"]].set()
        except Exception:  # noqa: BLE001 - a dropped socket shows as a missing delivery
            return

    opened = [ws for ws in await asyncio.gather(*(one(k) for k in session_keys)) if ws is not None]
    open_sockets = len(opened)
    listeners = [asyncio.create_task(listen(ws)) for ws in opened]  # noqa: F841 - kept alive
    print(f"READY {open_sockets} {expected - open_sockets}", flush=True)
    if failures:
        print(f"# first connect failure: {failures[0]}", file=sys.stderr, flush=True)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().split()
        if not line or line[0] == "quit":
            break
        if line[0] != "fired":
            continue
        seq = int(line[1])
        if open_sockets:
            try:
                await asyncio.wait_for(complete[seq].wait(), STRAGGLER_WAIT)
            except asyncio.TimeoutError:
                pass
        print(json.dumps({"seq": seq, "connected": open_sockets, "latencies": latencies[seq],
                          "errors": failures[:3]}), flush=True)
    # Do not close 1,000+ sockets politely: the server is stopped next anyway.
    os._exit(0)


if __name__ == "__main__":
    raise_fd_limit()
    url_arg, origin_arg, sessions_path, start, count = sys.argv[1:6]
    with open(sessions_path, encoding="utf-8") as f:
        keys = json.load(f)[int(start):int(start) + int(count)]
    asyncio.run(main(url_arg, origin_arg, keys))
