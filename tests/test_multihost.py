"""The suite on three hosts (network namespaces), deployed from deploy/ and reached through nginx.

A services host runs its own PostgreSQL, Redis and SeaweedFS; two application hosts run two
daphne units and one SFU worker unit each (deploy/systemd, env from deploy/env.template); nginx
(deploy/nginx/yiwangtong.conf) balances HTTP and websockets across the four daphnes.
"""
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.multihost import Cluster
from tests.sfu_support import close_peers, joined, ws_peer
from tests.test_events_multiprocess import Browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("multihost")).start()
    yield c
    c.close()


def sql(cluster, query):
    out = subprocess.run(["psql", "-h", cluster.hosts["svc"], "-U", "postgres", "-d", "yiwangtong", "-qAtc", query],
                         check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    return out.splitlines()


def get(browser, path):
    try:
        with browser.opener.open(browser.server.url + path, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def events_until(sockets, predicate, timeout=20):
    """Read each socket until a frame satisfies predicate → (sockets that got one, sockets found closed)."""
    got, closed = set(), set()
    deadline = time.monotonic() + timeout
    for i, ws in enumerate(sockets):
        while time.monotonic() < deadline:
            try:
                frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
            except ConnectionClosed:
                closed.add(i)
                break
            if predicate(frame):
                got.add(i)
                break
    return got, closed


def test_it_runs_the_whole_document_trip_through_nginx_on_two_hosts_and_survives_a_killed_daphne(cluster):
    (qindu,) = sql(cluster, "SELECT id FROM office_unit WHERE code='610402000000'")
    (leader_post,) = sql(cluster, "SELECT p.id FROM office_post p JOIN office_person u ON u.id=p.person_id "
                                  "WHERE u.username='city_leader'")
    secretary = Browser(cluster).login("city_secretary")
    leader = Browser(cluster).login("city_leader")
    county = Browser(cluster).login("county_secretary")
    # the county's secretary has the inbox open: four sockets, one through nginx to each daphne
    sockets = [county.websocket() for _ in range(4)]

    status, body = secretary.post_json("/api/documents/", {
        "title": "关于做好冬季防火工作的通知", "doc_type": "通知", "main": [int(qindu)],
        "body": [{"kind": "p", "text": "各区县人民政府：现就做好冬季防火工作通知如下。"}]})
    assert status == 201, body
    doc = body["id"]
    status, body = secretary.post_json(f"/api/documents/{doc}/submit", {"signers": [int(leader_post)]})
    assert status == 200, body

    # one daphne dies in the middle of the trip: nginx passes everything to the other three
    victim = cluster.daphnes[0]
    cluster.kill(victim)
    # the page whose socket was on it reconnects through nginx and lands on a live daphne
    reconnected = county.websocket()
    sockets.append(reconnected)
    (step,) = sql(cluster, f"SELECT id FROM documents_step WHERE document_id={doc} AND state='pending' ORDER BY round, \"order\" LIMIT 1")
    status, body = leader.post_json(f"/api/documents/steps/{step}/decide", {"decision": "agree", "opinion": "同意"})
    assert status == 200, body
    status, body = secretary.post_json(f"/api/documents/{doc}/register", {})
    assert status == 200 and body["number"], body
    status, body = secretary.post_json(f"/api/documents/{doc}/dispatch", {})
    assert status == 200 and body["recipients"] >= 1, body

    # the dispatch event reaches every open socket of the county's, on both hosts
    got, closed = events_until(sockets, lambda f: f.get("type") == "documents")
    assert len(closed) <= 1 and len(got) + len(closed) == len(sockets), (got, closed)
    assert 4 not in closed and 4 in got  # the reconnected page hears it too

    # 用印 on whichever daphne; the sealed PDF is in the bucket and downloads through any other
    (unit,) = sql(cluster, f"SELECT unit_id FROM documents_document WHERE id={doc}")
    status, body = secretary.post_json(f"/api/documents/files/seals/{unit}", {})
    assert status == 201, body
    status, body = secretary.post_json(f"/api/documents/files/{doc}/seal", {})
    assert status == 200 and body["sealed"] is True, body
    pdfs = [get(secretary, f"/api/documents/files/{doc}/pdf") for _ in range(3)]
    assert all(s == 200 and h.get("X-Document-Sealed") == "1" for s, h, _ in pdfs)
    assert len({data for _, _, data in pdfs}) == 1
    objects = cluster.seaweed.client().list_objects_v2(Bucket="yiwangtong", Prefix=f"documents/{doc}/")
    (issued,) = sql(cluster, "SELECT coalesce(nullif(blob, ''), name) FROM office_storedfile "
                             f"WHERE name='documents/{doc}/issued.pdf'")
    assert issued in [o["Key"] for o in objects["Contents"]]

    # the county signs for it, registers it and finishes it (办结)
    with county.opener.open(cluster.url + "/api/documents/inbox", timeout=30) as r:
        rows = json.loads(r.read())
    rows = rows.get("items", rows) if isinstance(rows, dict) else rows
    receipt = next(row["receipt_id"] for row in rows if row["document_id"] == doc)
    for step_path, payload in (("sign", {}), ("register", {}), ("finish", {"note": "已落实"})):
        status, body = county.post_json(f"/api/documents/receipts/{receipt}/{step_path}", payload)
        assert status == 200, (step_path, body)
    (state,) = sql(cluster, f"SELECT state FROM documents_receipt WHERE id={receipt}")
    assert state == "done"

    # nothing was lost or answered with an error, and both hosts served the trip
    time.sleep(0.5)
    for ws in sockets:
        ws.close()
    used = cluster.upstreams_of(r"/api/documents")
    assert {u.split(":")[0] for u in used} == {cluster.hosts["app1"], cluster.hosts["app2"]}
    log = cluster.access_log.read_text()
    assert " 502 " not in log and " 500 " not in log
    after_kill = cluster.upstreams_of(r"/api/documents/steps/")
    assert victim.upstream not in after_kill[-1:]


async def nginx_peer(cluster, browser, meeting_id, name, **kw):
    """An aiortc participant whose signalling websocket goes through nginx to whichever daphne."""
    return await ws_peer(f"{cluster.url.replace('http://', 'ws://')}/ws/meetings/{meeting_id}/",
                         browser.cookie("sessionid"), name, origin=cluster.url, open_timeout=20,
                         hello_timeout=15, **kw)


def udp_sockets(unit):
    """UDP sockets in the unit's host namespace (only an SFU worker holding a room has any)."""
    lines = Path(f"/proc/{unit.proc.pid}/net/udp").read_text().splitlines()[1:]
    lines += Path(f"/proc/{unit.proc.pid}/net/udp6").read_text().splitlines()[1:]
    return len(lines)


async def meeting_with_media(cluster, host, town, meeting_id):
    from tests.sfu_peers import wait_until

    presenter = await nginx_peer(cluster, host, meeting_id, "host", camera=True, mic=True)
    viewer = await nginx_peer(cluster, town, meeting_id, "town")
    await presenter.send({"type": "join"})
    await viewer.send({"type": "join"})
    await presenter.wait_for(lambda m: m.get("type") == "joined", 30)
    await viewer.wait_for(lambda m: m.get("type") == "joined", 30)
    await presenter.publish()
    assert await wait_until(lambda: bool(viewer.video_by(presenter.session)
                                         and viewer.video_by(presenter.session).good >= 20), 40), \
        "the viewer got no video through the SFU worker"
    return presenter, viewer


async def test_it_holds_a_meeting_across_hosts_records_it_and_places_the_room_again_when_a_worker_dies(cluster):
    import asyncio
    import datetime

    host = Browser(cluster).login("county_secretary")
    town = Browser(cluster).login("town_secretary")
    (town_id,) = sql(cluster, "SELECT id FROM office_person WHERE username='town_secretary'")
    now = datetime.datetime.now(datetime.timezone.utc)
    status, body = await asyncio.to_thread(host.post_json, "/api/meetings/", {
        "title": "跨主机视频会议", "starts_at": now.isoformat(), "ends_at": (now + datetime.timedelta(hours=1)).isoformat(),
        "person_ids": [int(town_id)], "record": True})
    assert status == 201, body
    meeting = body["id"]

    presenter, viewer = await meeting_with_media(cluster, host, town, meeting)
    # record on the room's worker; the file goes to the bucket and plays through nginx from any daphne
    status, body = await asyncio.to_thread(host.post_json, f"/api/meetings/{meeting}/host", {"command": "record_start"})
    assert status == 200, body
    await asyncio.sleep(4)
    status, body = await asyncio.to_thread(host.post_json, f"/api/meetings/{meeting}/host", {"command": "record_stop"})
    assert status == 200, body
    rows = []
    for _ in range(60):
        _s, _h, raw = await asyncio.to_thread(get, town, f"/api/meetings/{meeting}/recordings")
        rows = json.loads(raw)
        if rows:
            break
        await asyncio.sleep(0.5)
    assert rows, "no recording was listed"
    played = [await asyncio.to_thread(get, town, rows[0]["file_url"]) for _ in range(3)]
    assert all(s == 200 and data[:4] == b"\x1a\x45\xdf\xa3" for s, _, data in played)  # WebM
    # a seek: the byte range comes from the bucket through nginx and a daphne, after the permission check
    whole = played[0][2]

    def ranged(browser):
        request = urllib.request.Request(cluster.url + rows[0]["file_url"], headers={"Range": "bytes=100-1123"})
        try:
            with browser.opener.open(request, timeout=30) as r:
                return r.status, r.headers.get("Content-Range"), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, None, exc.read()

    assert await asyncio.to_thread(ranged, town) == (206, f"bytes 100-1123/{len(whole)}", whole[100:1124])
    stranger = Browser(cluster).login("outsider")
    status, _range, body = await asyncio.to_thread(ranged, stranger)
    assert status in (403, 404) and whole[100:1124] not in body
    await asyncio.sleep(0.3)
    served_by = {u.split(":")[0] for u in cluster.upstreams_of(rf"/recordings/{rows[0]['id']}/file")}
    assert served_by == {cluster.hosts["app1"], cluster.hosts["app2"]}  # played through both hosts
    objects = cluster.seaweed.client().list_objects_v2(Bucket="yiwangtong", Prefix=f"meetings/{meeting}/recordings/")
    assert objects.get("KeyCount", 0) == 1

    # the worker holding the room dies with its host's process: the room is placed on the other
    # host's worker and the participants rejoin there
    holding = [w for w in cluster.workers if udp_sockets(w)]
    assert len(holding) == 1, "the room should run on exactly one worker"
    cluster.kill(holding[0])
    await close_peers(presenter, viewer)
    presenter, viewer = await meeting_with_media(cluster, host, town, meeting)
    survivor = next(w for w in cluster.workers if w is not holding[0])
    assert udp_sockets(survivor)
    await close_peers(presenter, viewer)

    await asyncio.sleep(0.5)
    # the participants' signalling went through nginx to more than one daphne
    assert len(set(cluster.upstreams_of(rf"/ws/meetings/{meeting}/"))) >= 2


def tcp_peers(unit):
    """Addresses that the unit's host namespace has established TCP connections with."""
    import ipaddress

    peers = set()
    for line in Path(f"/proc/{unit.proc.pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01":  # ESTABLISHED
            remote = fields[2].split(":")[0]
            peers.add(str(ipaddress.IPv4Address(int(remote, 16).to_bytes(4, "little"))))
    return peers


async def test_it_trains_across_two_hosts_and_moves_the_viewers_of_a_worker_that_dies(cluster):
    """SFU_PLACEMENT=viewer on two hosts: a training room spans an SFU worker on each (joined by a
    pipe between the hosts), viewers on both see the publisher, a presenter handover reaches
    everyone, and when one host's worker is killed its viewers are moved to the other within
    seconds while that worker's own viewers keep receiving frames without a break."""
    import asyncio
    import datetime

    from tests.sfu_peers import wait_until

    # a training deployment beside the meeting one (its own channel prefix): a worker unit on each
    # app host and a daphne for its signalling, all with SFU_PLACEMENT=viewer
    training = {"SFU_PLACEMENT": "viewer", "YW_CHANNEL_PREFIX": "ywtraining"}
    workers = {w.channel: w for w in (cluster.start_worker(host, 2, training) for host in ("app1", "app2"))}
    entry = cluster.start_daphne("app1", 8003, {**training, "ALLOWED_HOSTS": f"127.0.0.1,{cluster.hosts['app1']}"})
    names = ["county_secretary", "town_secretary", "village_cadre", "village_cadre2", "county_handler"]
    browsers = {n: Browser(cluster).login(n) for n in names}
    ids = dict(line.split("|") for line in sql(cluster, "SELECT username, id FROM office_person WHERE username IN (%s)"
                                               % ",".join(f"'{n}'" for n in names)))
    now = datetime.datetime.now(datetime.timezone.utc)
    status, body = await asyncio.to_thread(browsers[names[0]].post_json, "/api/meetings/", {
        "title": "全市村干部培训", "starts_at": now.isoformat(), "ends_at": (now + datetime.timedelta(hours=1)).isoformat(),
        "person_ids": [int(ids[n]) for n in names[1:]]})
    assert status == 201, body
    url = f"ws://{entry.upstream}/ws/meetings/{body['id']}/"

    async def join(name, **kw):
        peer = await ws_peer(url, browsers[name].cookie("sessionid"), name, origin=f"http://{entry.upstream}",
                             open_timeout=20, hello_timeout=15, **kw)
        await peer.send({"type": "join"})
        return peer, await joined(peer)

    def sees(peer, n):
        stats = peer.video_by(publisher.session)
        return bool(stats and stats.good >= n)

    await asyncio.sleep(1.5)  # both workers have reported their load
    publisher, home = await join(names[0], camera=True, mic=True, width=320, height=240)
    await publisher.publish()
    viewers = {}
    peers = [publisher]
    try:
        for name in names[1:]:
            await asyncio.sleep(1.2)  # a heartbeat: the load the next placement sees
            peer, server = await join(name)
            peers.append(peer)
            viewers[name] = (peer, server)
        assert set(workers) == {home} | {s for _, s in viewers.values()}, "both hosts' workers serve the room"
        far = [p for p, s in viewers.values() if s != home]
        near = [p for p, s in viewers.values() if s == home]
        assert far and near
        for peer in far + near:  # every viewer, on either host, decodes the publisher
            assert await wait_until(lambda: sees(peer, 20), 40), peer.name
        # the far host's worker gets the publisher's media over a pipe from the publisher's host
        victim = workers[next(s for _, s in viewers.values() if s != home)]
        assert workers[home].address in tcp_peers(victim)

        # a presenter handover by the host reaches viewers on both hosts
        target = int(ids[names[1]])
        await publisher.send({"type": "host", "action": "present", "target": target})
        for peer in far + near:
            await peer.wait_for(lambda m: m.get("type") == "presenter" and m.get("person") == target, 10)

        # the far host's worker dies: its viewers are moved to the publisher's host within seconds,
        # and the viewers already there keep receiving frames without a break
        watched = [p.video_by(publisher.session) for p in near]
        before = [s.good for s in watched]
        for s in watched:
            s.longest_gap = 0.0
        killed_at = time.monotonic()
        cluster.kill(victim)
        for peer in far:
            await asyncio.wait_for(peer.ws.wait_closed(), 15)
            assert peer.ws.close_code == 4503, (peer.name, peer.ws.close_code)
        again = []
        for peer in far:
            moved, server = await join(peer.name)
            peers.append(moved)
            again.append(moved)
            assert server == home
        for peer in again:
            assert await wait_until(lambda: sees(peer, 10), 20), peer.name
        back_after = time.monotonic() - killed_at
        assert back_after < 15, f"video again only after {back_after:.1f} s"
        for stats, count in zip(watched, before):
            assert stats.good - count >= 20 * back_after, (stats.good - count, back_after)
            assert stats.longest_gap < 1.0, f"a break of {stats.longest_gap:.2f} s on the surviving host"
    finally:
        await close_peers(*peers)
    log = "".join(w.log.read_text(errors="replace") for w in workers.values() if w is not victim)
    assert "Traceback" not in log
