"""A room runs without Django's settings: SFU worker loops and bench/bench_sfu.py host rooms
outside any request, and a room's refusals must still reach the client as error frames."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import asyncio, json
from meetings.sfu.room import Room

async def main():
    room, frames = Room("standalone"), []

    async def send(message):
        frames.append(message)

    session = await room.join(1, "甲", send)
    await room.handle(session.id, {"type": "join"})
    await room.handle(session.id, {"type": "offer", "pc": "pub", "sdp": "garbage"})
    await room.close()
    print(json.dumps([f for f in frames if f["type"] == "error"], ensure_ascii=False))

asyncio.run(main())
"""


def test_it_answers_bad_signalling_with_error_frames_without_django_settings():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    import json

    errors = json.loads(done.stdout.strip().splitlines()[-1])
    assert [e["code"] for e in errors] == ["out_of_order", "bad_sdp"]
    assert errors[0]["message"] == "已经加入会议"
    assert "Traceback" not in done.stderr
