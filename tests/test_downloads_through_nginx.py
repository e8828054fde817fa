"""Large downloads through nginx (deploy/nginx/yiwangtong.conf) in front of daphne: a recording and
an archive export answer Range requests with 206 and exactly the asked bytes, only after the
permission check, and daphne never holds the file in memory — also for a client that reads slowly."""
import hashlib
import http.client
import io
import json
import random
import socket
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import free_port
from tests.multihost import start_nginx
from tests.test_events_multiprocess import Browser

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024


@pytest.fixture(scope="module")
def nginx(server_factory, tmp_path_factory):
    server = server_factory()
    port = free_port()
    root = tmp_path_factory.mktemp("nginx")
    proc, _log = start_nginx(root / "nginx", [f"127.0.0.1:{server.port}"], port, root / "static")
    front = SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port, daphne=server)
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(front.url + "/login/", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield front
    proc.terminate()
    proc.wait(10)


def fetch(browser, path, *, headers=None, method="GET", body=None):
    request = urllib.request.Request(browser.server.url + path, headers=headers or {}, method=method, data=body)
    try:
        with browser.opener.open(request, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def status(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def slow_download(front, path, cookie, *, rate=8 * MB):
    """GET through nginx reading at about `rate` bytes/s with a small receive buffer (a village
    line); returns (status, sha256 of the body, length)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect(("127.0.0.1", front.port))
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=60)
    conn.sock = sock
    conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
    response = conn.getresponse()
    h, n, started = hashlib.sha256(), 0, time.monotonic()
    while chunk := response.read(64 * 1024):
        h.update(chunk)
        n += len(chunk)
        ahead = n / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    conn.close()
    return response.status, h.hexdigest(), n


def test_it_serves_ranges_of_a_recording_through_nginx_after_the_permission_check_without_holding_it(
        nginx, settings, county_secretary, village_cadre, outsider, units):
    from meetings.actions import do_participant_joined, do_recording_saved, recording_path
    from tests.meetings_support import schedule

    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id], record=True)
    do_participant_joined(county_secretary, meeting, "video")
    path = recording_path(meeting)
    data = random.Random(13).randbytes(40 * MB)  # an hour of a small meeting is hundreds of MB
    Path(path).write_bytes(data)
    recording = do_recording_saved(meeting.id, path, duration_seconds=60.0, person=county_secretary.id)
    url = f"/meetings/{meeting.id}/recordings/{recording.id}/file"

    viewer = Browser(nginx).login(village_cadre.username)
    code, headers, body = fetch(viewer, url, headers={"Range": "bytes=1000000-1000999"})
    assert code == 206 and body == data[1000000:1001000]
    assert headers["Content-Range"] == f"bytes 1000000-1000999/{len(data)}" and headers["Content-Length"] == "1000"
    code, headers, body = fetch(viewer, url, headers={"Range": "bytes=-4096"})  # the player reads the end first
    assert code == 206 and body == data[-4096:]
    code, headers, body = fetch(viewer, url, headers={"Range": f"bytes={len(data)}-"})
    assert code == 416 and headers["Content-Range"] == f"bytes */{len(data)}"

    # not invited: refused before a byte of the file, whatever the range
    stranger = Browser(nginx).login(outsider.username)
    code, _headers, body = fetch(stranger, url, headers={"Range": "bytes=1000000-1000999"})
    assert code in (403, 404) and data[1000000:1000100] not in body
    anonymous = Browser(nginx)
    code, _headers, body = fetch(anonymous, url, headers={"Range": "bytes=0-99"})
    assert code == 200 and b'id="id_username"' in body and data[:100] not in body  # the sign-in page

    # the whole file to a slow client: daphne's memory does not grow by the file
    pid = nginx.daphne.proc.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = status(pid, "VmRSS")
    code, digest, length = slow_download(nginx, url, viewer.cookie("sessionid"))
    assert code == 200 and length == len(data) and digest == hashlib.sha256(data).hexdigest()
    peak = status(pid, "VmHWM")
    assert peak - before < 12 * MB, f"daphne's peak grew by {(peak - before) / MB:.0f} MB for a {len(data) // MB} MB file"


def test_it_serves_ranges_of_an_archive_export_through_nginx_to_its_archivist_only(
        nginx, units, city_secretary, city_leader, archivist, county_secretary):
    from documents.archive import actions
    from tests.archive_support import filed_sent, with_fonds

    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于移交下载的通知", main=[units["秦都区"].id])
    item = actions.do_accept(person=archivist, item_id=item.id)
    payload = json.dumps({"fonds": "Z001", "year": item.year}).encode()

    keeper = Browser(nginx).login(archivist.username)
    post = {"Content-Type": "application/json", "X-CSRFToken": keeper.cookie("csrftoken")}
    code, headers, whole = fetch(keeper, "/api/documents/archive/export", method="POST", headers=post, body=payload)
    assert code == 200 and headers["Accept-Ranges"] == "bytes" and headers["Content-Length"] == str(len(whole))
    entries = zipfile.ZipFile(io.BytesIO(whole)).namelist()
    assert f"Z001-{item.year}/manifest-sm3.txt" in entries
    # the last 22 bytes of the zip: its end-of-central-directory record, naming every entry
    # (each export is made afresh, to the same bytes all day: see test_archive_transfer)
    code, headers, tail = fetch(keeper, "/api/documents/archive/export", method="POST",
                                headers={**post, "Range": "bytes=-22"}, body=payload)
    size = int(headers["Content-Range"].rsplit("/", 1)[1])
    assert code == 206 and headers["Content-Range"] == f"bytes {size - 22}-{size - 1}/{size}" and len(tail) == 22
    assert tail[:4] == b"PK\x05\x06" and int.from_bytes(tail[10:12], "little") == len(entries)
    code, headers, first = fetch(keeper, "/api/documents/archive/export", method="POST",
                                 headers={**post, "Range": "bytes=0-3"}, body=payload)
    assert code == 206 and first == b"PK\x03\x04"

    other = Browser(nginx).login(county_secretary.username)
    code, _headers, body = fetch(other, "/api/documents/archive/export", method="POST", body=payload,
                                 headers={"Content-Type": "application/json", "X-CSRFToken": other.cookie("csrftoken"),
                                          "Range": "bytes=1000-"})
    assert code == 403 and not body.startswith(b"PK")
