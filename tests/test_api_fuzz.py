"""schemathesis against the suite's own OpenAPI schema: every operation, positive and negative data,
path parameters drawn from real objects as often as from thin air, as a signed-in county secretary.
No answer may be a 5xx, and every 4xx carries a JSON body with a message in Chinese.

Bounded in time: YW_FUZZ_SECONDS (default 200) is shared out over the operations, up to
YW_FUZZ_EXAMPLES (default 300) examples each; each operation gets at least a few examples."""
import json
import os
import re
import time
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.trust_world import build_world

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
BUDGET = float(os.environ.get("YW_FUZZ_SECONDS", "200"))
MAX_EXAMPLES = int(os.environ.get("YW_FUZZ_EXAMPLES", "300"))
MIN_EXAMPLES = 5


def _operations(client):
    raw = client.get("/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    return [result.ok() for result in schema.get_all_operations()]


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


def test_it_answers_every_operation_without_a_5xx_and_with_chinese_errors(units, seed_small, client_for):
    people = seed_small[1]
    world = build_world(units, people)
    client = client_for(people["county_secretary"])
    client.raise_request_exception = False
    real = {name: value for name, value in world.items() if not name.startswith("_")}
    operations = _operations(client)
    assert len(operations) > 60
    started = time.monotonic()
    problems, counts, in_requests = [], {}, [0.0]
    for n, operation in enumerate(operations):
        spent = time.monotonic() - started
        left = max(0.0, BUDGET - spent)
        share = left / (len(operations) - n)
        per_example = spent / max(1, sum(counts.values())) if counts else 0.05
        examples = max(MIN_EXAMPLES, min(MAX_EXAMPLES, int(share / max(per_example, 0.001))))
        names = [p.name for p in operation.path_parameters]
        fixed = st.sampled_from([{}, {k: real[k] for k in names if k in real}])
        strategy = st.one_of(
            fixed.flatmap(lambda f: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=f or None)),
            fixed.flatmap(lambda f: operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=f or None)),
        )
        deadline = time.monotonic() + share * 1.5 + 2
        ran = [0]

        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            if time.monotonic() > deadline:
                return
            ran[0] += 1
            t0 = time.monotonic()
            _check(case, _request(client, case), problems)
            in_requests[0] += time.monotonic() - t0

        run()
        counts[f"{operation.method.upper()} {operation.path}"] = ran[0]
    total = sum(counts.values())
    print(f"\nschemathesis: {total} requests over {len(counts)} operations in {time.monotonic() - started:.0f} s "
          f"({in_requests[0]:.0f} s answering)")
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(sorted(set(problems))[:60])
    assert all(c >= 1 for c in counts.values()), [k for k, c in counts.items() if c < 1]
