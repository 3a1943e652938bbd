"""The call card's hold, transfer and 3-way (``POST /api/calls/{attempt_id}/transfer``): who may, to whom, and
every refusal named. The transfers themselves run on the real PBX in tests/telephony/test_transfer.py and,
from the desk, in tests/browser/test_manual_call.py."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App, open_store
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.access.policy import Role
from dialer.settings import ConfigError, Settings
from dialer.store.handovers import HandoverStore
from dialer.telephony.calls import CallService
from dialer.telephony.transfer import Transfers
from tests.telephony.fakes import FakeAmi
from tests.web.conftest import CHEAP, Login


@pytest.fixture
async def dialer_app(settings: Settings, clock: VirtualClock) -> AsyncIterator[App]:
    """The store-only App with the transfer service over the scripted AMI (no call is live in it)."""
    async with open_store(settings, clock, password_cost=CHEAP) as app:
        fake = FakeAmi(clock)
        calls = CallService(ami_client=fake, attempts=app.attempts, settings=settings, clock=clock)
        transfers = Transfers(ami_client=fake, calls=calls, handovers=HandoverStore(app.db), clock=clock,  # type: ignore[arg-type]
                              ring_timeout_s=10.0)  # fmt: skip
        yield dataclasses.replace(app, calls=calls, transfers=transfers)


async def transfer(client: TestClient, login: Login, attempt_id: int, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post(f"/api/calls/{attempt_id}/transfer", json=body, headers=login.headers())
    return resp.status, json.loads(await resp.text())


async def test_every_refusal_says_why(client: TestClient, logins: dict[Role, Login], dialer_app: App) -> None:
    agent, supervisor = logins[Role.AGENT], logins[Role.SUPERVISOR]
    own = await dialer_app.attempts.get("call-own")  # agent1's call (tests/web/conftest.py)
    other = await dialer_app.attempts.get("call-other")  # agent2's
    assert own is not None and other is not None

    status, body = await transfer(client, agent, own.id, action="dance")
    assert (status, body["error"]) == (400, "invalid") and "action" in body["fields"]
    # Only a phone the card offers: never a number, never the trunk.
    for target in ("13800138000", "carrier", "agent1,carrier", ""):
        status, body = await transfer(client, agent, own.id, action="blind", target=target)
        assert (status, list(body["fields"])) == (400, ["target"]), target
    status, body = await transfer(client, agent, 999, action="hold")
    assert (status, body["error"]) == (404, "call_not_found")
    status, body = await transfer(client, agent, other.id, action="hold")
    assert (status, body["error"]) == (403, "not_own_call")
    # The showroom's phone ([calls] showroom_endpoint, default "showroom") is offered; the call is over.
    status, body = await transfer(client, agent, own.id, action="blind", target="showroom")
    assert (status, body["error"]) == (409, "not_live")
    status, body = await transfer(client, supervisor, other.id, action="hold")
    assert (status, body["error"]) == (409, "not_live")  # a supervisor may act on any call


async def test_a_transfer_target_that_is_no_phone_name_stops_the_config(tmp_path: Any) -> None:
    path = tmp_path / "dialer.toml"
    path.write_text('[calls]\nshowroom_endpoint = "+8613800138000"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"calls\.showroom_endpoint"):
        load(path, env={})
