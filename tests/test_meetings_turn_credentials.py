"""Each signed-in participant gets TURN credentials of their own, valid for a while (coturn's
use-auth-secret scheme), with UDP, TCP and TLS relay URLs; a real coturn (started here on
loopback) grants a relay with them, and refuses them once expired or for another secret."""
import asyncio
import base64
import hashlib
import hmac
import time

import pytest
from aioice import turn as aioice_turn

from meetings.sfu.turn import credentials
from tests.coturn import Coturn

SECRET = "village-training-secret"
URLS = ["turn:turn.example.gov.cn:3478?transport=udp", "turn:turn.example.gov.cn:3478?transport=tcp",
        "turns:turn.example.gov.cn:443?transport=tcp"]


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    with Coturn("127.0.0.1", SECRET, tmp_path_factory.mktemp("coturn"), loopback_peers=True) as port:
        yield port


def test_it_makes_coturn_rest_api_credentials():
    username, password = credentials(SECRET, 42, 3600, now=1_800_000_000)
    assert username == "1800003600:42"
    assert password == base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()


@pytest.mark.django_db
def test_it_hands_each_signed_in_person_time_limited_credentials(settings, town_secretary, village_cadre):
    settings.TURN_URLS, settings.TURN_SECRET, settings.TURN_CREDENTIAL_TTL = URLS, SECRET, 3600
    from meetings.api import ice_servers

    [town] = [s for s in ice_servers(town_secretary) if "username" in s]
    [village] = [s for s in ice_servers(village_cadre) if "username" in s]
    assert town["urls"] == URLS  # UDP, TCP and TLS on 443
    expiry, who = town["username"].split(":")
    assert who == str(town_secretary.id) and 3500 < int(expiry) - time.time() <= 3600
    assert town["credential"] != village["credential"]
    from meetings.sfu.worker import ice_servers as sfu_ice

    assert all("username" not in s for s in sfu_ice())  # the SFU itself asks no relay


async def allocate(port, username, password, transport="udp"):
    transport_, protocol = await aioice_turn.create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=("127.0.0.1", port), username=username,
        password=password, transport=transport)
    try:
        return transport_.get_extra_info("sockname")
    finally:
        transport_.close()


@pytest.mark.asyncio
async def test_coturn_grants_a_relay_for_fresh_credentials_only(coturn):
    username, password = credentials(SECRET, 7, 600)
    for transport in ("udp", "tcp"):
        relayed = await asyncio.wait_for(allocate(coturn, username, password, transport), 10)
        assert relayed[0] == "127.0.0.1"
    expired = credentials(SECRET, 7, -60)
    with pytest.raises(Exception):
        await asyncio.wait_for(allocate(coturn, *expired), 10)
    forged = credentials("another-secret", 7, 600)
    with pytest.raises(Exception):
        await asyncio.wait_for(allocate(coturn, *forged), 10)
