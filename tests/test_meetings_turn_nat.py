"""Village networks: a viewer behind a NAT router (a network namespace with iptables MASQUERADE)
whose UDP to the SFU is blocked, and one whose UDP is blocked altogether, both receive the
presenter's video through coturn (started here) with the time-limited credentials the suite
hands to signed-in participants: relay candidates, over UDP to coturn in the first case and
TURN over TCP in the second.

Topology (all made and removed by the test; needs root, as CI has):
  host (daphne + embedded SFU + coturn on HOST) ── veth ── router ns (MASQUERADE, FORWARD rules)
  ── veth ── village ns (192.168.77.2, default route via the router)."""
import json
import os
import subprocess
import sys
import uuid

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import BASE_DIR
from tests.coturn import Coturn
from tests.sfu_support import close_peers, schedule, ws_peer

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = uuid.uuid4().hex


def run(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=20)


class VillageRouter:
    """A village LAN behind a NAT router, in two namespaces."""

    def __init__(self):
        pid = os.getpid()
        n = pid % 250 + 1
        self.router, self.village = f"yw-rt-{pid}", f"yw-vl-{pid}"
        self.host_if, self.wan_if = f"ywrh{pid}"[:15], f"ywrw{pid}"[:15]
        self.lan_if, self.vlan_if = f"ywrl{pid}"[:15], f"ywvl{pid}"[:15]
        self.host_address, self.wan_address = f"10.215.{n}.1", f"10.215.{n}.2"

    def create(self):
        for ns in (self.router, self.village):
            run("ip", "netns", "del", ns, check=False)
        run("ip", "link", "del", self.host_if, check=False)
        run("ip", "netns", "add", self.router)
        run("ip", "netns", "add", self.village)
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.wan_if)
        run("ip", "link", "set", self.wan_if, "netns", self.router)
        run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_if)
        run("ip", "link", "set", self.host_if, "up")
        run("ip", "link", "add", self.lan_if, "type", "veth", "peer", "name", self.vlan_if)
        run("ip", "link", "set", self.lan_if, "netns", self.router)
        run("ip", "link", "set", self.vlan_if, "netns", self.village)
        r, v = ("ip", "netns", "exec", self.router), ("ip", "netns", "exec", self.village)
        run(*r, "ip", "link", "set", "lo", "up")
        run(*r, "ip", "addr", "add", f"{self.wan_address}/30", "dev", self.wan_if)
        run(*r, "ip", "link", "set", self.wan_if, "up")
        run(*r, "ip", "addr", "add", "192.168.77.1/24", "dev", self.lan_if)
        run(*r, "ip", "link", "set", self.lan_if, "up")
        run(*r, "ip", "route", "add", "default", "via", self.host_address)
        run(*r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        run(*r, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", self.wan_if, "-j", "MASQUERADE")
        run(*v, "ip", "link", "set", "lo", "up")
        run(*v, "ip", "addr", "add", "192.168.77.2/24", "dev", self.vlan_if)
        run(*v, "ip", "link", "set", self.vlan_if, "up")
        run(*v, "ip", "route", "add", "default", "via", "192.168.77.1")
        return self

    def block_udp(self, except_port=None):
        """The router's FORWARD rules: all UDP dropped, but for ``except_port`` (coturn)."""
        r = ("ip", "netns", "exec", self.router)
        run(*r, "iptables", "-F", "FORWARD")
        if except_port:
            run(*r, "iptables", "-A", "FORWARD", "-p", "udp", "--dport", str(except_port), "-j", "ACCEPT")
            run(*r, "iptables", "-A", "FORWARD", "-p", "udp", "--sport", str(except_port), "-j", "ACCEPT")
        run(*r, "iptables", "-A", "FORWARD", "-p", "udp", "-j", "DROP")

    def close(self):
        run("ip", "link", "del", self.host_if, check=False)
        for ns in (self.router, self.village):
            run("ip", "netns", "del", ns, check=False)


@pytest.fixture(scope="module")
def village():
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs as root)")
    net = VillageRouter().create()
    yield net
    net.close()


@pytest.fixture(scope="module")
def coturn(village, tmp_path_factory):
    with Coturn(village.host_address, SECRET, tmp_path_factory.mktemp("coturn")) as port:
        yield port


@pytest.fixture
def server(village, coturn, server_factory, settings):
    urls = f"turn:{village.host_address}:{coturn}?transport=udp,turn:{village.host_address}:{coturn}?transport=tcp"
    # the same TURN settings here (the API call of the test client) as in the daphne process
    settings.TURN_URLS, settings.TURN_SECRET = urls.split(","), SECRET
    return server_factory({"TURN_URLS": urls, "TURN_SECRET": SECRET,
                           "ALLOWED_HOSTS": f"127.0.0.1,localhost,testserver,{village.host_address}"},
                          bind=village.host_address)


async def publish(server, client, meeting_id):
    peer = await ws_peer(f"ws://{server.bind}:{server.port}/ws/meetings/{meeting_id}/",
                         client.cookies["sessionid"].value, "presenter", camera=True)
    await peer.send({"type": "join"})
    await peer.wait_for(lambda m: m.get("type") == "joined", 15)
    await peer.publish()
    return peer


async def watch_from_the_village(village, server, client, meeting, person_id, publisher_id, prefer_tcp=False):
    """Start the viewer inside the village namespace with the ICE servers the API hands this
    person; its result line."""
    import asyncio

    response = await sync_to_async(client.post)(f"/api/meetings/{meeting.id}/join")
    assert response.status_code == 200, response.content
    ice = response.json()["ice_servers"]
    turn = next(s for s in ice if "username" in s)
    assert turn["username"].endswith(f":{person_id}")  # the person's own, time-limited credentials
    if prefer_tcp:  # aiortc tries only its first TURN URL; a browser would try them all
        turn["urls"] = sorted(turn["urls"], key=lambda u: "transport=tcp" not in u)
    cookie = client.cookies["sessionid"].value
    url = f"ws://{server.bind}:{server.port}/ws/meetings/{meeting.id}/"
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", village.village, sys.executable, str(BASE_DIR / "tests" / "turn_viewer.py"),
        url, cookie, json.dumps(ice), str(publisher_id), cwd=str(BASE_DIR),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return proc


async def result_of(proc):
    import asyncio

    out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    assert lines, err.decode()[-3000:]
    return json.loads(lines[-1])


@pytest.mark.asyncio
@pytest.mark.parametrize("blocked", ["udp_to_the_sfu", "all_udp"])
async def test_a_village_viewer_behind_nat_receives_video_through_coturn(
        village, coturn, server, seed_small, client_for, blocked):
    people = seed_small[1]
    host, cadre = people["county_secretary"], people["village_cadre"]
    meeting = await schedule(host, [cadre])
    presenter = await publish(server, await sync_to_async(client_for)(host), meeting.id)
    # the router lets only what the case allows through: UDP to coturn, or no UDP at all
    village.block_udp(except_port=coturn if blocked == "udp_to_the_sfu" else None)
    try:
        viewer = await watch_from_the_village(village, server, await sync_to_async(client_for)(cadre),
                                              meeting, cadre.id, host.id, prefer_tcp=blocked == "all_udp")
        result = await result_of(viewer)
        assert result["good"] >= 20, result  # the presenter's video, decoded in the village
        assert result["local"] == "relay", result  # through coturn
    finally:
        await close_peers(presenter)
