"""One client process of bench_events.py: many authenticated websockets to one server.

Run by bench_events.py, not by hand:
    python bench/_wsclient.py URL ORIGIN SESSIONS_JSON START COUNT

It connects COUNT sockets (session keys START..START+COUNT-1 of SESSIONS_JSON, one person
each) with a bounded number of handshakes in flight, waits for each socket's "hello" frame (the
consumer is registered with the hub by then) and prints "READY <ok> <failed>". Then, for each
line "fired <seq>" on stdin, it waits until every socket has the bench frame with that seq or
10 s have passed, and prints one JSON line with, for each socket that got it, two latencies
from the frame's commit timestamp "t" (same machine, same clock):
- "kernel": when the frame's bytes reached this socket in the kernel (SO_TIMESTAMPNS) — what
  the server controls, whatever the load on this shared machine;
- "app": when this process got round to reading it (time.time()) — includes this client's own
  wait for a CPU next to the servers and other processes.
After the handshake each socket is taken over from the websockets library (its reading paused)
and read directly with recvmsg(); server frames are unmasked, pings are answered with pongs.
"quit" or EOF ends it.

bench_morning.py uses a real event instead: each socket records when the 公文 "arrived" frame of
a document reached it, and for the line "arrived <document> <commit time>" this process waits
for every socket (or 10 s) and prints the same JSON line, latencies counted from that commit time
(taken inside the server by an on_commit hook of the 核发's transaction).
"""
import asyncio
import json
import os
import resource
import socket
import struct
import sys
import time
from collections import defaultdict

from websockets.asyncio.client import connect

CONCURRENT_HANDSHAKES = 25
STRAGGLER_WAIT = 10.0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 lacks the name


class RawReader:
    """Reads one already-open websocket straight from its socket, with kernel timestamps."""

    def __init__(self, ws, on_frame):
        loop = asyncio.get_running_loop()
        ws.transport.pause_reading()
        fd = ws.transport.get_extra_info("socket").fileno()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, fileno=os.dup(fd))
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.ws, self.on_frame, self.buf, self.seen = ws, on_frame, b"", set()
        loop.add_reader(self.sock.fileno(), self.readable)

    def readable(self):
        try:
            data, ancillary, _, _ = self.sock.recvmsg(65536, 256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        now = time.time()
        if not data:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            return
        kernel = now
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                kernel = sec + nsec / 1e9
        self.buf += data
        while len(self.buf) >= 2:
            opcode, length, offset = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
            if length == 126:
                length, offset = int.from_bytes(self.buf[2:4], "big"), 4
            elif length == 127:
                length, offset = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < offset + length:
                break
            payload, self.buf = self.buf[offset:offset + length], self.buf[offset + length:]
            if opcode == 0x9:  # ping → masked pong with the same payload
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.sock.send(bytes((0x8A, 0x80 | len(payload))) + mask + masked)
            elif opcode == 0x1:
                self.on_frame(self, payload, kernel, now)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(url, origin, session_keys):
    gate = asyncio.Semaphore(CONCURRENT_HANDSHAKES)
    failures = []
    latencies = defaultdict(list)  # seq → (kernel receipt - commit, app receipt - commit) per socket
    readers = []
    duplicates = [0]
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

    def on_frame(reader, payload, kernel, now):
        frame = json.loads(payload)
        if frame.get("type") == "documents" and frame.get("op") == "arrived":
            key = f"doc{frame['document']}"
            if key in reader.seen:
                duplicates[0] += 1
                return
            reader.seen.add(key)
            got = latencies[key]
            got.append((kernel, now))  # absolute: the commit time comes with the "arrived" command
            if len(got) >= open_sockets:
                complete[key].set()
            return
        if frame.get("type") == "bench":
            if frame["seq"] in reader.seen:  # a duplicate: counted once, reported below
                duplicates[0] += 1
                return
            reader.seen.add(frame["seq"])
            got = latencies[frame["seq"]]
            got.append((kernel - frame["t"], now - frame["t"]))
            if len(got) >= open_sockets:
                complete[frame["seq"]].set()

    async def open_and_take_over(key):
        ws = await one(key)
        if ws is not None:
            readers.append(RawReader(ws, on_frame))
        return ws

    opened = [ws for ws in await asyncio.gather(*(open_and_take_over(k) for k in session_keys)) if ws is not None]
    open_sockets = len(opened)
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
        if line[0] not in ("fired", "arrived"):
            continue
        seq = int(line[1]) if line[0] == "fired" else f"doc{line[1]}"
        if open_sockets:
            try:
                await asyncio.wait_for(complete[seq].wait(), STRAGGLER_WAIT)
            except asyncio.TimeoutError:
                pass
        got = latencies[seq]
        if line[0] == "arrived":
            t0 = float(line[2])
            got = [(k - t0, a - t0) for k, a in got]
        print(json.dumps({"seq": seq, "connected": open_sockets, "kernel": [k for k, _ in got],
                          "app": [a for _, a in got], "duplicates": duplicates[0],
                          "errors": failures[:3]}), flush=True)
    # Do not close 1,000+ sockets politely: the server is stopped next anyway.
    os._exit(0)


if __name__ == "__main__":
    raise_fd_limit()
    url_arg, origin_arg, sessions_path, start, count = sys.argv[1:6]
    with open(sessions_path, encoding="utf-8") as f:
        keys = json.load(f)[int(start):int(start) + int(count)]
    asyncio.run(main(url_arg, origin_arg, keys))
