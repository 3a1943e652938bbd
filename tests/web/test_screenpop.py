"""Screen pops: the inbound service's ScreenPop on the bus reaches the desk socket of that agent only."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import Outcome
from dialer.events.bus import BusEvent
from dialer.inbound.service import InboundCallEnded, ScreenPop
from dialer.web.keys import AUTH
from dialer.web.views_screenpop import addressed_to
from tests.web.conftest import COLLEAGUE, PASSWORD, Fixtures, Login

_WAIT_S = 10.0  # only bounds a hang, never measured


async def _next(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.receive_str(), _WAIT_S))


async def _second_agent(client: TestClient) -> Login:
    """agent2's login (the shared fixtures' colleague of the agent on agent1)."""
    new = await client.app[AUTH].login(COLLEAGUE[0], PASSWORD, "127.0.0.1")
    return Login(Role.AGENT, new.token, new.csrf)


def _pop(
    clock: VirtualClock, agent: str, call_id: str, lead_id: int | None, number: str | None, *, new_lead: bool = False
) -> ScreenPop:
    return ScreenPop(clock.now(), call_id, agent, number, lead_id, None, new_lead)


async def test_the_pop_reaches_the_answering_agent_only(client: TestClient, dialer_app: App, logins: dict[Role, Login],
                                                        data: Fixtures, clock: VirtualClock) -> None:  # fmt: skip
    other = await _second_agent(client)
    bus = dialer_app.bus
    async with client.ws_connect("/desk/ws", headers=logins[Role.AGENT].headers()) as mine, \
            client.ws_connect("/desk/ws", headers=other.headers()) as theirs:  # fmt: skip
        assert bus.publish(_pop(clock, "agent1", "in-1", data.own_lead, "+8613800138000")) == 2
        card = await _next(mine)
        assert card == {
            "type": "pop", "call_id": "in-1", "at": "2026-11-29T01:00:00.000000Z", "lead_id": data.own_lead, "name": "张三",
            "number": "+86138****8000", "new_lead": False, "source": "总部下发", "intent": None, "url": f"/leads/{data.own_lead}",
        }  # fmt: skip
        # Events reach each socket in order: agent2's first message being its own call proves agent1's never came.
        bus.publish(_pop(clock, "agent2", "in-2", data.other_lead, "+8613900139000"))
        assert (await _next(theirs))["call_id"] == "in-2"
        bus.publish(InboundCallEnded(clock.now(), "in-2", "agent2", Outcome.ANSWERED, data.other_lead))
        bus.publish(InboundCallEnded(clock.now(), "in-1", "agent1", Outcome.ANSWERED, data.own_lead))
        assert await _next(mine) == {
            "type": "ended",
            "call_id": "in-1",
            "at": "2026-11-29T01:00:00.000000Z",
            "outcome": "answered",
        }
        assert (await _next(theirs))["type"] == "ended"


async def test_a_withheld_number_pops_a_card_without_a_lead(client: TestClient, dialer_app: App, logins: dict[Role, Login],
                                                            clock: VirtualClock) -> None:  # fmt: skip
    async with client.ws_connect("/desk/ws", headers=logins[Role.AGENT].headers()) as ws:
        dialer_app.bus.publish(_pop(clock, "agent1", "in-3", None, None, new_lead=False))
        card = await _next(ws)
        assert (card["lead_id"], card["number"], card["url"], card["source"]) == (None, None, None, None)


def test_only_the_own_phones_calls_are_addressed_to_a_desk(clock: VirtualClock) -> None:
    """The supervisor may open the desk but has no endpoint: nothing addressed to any agent is theirs."""
    pop = _pop(clock, "agent1", "in-4", None, None)
    ended = InboundCallEnded(clock.now(), "in-4", None, Outcome.ABANDONED, None)
    assert addressed_to(pop, "agent1")
    assert not addressed_to(pop, "agent10")
    assert not addressed_to(pop, None) and not addressed_to(pop, "")
    assert not addressed_to(ended, None)  # an ended call nobody took is no desk's business
    assert not addressed_to(BusEvent(clock.now()), "agent1")


async def test_the_socket_leaves_the_bus_when_the_page_closes(client: TestClient, dialer_app: App, logins: dict[Role, Login],
                                                              clock: VirtualClock) -> None:  # fmt: skip
    async with client.ws_connect("/desk/ws", headers=logins[Role.AGENT].headers()):
        assert dialer_app.bus.publish(_pop(clock, "agent9", "in-5", None, None)) == 1
    for _ in range(1000):  # the server notices the close on its next read; bounded, not timed
        if dialer_app.bus.publish(_pop(clock, "agent9", "in-6", None, None)) == 0:
            break
        await asyncio.sleep(0.01)
    assert dialer_app.bus.publish(_pop(clock, "agent9", "in-7", None, None)) == 0


async def test_the_desk_page_carries_the_card_and_a_foreign_origin_is_refused(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    headers = logins[Role.AGENT].headers()
    page = await (await client.get("/desk", headers=headers)).text()
    for element in ('id="screenpop"', 'id="pop-name"', 'id="pop-number"', 'id="pop-new"', 'id="pop-link"'):
        assert element in page, element
    assert '<script src="/static/screenpop.js">' in page
    assert "/desk/ws" in await (await client.get("/static/screenpop.js")).text()
    resp = await client.get("/desk/ws", headers={**headers, "Origin": "https://evil.example"})
    assert resp.status == 403
