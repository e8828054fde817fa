"""Every websocket route of asgi.py, with its path filled with real ids of the county's objects, opened
by an outsider of another county, a village cadre under the recipient and an anonymous visitor, through
the whole ASGI stack (origin check, session auth, URL router, the real consumers): a socket whose path
names one of the county's objects is refused or closed with a close code; any other (the person's own
events socket) stays open but never receives anything of the county's objects, whatever it sends;
nothing changes in the database.

The routes come from asgi.websocket_urlpatterns (nested routers included), so a route added later is
covered without editing this file; a route whose parameters this test cannot fill fails the test. The
county's own secretary opens the same paths as the control: a refusal must not come from a bad path."""
import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

import asgi
from tests.test_persona_matrix import PRIVATE, fill
from tests.trust_world import SECRETS, build_world, snapshot

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://127.0.0.1")
PERSONAS = ("outsider", "village_cadre", "anonymous")
# What a curious client sends once the socket is open: a join, the room's messages, a host command.
PROBES = [{"type": "join", "mode": "audio"}, {"type": "hand", "up": True}, {"type": "mode", "mode": "video"},
          {"type": "host", "action": "end"}, {"type": "chat", "text": "你好"}, "ping"]


def ws_routes(routes=None, prefix=""):
    """(route, name) of every websocket route the ASGI application serves."""
    for route in asgi.websocket_urlpatterns if routes is None else routes:
        here = prefix + str(route.pattern)
        app = getattr(route, "callback", None)
        if isinstance(app, URLRouter):
            yield from ws_routes(app.routes, here)
        elif hasattr(route, "url_patterns"):
            yield from ws_routes(route.url_patterns, here)
        else:
            yield here, getattr(app, "consumer_class", app).__name__


async def collect(comm, seconds):
    """Frames sent until the consumer closes the socket or `seconds` pass; (texts, close code or None)."""
    texts, loop = [], asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if comm.output_queue.empty():  # (receive_output's timeout would cancel the consumer)
            if comm.future.done():
                comm.future.result()  # the consumer failed: its error, not a silent pass
                return texts, None
            await asyncio.sleep(0.02)
            continue
        out = await comm.receive_output()
        if out["type"] == "websocket.close":
            return texts, out.get("code", 1000)
        texts.append(out.get("text") or (out.get("bytes") or b"").decode("utf-8", "replace"))
    return texts, None


def _headers(cookie):
    return [ORIGIN] + ([(b"cookie", f"sessionid={cookie}".encode())] if cookie else [])


async def open_socket(path, cookie):
    """(communicator, accepted, close code at the handshake)."""
    comm = WebsocketCommunicator(asgi.application, path, headers=_headers(cookie))
    accepted, code = await comm.connect(timeout=10)
    return comm, accepted, code


@sync_to_async
def _world(units, people):
    return build_world(units, people)


@sync_to_async
def _snapshot():
    return snapshot()


@sync_to_async
def _cookie(client_for, person):
    return client_for(person).cookies["sessionid"].value


@sync_to_async
def _events_about_the_county(world, people):
    """Real actions on the county's objects, each sending events to the county's people and units: a
    人工催办 of the dispatched 通知 and a change of the county's meeting."""
    from documents.actions import do_remind_all
    from documents.models import Document
    from meetings.actions import do_update
    from meetings.models import Meeting
    from tests.test_documents_support import post_of

    secretary = people["county_secretary"]
    do_remind_all(person=secretary, post=post_of(secretary), doc=Document.objects.get(id=world["doc_id"]),
                  message="请尽快办理")
    do_update(secretary, Meeting.objects.get(id=world["meeting_id"]), agenda="议程已调整")


async def test_it_refuses_every_websocket_route_to_outsiders_village_cadres_and_anonymous_visitors(
        units, seed_small, client_for):
    people = seed_small[1]
    world = await _world(units, people)
    cookies = {"anonymous": None}
    for who in ("outsider", "village_cadre", "county_secretary"):
        cookies[who] = await _cookie(client_for, people[who])
    before = await _snapshot()

    routes = list(ws_routes())
    assert routes, "asgi.py serves no websocket route?"
    unfillable, problems, still_open, controls, tried = [], [], [], [], 0
    try:
        for route, consumer in routes:
            path, names, missing = fill(route, world)
            if missing:
                unfillable.append(f"{route} ({consumer}): {', '.join(missing)}")
                continue
            # the control: the county's secretary is let in on the same path
            control, accepted, code = await open_socket(path, cookies["county_secretary"])
            texts, closed = await collect(control, 1.0) if accepted else ([], code)
            if not accepted or closed is not None:
                problems.append(f"{path}: the county's own secretary was refused ({closed}): {texts}")
            controls.append((path, control))
            for who in PERSONAS:
                tried += 1
                comm, accepted, code = await open_socket(path, cookies[who])
                where = f"{path} ({consumer}) as {who}"
                if not accepted:
                    if code is None or code == 1000:
                        problems.append(f"{where}: refused without a close code ({code})")
                    continue
                texts, closed = await collect(comm, 1.0)
                if closed is None:  # still open: it may be the person's own socket; it must say nothing
                    for probe in PROBES:
                        await comm.send_to(text_data=probe if isinstance(probe, str) else json.dumps(probe))
                    more, closed = await collect(comm, 1.5)
                    texts += more
                if closed is None and PRIVATE & set(names):
                    problems.append(f"{where}: a socket about another unit's object stays open")
                if closed is None:
                    still_open.append((where, comm))
                elif closed in (1000, 1001, 1006):
                    problems.append(f"{where}: closed without saying why ({closed})")
                leaked = [s for s in SECRETS if any(s in t for t in texts)]
                if leaked:
                    problems.append(f"{where}: received {leaked}")
                if who == "anonymous" and closed is None:
                    problems.append(f"{where}: an anonymous visitor's socket stays open")
        after = await _snapshot()

        # Sockets left open (the events socket of a signed-in outsider) get nothing of the county's
        # events, while the county's own secretary gets them.
        await _events_about_the_county(world, people)
        county = [(p, c) for p, c in controls if p == "/ws/"]
        for path, control in county:
            texts, _closed = await collect(control, 3.0)
            kinds = {json.loads(t).get("op") for t in texts if t.startswith("{")}
            assert texts and kinds - {"connected"}, f"the control on {path} got no event of its own: {texts}"
        for where, comm in still_open:
            texts, closed = await collect(comm, 0.5)
            if texts:
                problems.append(f"{where}: received the county's events {texts[:3]}")
    finally:
        for comm in [c for _w, c in still_open] + [c for _p, c in controls]:
            if not comm.future.done():
                await comm.disconnect()

    assert not unfillable, "websocket routes this test cannot fill (add their parameter to " \
        "tests/trust_world.py):\n" + "\n".join(unfillable)
    assert not problems, f"{len(problems)} of {tried} sockets:\n" + "\n".join(problems)
    assert after == before
    assert tried == len(routes) * len(PERSONAS) and len(routes) >= 2
