"""A viewer process for tests/test_meetings_turn_nat.py, run inside the village namespace:

    python tests/turn_viewer.py WS_URL COOKIE ICE_SERVERS_JSON PUBLISHER_PERSON_ID

It joins the meeting over the signalling websocket with the given ICE servers (only relay
candidates can work from behind this router), counts the publisher's decoded frames and prints
one JSON line: {"good": n, "local": <candidate type of the nominated pair>, "remote": ...}.
"""
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets  # noqa: E402
from aiortc import RTCConfiguration, RTCIceServer  # noqa: E402

from tests import sfu_peers  # noqa: E402


async def main(url, cookie, ice, publisher_person):
    servers = [RTCIceServer(**s) for s in ice]
    sfu_peers.CONFIG = RTCConfiguration(iceServers=servers, bundlePolicy=sfu_peers.CONFIG.bundlePolicy)
    ws = await websockets.connect(url, additional_headers={"Cookie": f"sessionid={cookie}"},
                                  origin="http://127.0.0.1", max_size=1 << 22)

    async def send(message):
        await ws.send(json.dumps(message))

    peer = sfu_peers.Peer("village", send)

    async def read():
        async for raw in ws:
            await peer.deliver(json.loads(raw))

    reader = asyncio.ensure_future(read())
    await send({"type": "join"})

    def publisher_session():
        for m in reversed(peer.messages):
            if m.get("type") == "participants":
                for p in m["participants"]:
                    if p["person"] == publisher_person:
                        return p["session"]
        return None

    good = 0
    for _ in range(400):  # 40 s at most
        await asyncio.sleep(0.1)
        session = publisher_session()
        stats = peer.video_by(session) if session else None
        good = stats.good if stats else 0
        if good >= 20:
            break
    local = remote = None
    if peer.sub is not None:
        transport = peer.sub.getTransceivers()[0].receiver.transport.transport
        pair = transport._connection._nominated.get(1)
        if pair is not None:
            local, remote = pair.local_candidate.type, pair.remote_candidate.type
    print(json.dumps({"good": good, "local": local, "remote": remote}), flush=True)
    reader.cancel()
    await peer.close()
    await ws.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])))
