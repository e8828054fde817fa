"""Every URL pattern and API operation, with its path filled with real ids of another unit's objects,
asked by an outsider of another county, a village cadre under the recipient and an anonymous visitor:
refused (404/401/403, or the sign-in page), never the objects' content, never a 5xx, nothing changed.

The patterns come from Django's resolver, so a pattern added later is covered without editing this
file; a pattern whose parameters this test cannot fill fails the test, listed by name."""
import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.trust_world import SECRETS, build_world, snapshot

pytestmark = pytest.mark.django_db

PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
METHODS = ("get", "post", "patch", "delete")
# Parameters naming objects private to their unit: any answer but a refusal is a leak.
PRIVATE = {"doc_id", "att_id", "step_id", "receipt_id", "assignment_id", "circulation_id", "meeting_id",
           "invitation_id", "material_id", "recording_id", "item_id", "component_id", "run_id", "alert_id", "code"}
# Patterns anyone signed in may reach whatever they hold (the directory is public within the suite).
PUBLIC_UNITS = {"unit_id"}
REFUSED = {401, 403, 404, 405}


def patterns(resolver=None, prefix=""):
    """(route, name) for every URL pattern, nested includes and the API's operations included."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def fill(route, ids):
    names = [m.group("name") for m in PARAM.finditer(route)]
    missing = [n for n in names if n not in ids]
    if missing:
        return None, names, missing
    path = "/" + PARAM.sub(lambda m: str(ids[m.group("name")]), route)
    return path.replace("^", "").replace("$", "").replace("\\", ""), names, []


def _variants(route, world):
    """The route filled with the dispatched document's objects, and where a document is named, also with
    the draft's (whose attachment and steps the other ids name)."""
    yield fill(route, world)
    if "<doc_id>" in route or ":doc_id>" in route:
        yield fill(route, {**world, "doc_id": world["_draft_id"]})


def _readable(body, content_type):
    """The body as text, JSON's \\u escapes undone (titles must be found however they are encoded)."""
    text = body.decode("utf-8", errors="replace")
    if content_type.startswith("application/json"):
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def _login_redirect(response):
    return response.status_code in (301, 302, 303) and "/login/" in response.get("Location", "")


def test_it_refuses_every_pattern_to_outsiders_village_cadres_and_anonymous_visitors(units, seed_small):
    people = seed_small[1]
    world = build_world(units, people)
    before = snapshot()
    clients = {"anonymous": Client()}
    for name in ("outsider", "village_cadre"):
        clients[name] = Client()
        clients[name].force_login(people[name])
    for c in clients.values():
        c.raise_request_exception = False

    unfillable, problems, checked, seen = [], [], 0, set()
    for route, name in patterns():
        for path, params, missing in _variants(route, world):
            if missing:
                unfillable.append(f"{route} ({name}): {', '.join(missing)}")
                continue
            if path in seen:  # one API path serves several operations (GET and PATCH…)
                continue
            seen.add(path)
            private = bool(PRIVATE & set(params))
            for who, client in clients.items():
                for method in METHODS:
                    r = getattr(client, method)(path)
                    checked += 1
                    if name == "logout" and who != "anonymous":  # the walk signed this persona out
                        client.force_login(people[who])
                    body = b"".join(r.streaming_content) if getattr(r, "streaming", False) else r.content
                    text = _readable(body, r.get("Content-Type", ""))
                    where = f"{method.upper()} {path} as {who}: {r.status_code}"
                    if r.status_code >= 500:
                        problems.append(f"{where} (server error)")
                    leaked = [s for s in SECRETS if s in text]
                    if leaked:
                        problems.append(f"{where} shows {leaked}")
                    if who == "anonymous" and not (r.status_code in REFUSED or _login_redirect(r)) \
                            and path.startswith(("/api/", "/documents/", "/meetings/", "/directory/", "/me/")) \
                            and not path.startswith(("/api/openapi.json", "/api/docs", "/documents/files/verify",
                                                     "/api/documents/files/verify")):
                        problems.append(f"{where} (not refused to an anonymous visitor)")
                    if private and who != "anonymous" and method == "get" and r.status_code not in REFUSED:
                        problems.append(f"{where} (another unit's object not refused)")
                    if private and method != "get" and 200 <= r.status_code < 300:
                        problems.append(f"{where} (a write on another unit's object accepted)")
    assert not unfillable, "patterns this test cannot fill (add their parameter to tests/trust_world.py):\n" + \
        "\n".join(unfillable)
    assert not problems, f"{len(problems)} of {checked} requests:\n" + "\n".join(problems[:60])
    assert snapshot() == before
    assert checked > 1000
