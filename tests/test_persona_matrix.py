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
           "invitation_id", "material_id", "recording_id", "item_id", "component_id", "run_id", "request_id",
           "disposal_id", "question_id", "alert_id", "code"}
# A unit id names a unit of the directory, which is public within the suite; what some routes show or
# change under it is the unit's own. Every route with a unit id is classified here by name (a new one
# fails the test until it is): the directory's routes, and the unit-private ones.
PUBLIC_UNIT_ROUTES = {"unit-detail", "unit"}
# Unit-private routes, by name, with the request data that names the county's own resource (its unit id
# in the path, its 全宗 in the query or the body): refused to the other personas, whatever the method.
UNIT_PRIVATE = {
    "unit_setting": {"json": {"request_with_reply": False}},  # the unit's archive settings
    "create_seal": {},  # making the unit's seal
    "seal_picture": {},  # the unit's seal picture
    "seals": {"form": {"unit": "{unit_id}"}},  # the seal page making a seal for a unit
    "seal-keepers": {},  # who keeps the unit's seal (and naming them)
    "admin-unit": {},  # the administration's page of a unit (administrators only)
    "admin-unit-children": {},
    "catalogue": {"query": {"fonds": "{_fonds}"}},  # a 全宗's 归档文件目录…
    "catalogue-pdf": {"query": {"fonds": "{_fonds}"}},
    "catalogue-xlsx": {"query": {"fonds": "{_fonds}"}},
    "statistics-pdf": {"query": {"fonds": "{_fonds}"}},
    "manage": {"query": {"fonds": "{_fonds}"}},  # …its 保管期限表, 鉴定 and 借阅
    "export": {"query": {"fonds": "{_fonds}"}, "form": {"fonds": "{_fonds}", "year": "{_year}"},
               "json": {"fonds": "{_fonds}", "year": "{_year}"}},  # its transfer package (page and API)
}
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


def _unit_routes(world):
    """(route, name) of every pattern whose path names a unit, and those not classified above."""
    named = [(route, name) for route, name in patterns()
             if "unit_id" in {m.group("name") for m in PARAM.finditer(route)}]
    unclassified = [f"{route} ({name})" for route, name in named
                    if name not in PUBLIC_UNIT_ROUTES and name not in UNIT_PRIVATE]
    return named, unclassified


def _scoped(spec, world):
    """The unit-private request data with the world's values put in."""
    def put(data):
        return {k: (v.format(**world) if isinstance(v, str) else v) for k, v in data.items()}

    return {kind: put(data) for kind, data in spec.items()}


def _names_unit(method, path, scope, params):
    """Whether this request names the county's own resource: by the unit id in its path, or by the
    data the route takes it in (a page's query or form, an operation's JSON body)."""
    if "unit_id" in params:
        return True
    if method == "get":
        return "query" in scope
    if path.startswith("/api/"):
        return "json" in scope
    return method == "post" and ("form" in scope or "query" in scope)


def _ask(client, method, path, scope):
    """One request; a unit-private route gets the data naming the county's resource."""
    if method == "get":
        return client.get(path, scope.get("query") or {})
    query = scope.get("query")
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    if "json" in scope and path.startswith("/api/"):
        return client.generic(method.upper(), target, json.dumps(scope["json"]), content_type="application/json")
    if "form" in scope and not path.startswith("/api/"):
        if method == "post":
            return client.post(target, scope["form"])
    return getattr(client, method)(target)


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

    unit_routes, unclassified = _unit_routes(world)
    unfillable, problems, checked, seen, private_checked = [], [], 0, set(), 0
    for route, name in patterns():
        for path, params, missing in _variants(route, world):
            if missing:
                unfillable.append(f"{route} ({name}): {', '.join(missing)}")
                continue
            if path in seen:  # one API path serves several operations (GET and PATCH…)
                continue
            seen.add(path)
            scope = _scoped(UNIT_PRIVATE[name], world) if name in UNIT_PRIVATE else {}
            private = bool(PRIVATE & set(params))
            for who, client in clients.items():
                for method in METHODS:
                    r = _ask(client, method, path, scope)
                    checked += 1
                    unit_private = name in UNIT_PRIVATE and _names_unit(method, path, scope, params)
                    private_checked += unit_private
                    if unit_private and who != "anonymous" and r.status_code not in REFUSED:
                        problems.append(f"{method.upper()} {path} {scope} as {who}: {r.status_code} "
                                        "(another unit's own resource not refused)")
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
    assert not unclassified, "routes naming a unit, neither public nor unit-private (classify them in " \
        "PUBLIC_UNIT_ROUTES or UNIT_PRIVATE):\n" + "\n".join(unclassified)
    assert {name for _route, name in unit_routes} >= {"unit_setting", "create_seal", "seal_picture"}
    assert private_checked >= len(UNIT_PRIVATE) * 2 * 3, private_checked  # each by two personas, several ways
    assert not unfillable, "patterns this test cannot fill (add their parameter to tests/trust_world.py):\n" + \
        "\n".join(unfillable)
    assert not problems, f"{len(problems)} of {checked} requests:\n" + "\n".join(problems[:60])
    assert snapshot() == before
    assert checked > 1000
