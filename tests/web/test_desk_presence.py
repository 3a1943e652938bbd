"""Phone presence from the desk: the controls, the JSON API with its refusals, the live socket
message, the stored state, and what the wallboard and /metrics show of it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.policy import Role
from tests.web.conftest import Login

_WAIT_S = 10.0  # only bounds a hang, never measured


async def _state(client: TestClient, login: Login) -> dict[str, Any]:
    resp = await client.get("/api/desk/state", headers=login.headers())
    assert resp.status == 200
    return await resp.json()


async def test_the_desk_has_the_phone_controls_and_the_call_card(client: TestClient, logins: dict[Role, Login]) -> None:
    text = await (await client.get("/desk", headers=logins[Role.AGENT].headers())).text()
    for element in ("phone-state", "phone-login-submit", "phone-logout-submit", "pause-reason", "pause-submit", "resume-submit",
                    "call-pop", "call-pop-link"):  # fmt: skip
        assert f'id="{element}"' in text, element
    assert 'id="phone-state" data-state="available"' in text and 'id="call-pop" class="card" data-lead-id=""' in text
    assert all(f'<option value="{r}">' in text for r in ("休息", "培训", "会议", "午餐"))
    supervisor = await (await client.get("/desk", headers=logins[Role.SUPERVISOR].headers())).text()
    assert 'id="phone-state"' not in supervisor  # no phone, no phone controls


async def test_presence_moves_through_the_api_and_refuses_what_does_not_fit(client: TestClient, dialer_app: App,
                                                                            logins: dict[Role, Login]) -> None:  # fmt: skip
    agent = logins[Role.AGENT]
    first = await _state(client, agent)
    assert (first["agent"], first["state"], first["explicit"], first["since"]) == ("agent1", "available", False, None)
    assert (
        first["pause_reasons"] == ["休息", "培训", "会议", "午餐"]
        and first["call"] is None
        and first["wrap_up"] is None
    )
    login = await client.post("/api/desk/login", headers=agent.headers())
    assert login.status == 200 and (await login.json())["explicit"] is True
    again = await client.post("/api/desk/login", headers=agent.headers())
    assert again.status == 409 and (await again.json())["error"] == "presence_refused"
    unknown = await client.post("/api/desk/pause", json={"reason": "逛街"}, headers=agent.headers())
    assert unknown.status == 400 and "逛街" in (await unknown.json())["fields"]["reason"]
    empty = await client.post("/api/desk/pause", json={}, headers=agent.headers())
    assert empty.status == 400 and list((await empty.json())["fields"]) == ["reason"]
    paused = await client.post("/api/desk/pause", json={"reason": "培训"}, headers=agent.headers())
    assert paused.status == 200
    body = await paused.json()
    assert (body["state"], body["reason"], body["since"]) == ("paused", "培训", "2026-11-29T01:00:00.000000Z")
    page = await (await client.get("/desk", headers=agent.headers())).text()
    assert 'data-state="paused">暂停 (培训)<' in page
    assert (await client.post("/api/desk/resume", headers=agent.headers())).status == 200
    assert (await client.post("/api/desk/resume", headers=agent.headers())).status == 409
    out = await client.post("/api/desk/logout", headers=agent.headers())
    assert (await out.json())["state"] == "logged_out"
    assert (await dialer_app.presence.get("agent1")).state.value == "logged_out"  # stored: a restart keeps it


async def test_a_login_without_a_phone_and_a_request_without_csrf_are_refused(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    supervisor = logins[Role.SUPERVISOR]
    assert (await _state(client, supervisor)) == {"agent": None}
    resp = await client.post("/api/desk/login", headers=supervisor.headers())
    assert resp.status == 400 and (await resp.json())["error"] == "no_phone"
    forged = await client.post("/api/desk/logout", headers=logins[Role.AGENT].headers(csrf=False))
    assert forged.status == 403


async def test_the_desk_socket_hears_its_own_presence_change(client: TestClient, logins: dict[Role, Login]) -> None:
    agent = logins[Role.AGENT]
    async with client.ws_connect("/desk/ws", headers=agent.headers()) as ws:
        await client.post("/api/desk/pause", json={"reason": "会议"}, headers=agent.headers())
        message = json.loads(await asyncio.wait_for(ws.receive_str(), _WAIT_S))
    assert (message["type"], message["state"], message["reason"]) == ("presence", "paused", "会议")


async def test_the_wallboard_and_metrics_show_the_agents_state(client: TestClient, logins: dict[Role, Login]) -> None:
    await client.post("/api/desk/pause", json={"reason": "午餐"}, headers=logins[Role.AGENT].headers())
    async with client.ws_connect("/wallboard/ws", headers=logins[Role.SUPERVISOR].headers()) as ws:
        while True:  # the first frame may predate the pause; the broadcaster sends the change
            frame = json.loads(await asyncio.wait_for(ws.receive_str(), _WAIT_S))
            if frame["agents"][0]["state"] == "paused":
                break
    agent, colleague = frame["agents"]
    assert colleague["agent"] == "agent2" and colleague["state"] != "paused"
    assert (agent["agent"], agent["reason"], agent["since"]) == ("agent1", "午餐", "2026-11-29T01:00:00.000000Z")
    page = await (await client.get("/wallboard", headers=logins[Role.SUPERVISOR].headers())).text()
    assert '"paused": "暂停"' in page.replace("&quot;", '"') and 'id="campaigns"' in page
    metrics = await (await client.get("/metrics")).text()
    # agent2, the colleague who did not pause, is the one available.
    assert 'dialer_agents{state="paused"} 1.0' in metrics and 'dialer_agents{state="available"} 1.0' in metrics
