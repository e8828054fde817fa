"""schemathesis against the suite's own OpenAPI schema, as a signed-in county secretary: every operation
with positive and negative data, path parameters drawn from real objects as often as from thin air;
then a stateful phase that follows the links schemathesis infers between operations (an id a create
answers with is read, changed, acted on by the next operations). No answer may be a 5xx, and every 4xx
carries a JSON body with a message in Chinese. A second stateful phase, written here, makes drafts and
meetings and reads, changes, submits, chats in and cancels them in any order with fuzzed text, checking
that what a change was accepted with is what is read back.

Depth is explicit, not left to the machine's load: each operation has a number of examples to run
(YW_FUZZ_READS for the reads, default 200; YW_FUZZ_WRITES for the writes, default 100; YW_FUZZ_HEAVY
for operations that render or sign files, default 50) and the test fails if any operation ran fewer
than YW_FUZZ_FLOOR (default 50) — unless its whole input space is smaller, which is reported. Time is
bounded: beyond the floor, an operation stops at its share of YW_FUZZ_SECONDS (default 200). The
examples run per operation are printed (pytest -s, or in the report of a failure)."""
import json
import os
import re
import time
from urllib.parse import urlencode

import pytest
import requests
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, multiple, rule, run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.core.transport import Response

from tests.trust_world import build_world

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
BUDGET = float(os.environ.get("YW_FUZZ_SECONDS", "200"))
TARGET = {"read": int(os.environ.get("YW_FUZZ_READS", "200")),
          "write": int(os.environ.get("YW_FUZZ_WRITES", "100")),
          "heavy": int(os.environ.get("YW_FUZZ_HEAVY", "50"))}
FLOOR = int(os.environ.get("YW_FUZZ_FLOOR", "50"))
NO_INPUTS = 5  # an operation without parameters or body: the same request again proves nothing more
STATEFUL_SCENARIOS = int(os.environ.get("YW_FUZZ_SCENARIOS", "15"))
LIFECYCLES = int(os.environ.get("YW_FUZZ_LIFECYCLES", "30"))
# Operations that render, sign, convert or package files: a few hundred milliseconds each.
HEAVY = re.compile(r"/(pdf|ofd|docx|seal|tracking\.pdf|metadata\.xml|verify|import-docx|export|check)$|/seals/")


def _operations(client):
    raw = client.get("/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    return schema, [result.ok() for result in schema.get_all_operations()]


def kind_of(operation):
    if HEAVY.search(operation.path):
        return "heavy"
    return "read" if operation.method.upper() == "GET" else "write"


def has_inputs(operation):
    """Whether the operation takes anything a fuzzer can vary (else its input space is one request)."""
    parameters = [*operation.path_parameters, *operation.query, *operation.headers]  # (the cookie is the session)
    return bool(parameters) or bool(list(operation.body))


def _request(client, case):
    path = case.formatted_path
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    if query:
        path += "?" + urlencode(query, doseq=True)
    method = case.method.lower()
    body = case.body
    if isinstance(body, schemathesis.core.NotSet) or body is None:
        return client.generic(method.upper(), path)
    if case.media_type and case.media_type.startswith("multipart/"):
        data = {}
        for key, value in (body if isinstance(body, dict) else {}).items():
            if value is None:
                continue
            if isinstance(value, (bytes, bytearray)):
                value = SimpleUploadedFile(f"{key}.bin", bytes(value))
            elif not isinstance(value, str):
                value = json.dumps(value)
            data[key] = value
        return client.post(path, data) if method == "post" else client.generic(method.upper(), path)
    try:
        payload = json.dumps(body)
    except (TypeError, ValueError):
        payload = str(body)
    return client.generic(method.upper(), path, payload, content_type=case.media_type or "application/json")


def _check(case, response, problems):
    where = f"{case.method} {case.formatted_path} query={case.query!r} body={str(case.body)[:200]!r}"
    if response.status_code >= 500:
        problems.append(f"{where}: {response.status_code}")
        return
    if 400 <= response.status_code < 500:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if not isinstance(detail, str) or not CJK.search(detail):
            problems.append(f"{where}: {response.status_code} without a Chinese JSON message: {response.content[:200]!r}")


def _response(case, django_response):
    """The Django test client's answer as schemathesis' Response, for the state machine's links."""
    headers = {}
    for name, value in django_response.items():
        headers.setdefault(name.lower(), []).append(value)
    content = b"".join(django_response.streaming_content) if getattr(django_response, "streaming", False) \
        else django_response.content
    return Response(status_code=django_response.status_code, headers=headers, content=content,
                    request=requests.Request(method=case.method, url=f"http://testserver{case.formatted_path}").prepare(),
                    elapsed=0.0, verify=False)


def _fuzz_operations(client, operations, real, problems):
    """Every operation to its target depth; returns {operation: (examples run, target, kind)}."""
    started = time.monotonic()
    counts = {}
    for n, operation in enumerate(operations):
        kind, inputs = kind_of(operation), has_inputs(operation)
        target = TARGET[kind] if inputs else NO_INPUTS
        spent = time.monotonic() - started
        share = max(0.0, BUDGET - spent) / (len(operations) - n)
        stop_at = time.monotonic() + max(share, 1.0)
        names = [p.name for p in operation.path_parameters]
        fixed = st.sampled_from([{}, {k: real[k] for k in names if k in real}])
        strategy = st.one_of(
            fixed.flatmap(lambda f: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=f or None)),
            fixed.flatmap(lambda f: operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=f or None)),
        )
        ran = [0]

        class Enough(Exception):
            """Beyond the floor and past this operation's share of the time."""

        @settings(max_examples=target, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            if ran[0] >= min(FLOOR, target) and time.monotonic() > stop_at:
                raise Enough
            ran[0] += 1
            _check(case, _request(client, case), problems)

        began = time.monotonic()
        try:
            run()
        except Enough:
            pass
        counts[f"{operation.method.upper()} {operation.path}"] = (ran[0], target, kind, inputs,
                                                                 time.monotonic() - began)
    return counts, time.monotonic() - started


def _fuzz_stateful(schema, client, problems):
    """Scenarios along the inferred links; returns {operation: steps run}."""
    steps = {}
    machine = schema.as_state_machine()

    class Scenario(machine):
        def call(self, case, **kwargs):
            label = f"{case.method.upper()} {case.operation.path}"
            steps[label] = steps.get(label, 0) + 1
            answer = _request(client, case)
            _check(case, answer, problems)
            return _response(case, answer)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            pass  # checked in call(), collected rather than raised (no shrinking of long scenarios)

    Scenario.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=8, deadline=None,
                                   database=None, derandomize=True, phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck)))
    return steps


# Text as people and attackers type it: Chinese, control characters (NUL among them), long runs.
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["关于做好冬季防火工作的通知", "  议程  ", "=1+1", "<b>x</b>"]),
                 st.text(alphabet="秦都区会议通知\x00\t\u3000 ", min_size=1, max_size=80))


class Lifecycle(RuleBasedStateMachine):
    """Drafts and meetings made, read, changed, sent on and cancelled through the API with fuzzed
    text, in any order: no 5xx, Chinese 4xx, and what a change was accepted with is what is read back."""

    client = world = problems = steps = None  # set by _fuzz_lifecycles
    drafts = Bundle("drafts")
    meetings = Bundle("meetings")

    def call(self, method, path, body=None, **extra):
        label = method.upper() + " " + re.sub(r"/\d+", "/{id}", path)
        self.steps[label] = self.steps.get(label, 0) + 1
        if body is None:
            answer = self.client.generic(method.upper(), path, **extra)
        else:
            answer = self.client.generic(method.upper(), path, json.dumps(body), content_type="application/json")
        _check(_Said(method, path, body), answer, self.problems)
        return answer

    @rule(target=drafts, title=TEXT, paragraphs=st.lists(TEXT, max_size=3))
    def draft(self, title, paragraphs):
        answer = self.call("post", "/api/documents/", {
            "title": title, "doc_type": "通知", "main": [self.world["_town"]],
            "body": [{"kind": "p", "text": t} for t in paragraphs]})
        return answer.json()["id"] if answer.status_code == 201 else multiple()

    @rule(doc=drafts, title=TEXT)
    def retitle(self, doc, title):
        if self.call("patch", f"/api/documents/{doc}", {"title": title}).status_code == 200:
            shown = self.call("get", f"/api/documents/{doc}")
            if shown.status_code != 200 or shown.json()["title"] != title.strip():
                self.problems.append(f"PATCH /api/documents/{doc} title={title!r} accepted, then read back as "
                                     f"{shown.status_code} {shown.content[:200]!r}")

    @rule(doc=drafts)
    def read(self, doc):
        if self.call("get", f"/api/documents/{doc}").status_code != 200:
            self.problems.append(f"GET /api/documents/{doc}: a draft its drafter made is not shown")
        self.call("get", f"/api/documents/{doc}/tracking")

    @rule(doc=drafts, name=TEXT, data=st.binary(max_size=64))
    def attach(self, doc, name, data):
        upload = SimpleUploadedFile((name.replace("\x00", "") or "x")[:40] + ".txt", data, content_type="text/plain")
        answer = self.client.post(f"/api/documents/{doc}/attachments", {"file": upload})
        self.steps["POST /api/documents/{id}/attachments"] = self.steps.get("POST /api/documents/{id}/attachments", 0) + 1
        _check(_Said("post", f"/api/documents/{doc}/attachments", name), answer, self.problems)

    @rule(doc=drafts)
    def submit(self, doc):
        self.call("post", f"/api/documents/{doc}/submit", {})

    @rule(target=meetings, title=TEXT, start=st.integers(-120, 3000), length=st.integers(-30, 600))
    def schedule(self, title, start, length):
        import datetime as dt

        from django.utils import timezone

        begin = timezone.now() + dt.timedelta(minutes=start)
        answer = self.call("post", "/api/meetings/", {
            "title": title, "starts_at": begin.isoformat(), "ends_at": (begin + dt.timedelta(minutes=length)).isoformat(),
            "person_ids": [self.world["_town_secretary"]]})
        return answer.json()["id"] if answer.status_code == 201 else multiple()

    @rule(meeting=meetings, agenda=TEXT)
    def change(self, meeting, agenda):
        changed = self.call("patch", f"/api/meetings/{meeting}", {"agenda": agenda})
        if changed.status_code == 200:
            shown = self.call("get", f"/api/meetings/{meeting}")
            if shown.status_code != 200 or shown.json().get("agenda") != changed.json().get("agenda"):
                self.problems.append(f"PATCH /api/meetings/{meeting} agenda={agenda!r} answered "
                                     f"{changed.json().get('agenda')!r}, then read back as {shown.content[:200]!r}")

    @rule(meeting=meetings, text=TEXT)
    def chat(self, meeting, text):
        self.call("post", f"/api/meetings/{meeting}/chat", {"text": text})
        self.call("get", f"/api/meetings/{meeting}/chat")

    @rule(meeting=meetings)
    def cancel(self, meeting):
        self.call("post", f"/api/meetings/{meeting}/cancel")
        self.call("get", f"/api/meetings/{meeting}")


class _Said:
    """What _check() reports of a hand-made request."""

    def __init__(self, method, path, body):
        self.method, self.formatted_path, self.query, self.body = method.upper(), path, None, body


def _fuzz_lifecycles(client, world, problems):
    steps = {}

    class Run(Lifecycle):
        pass

    Run.client, Run.world, Run.problems, Run.steps = client, world, problems, steps
    run_state_machine_as_test(Run, settings=settings(max_examples=LIFECYCLES, stateful_step_count=12, deadline=None,
                                                     database=None, derandomize=True, phases=[Phase.generate],
                                                     suppress_health_check=list(HealthCheck)))
    return steps


def _table(counts):
    lines = [f"{'examples':>8} {'target':>6} {'s':>5}  {'kind':5}  operation"]
    for label, (ran, target, kind, inputs, seconds) in sorted(counts.items(), key=lambda item: (item[1][0], item[0])):
        note = "" if inputs else "  (no inputs: one request covers it)"
        lines.append(f"{ran:>8} {target:>6} {seconds:>5.1f}  {kind:5}  {label}{note}")
    return "\n".join(lines)


def test_it_answers_every_operation_without_a_5xx_and_with_chinese_errors(units, seed_small, client_for):
    people = seed_small[1]
    world = build_world(units, people)
    client = client_for(people["county_secretary"])
    client.raise_request_exception = False
    real = {name: value for name, value in world.items() if not name.startswith("_")}
    schema, operations = _operations(client)
    assert len(operations) > 60
    problems = []
    counts, seconds = _fuzz_operations(client, operations, real, problems)
    total = sum(ran for ran, *_rest in counts.values())
    print(f"\nschemathesis: {total} requests over {len(counts)} operations in {seconds:.0f} s\n" + _table(counts))

    started = time.monotonic()
    steps = _fuzz_stateful(schema, client, problems)
    print(f"stateful (schemathesis' inferred links): {sum(steps.values())} steps over {len(steps)} operations in "
          f"{time.monotonic() - started:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(steps.items())))
    started = time.monotonic()
    lived = _fuzz_lifecycles(client, world, problems)
    print(f"stateful (drafts and meetings): {sum(lived.values())} steps in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(lived.items())))

    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(sorted(set(problems))[:60])
    shallow = {label: ran for label, (ran, _target, _kind, inputs, _s) in counts.items() if ran < FLOOR and inputs}
    assert not shallow, f"operations fuzzed fewer than {FLOOR} times:\n{_table(counts)}"
    assert all(ran >= 1 for ran, *_rest in counts.values())
    # the stateful phases reached past the creating operations into the ones that use what they made
    assert len(steps) >= 10, steps
    assert all(lived.get(step, 0) >= 5 for step in ("PATCH /api/documents/{id}", "POST /api/documents/{id}/submit",
                                                     "PATCH /api/meetings/{id}", "POST /api/meetings/{id}/cancel")), lived
