"""Upload limits hold while the body streams in: over-limit uploads are refused with 413 and a Chinese
message, before the body is read where the server allows it, and the server's memory does not stay up."""
import http.client
import json
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from office.uploads import SCOPE_FLAG, BodyLimit

MB = 1024 * 1024


async def test_it_refuses_a_body_by_its_content_length_before_reading_it(settings):
    settings.YW_MAX_UPLOAD_BYTES = 50 * MB
    seen = {}

    async def app(scope, receive, send):
        seen["flag"] = scope.get(SCOPE_FLAG)
        seen["body"] = await receive()

    async def receive():
        raise AssertionError("the body was read")

    scope = {"type": "http", "headers": [(b"content-length", str(60 * MB).encode())]}
    await BodyLimit(app)(scope, receive, None)
    assert seen["flag"] is True and seen["body"]["body"] == b"" and not seen["body"]["more_body"]


async def test_it_cuts_a_chunked_body_off_at_the_limit(settings):
    settings.YW_MAX_UPLOAD_BYTES = 1024
    chunks = [{"type": "http.request", "body": b"x" * MB, "more_body": True} for _ in range(60)]
    asked = []

    async def receive():
        asked.append(1)
        return chunks.pop(0)

    async def app(scope, receive, send):
        while (await receive())["more_body"]:
            pass
        assert scope[SCOPE_FLAG] is True

    await BodyLimit(app)({"type": "http", "headers": []}, receive, None)
    assert len(asked) <= 3  # stopped at the limit, not after 60 MB


@pytest.mark.django_db
def test_it_stops_a_multipart_upload_over_the_limit_with_a_chinese_413(settings, client):
    settings.YW_MAX_UPLOAD_BYTES = MB
    client.raise_request_exception = False
    too_big = SimpleUploadedFile("大文件.pdf", b"%PDF-1.7\n" + b"0" * (3 * MB // 2), content_type="application/pdf")
    r = client.post("/api/documents/files/verify", {"file": too_big})
    assert r.status_code == 413 and "文件过大（最大1 MB）" in r.json()["detail"]
    too_big.seek(0)
    r = client.post("/documents/files/verify/", {"file": too_big})
    assert r.status_code == 413 and "文件过大（最大1 MB）" in r.content.decode()


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_60_mb_verify_upload_with_413_and_the_server_memory_does_not_stay_up(server_factory):
    server = server_factory()
    host, port = "127.0.0.1", server.port
    body = b"%PDF-1.7\n" + b"0" * (60 * MB)

    def post():
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.putrequest("POST", "/api/documents/files/verify")
        conn.putheader("Content-Type", "application/pdf")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            for i in range(0, len(body), MB):
                conn.send(body[i:i + MB])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        response = conn.getresponse()
        result = response.status, json.loads(response.read())
        conn.close()
        return result

    before = _rss_kb(server.proc.pid)
    for _ in range(2):
        status, payload = post()
        assert status == 413 and "文件过大" in payload["detail"]
    time.sleep(1)
    after = _rss_kb(server.proc.pid)
    assert after - before < 40 * 1024, f"daphne grew by {(after - before) / 1024:.0f} MB and stayed there"
