"""Listen / whisper / barge from the console, through SupervisorService over a scripted PBX; the audit page."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.settings import Settings
from dialer.store.listen_ins import ListenInStore
from dialer.supervisor.service import SupervisorService
from dialer.web.app import create_app
from dialer.web.keys import AUTH, DIALER
from tests.supervisor.test_service import ScriptedPbx
from tests.web.conftest import PASSWORD, USERS, Fixtures, Login

START = "/api/supervise/start"


@dataclasses.dataclass
class Console:
    """A console whose dialer has a supervisor service over the scripted PBX, and a supervisor with a phone."""

    client: TestClient
    pbx: ScriptedPbx
    boss: Login  # supervisor "chen", listening on the endpoint "supervisor"
    logins: dict[Role, Login]


@pytest.fixture
async def console(dialer_app: App, data: Fixtures, aiohttp_client: Callable[..., Awaitable[TestClient]],
                  settings: Settings, clock: VirtualClock) -> Console:  # fmt: skip
    pbx = ScriptedPbx()  # agent2 is on an answered call
    service = SupervisorService(
        ami_client=pbx, store=ListenInStore(dialer_app.db), audit=dialer_app.audit, settings=settings, clock=clock
    )
    app = create_app(settings, dialer=dataclasses.replace(dialer_app, supervisor=service), clock=clock)
    client = await aiohttp_client(app)
    auth = client.app[AUTH]
    for role, (name, agent) in USERS.items():
        if role is not Role.AGENT:  # the agent was added with the seed's leads (data)
            await auth.add_user(name, role.value, PASSWORD, agent=agent)
    await auth.add_user("chen", Role.SUPERVISOR.value, PASSWORD, agent="supervisor")
    logins: dict[Role, Login] = {}
    for role, (name, _agent) in USERS.items():
        new = await auth.login(name, PASSWORD, "127.0.0.1")
        logins[role] = Login(role, new.token, new.csrf)
    boss = await auth.login("chen", PASSWORD, "127.0.0.1")
    return Console(client, pbx, Login(Role.SUPERVISOR, boss.token, boss.csrf), logins)


async def test_listen_switch_stop_each_through_the_service_and_audited(console: Console) -> None:
    client, pbx, headers = console.client, console.pbx, console.boss.headers()
    started = await client.post(START, json={"agent": "agent2", "mode": "listen"}, headers=headers)
    assert started.status == 201
    row = (await started.json())["listen_in"]
    assert (row["supervisor"], row["agent"], row["phone"], row["modes"], row["ended_at"]) == (
        "chen",
        "agent2",
        "supervisor",
        ["listen"],
        None,
    )
    ((kind, fields),) = pbx.asked
    assert (kind, fields["channel"], fields["exten"], fields["variables"]) == (
        "originate",
        "PJSIP/supervisor",
        "agent2",
        {"DCC_SPY": "listen"},
    )
    assert (await (await client.get("/api/supervise", headers=headers)).json())["listen_in"]["id"] == row["id"]

    again = await client.post(START, json={"agent": "agent2", "mode": "barge"}, headers=headers)
    assert again.status == 409 and (await again.json())["error"] == "already_listening"

    switched = await client.post("/api/supervise/switch", json={"mode": "whisper"}, headers=headers)
    assert switched.status == 200 and (await switched.json())["listen_in"]["modes"] == ["listen", "whisper"]
    assert [kind for kind, _ in pbx.asked[1:]] == ["setvar", "redirect"]
    assert pbx.asked[1][1][1:] == ("DCC_SPY", "whisper")

    stopped = await client.post("/api/supervise/stop", headers=headers)
    ended = (await stopped.json())["listen_in"]
    assert stopped.status == 200 and ended["end_reason"] == "stopped" and ended["ended_at"] is not None
    assert pbx.asked[-1] == ("hangup", "PJSIP/supervisor-00000009")
    assert (await (await client.get("/api/supervise", headers=headers)).json()) == {"listen_in": None}
    nothing = await client.post("/api/supervise/stop", headers=headers)
    assert nothing.status == 409 and (await nothing.json())["error"] == "not_listening"


async def test_refusals_come_back_with_a_code_the_panel_can_show(console: Console) -> None:
    client = console.client
    cases = [
        (console.boss, {"agent": "agent1", "mode": "listen"}, 409, "not_on_call"),  # agent1 has no call
        (console.logins[Role.SUPERVISOR], {"agent": "agent2", "mode": "listen"}, 409, "no_phone"),  # li has no phone
        (console.boss, {"agent": "agent2", "mode": "shout"}, 400, "invalid"),
        (console.boss, {"agent": "PJSIP/agent2,qB", "mode": "listen"}, 400, "invalid"),
        (console.logins[Role.SALES_MANAGER], {"agent": "agent2", "mode": "listen"}, 403, "forbidden"),
        (console.logins[Role.AGENT], {"agent": "agent2", "mode": "listen"}, 403, "forbidden"),
    ]
    for login, body, status, code in cases:
        resp = await client.post(START, json=body, headers=login.headers())
        assert (resp.status, (await resp.json())["error"]) == (status, code), body
    assert console.pbx.asked == []  # nothing reached the PBX
    audit = await (await client.get("/api/listen-ins", headers=console.boss.headers())).json()
    assert audit == {"listen_ins": []}  # refusals before the PBX leave no listen-in behind


async def test_qa_may_listen_in_too_as_the_policy_allows(console: Console) -> None:
    auth = console.client.app[AUTH]
    await auth.add_user("sun", Role.QA.value, PASSWORD, agent="qa-phone")
    qa = await auth.login("sun", PASSWORD, "127.0.0.1")
    resp = await console.client.post(
        START, json={"agent": "agent2", "mode": "listen"}, headers=Login(Role.QA, qa.token, qa.csrf).headers()
    )
    assert resp.status == 201


async def test_a_vanished_leg_cannot_be_switched_but_can_always_be_stopped(console: Console) -> None:
    client, pbx, headers = console.client, console.pbx, console.boss.headers()
    assert (await client.post(START, json={"agent": "agent2", "mode": "listen"}, headers=headers)).status == 201
    pbx.channels = [c for c in pbx.channels if not c.channel.startswith("PJSIP/supervisor-")]  # hung up, event missed
    over = await client.post("/api/supervise/switch", json={"mode": "barge"}, headers=headers)
    assert over.status == 409 and (await over.json())["error"] == "listen_in_over"
    stopped = await client.post("/api/supervise/stop", headers=headers)
    assert stopped.status == 200 and (await stopped.json())["listen_in"]["end_reason"] == "stopped"
    # The row is closed: a new listen-in may start.
    assert (await client.post(START, json={"agent": "agent2", "mode": "barge"}, headers=headers)).status == 201


async def test_the_audit_page_lists_who_whom_when_how_long_and_how(console: Console, clock: VirtualClock) -> None:
    client, headers = console.client, console.boss.headers()
    await client.post(START, json={"agent": "agent2", "mode": "listen"}, headers=headers)
    await client.post("/api/supervise/switch", json={"mode": "barge"}, headers=headers)
    clock.advance(42)
    await client.post("/api/supervise/stop", headers=headers)
    (row,) = (await (await client.get("/api/listen-ins?agent=agent2", headers=headers)).json())["listen_ins"]
    assert (row["supervisor"], row["modes"], row["seconds"]) == ("chen", ["listen", "barge"], 42.0)
    assert (await (await client.get("/api/listen-ins?agent=agent1", headers=headers)).json()) == {"listen_ins": []}
    page = await (await client.get("/supervise/log", headers=headers)).text()
    assert 'id="listen-ins"' in page
    assert (
        "<td>chen</td><td>agent2</td><td>监听 → 强插</td><td>2026-11-29 09:00:00</td><td>42</td><td>主动结束</td>"
        in page
    )
    admin = await client.get("/api/listen-ins", headers=console.logins[Role.ADMIN].headers())
    assert admin.status == 200  # the audit is the administrator's too; listening is not
    bad = await client.get("/api/listen-ins?days=many", headers=headers)
    assert bad.status == 400 and "days" in (await bad.json())["fields"]


async def test_the_wallboard_shows_listen_in_controls_only_to_who_may_listen(console: Console) -> None:
    client = console.client
    boss_page = await (await client.get("/wallboard", headers=console.boss.headers())).text()
    for element in (
        'id="listen-in"',
        'id="listen-in-stop"',
        'id="listen-in-mode-whisper"',
        'id="listen-in-log"',
        '<script src="/static/listen-in.js">',
    ):
        assert element in boss_page, element
    assert "/api/supervise/start" in await (await client.get("/static/listen-in.js")).text()
    manager_page = await (await client.get("/wallboard", headers=console.logins[Role.SALES_MANAGER].headers())).text()
    assert 'id="listen-in"' not in manager_page and 'id="agents"' in manager_page
    assert "listen-in.js" not in manager_page


async def test_a_console_without_the_pbx_says_so(client: TestClient, logins: dict[Role, Login]) -> None:
    resp = await client.post(
        START, json={"agent": "agent2", "mode": "listen"}, headers=logins[Role.SUPERVISOR].headers()
    )
    assert resp.status == 503 and (await resp.json())["error"] == "no_pbx"


async def test_another_dealers_supervisor_finds_no_call_to_listen_to(console: Console, clock: VirtualClock) -> None:
    """agent2 (dealer main) is on an answered call; dealer b's supervisor, with a phone, is told there is none,
    though b has an agent2 of its own too (identities are per dealer: this node's PBX's agent2 is main's)."""
    dealer = await console.client.app[DIALER].dealers.ensure("b", "B 店", clock.now())
    auth = console.client.app[AUTH]
    await auth.add_user("b_boss", Role.SUPERVISOR.value, PASSWORD, agent="b-supervisor", dealer_id=dealer.id)
    await auth.add_user("b_wu", Role.AGENT.value, PASSWORD, agent="agent2", dealer_id=dealer.id)
    new = await auth.login("b/b_boss", PASSWORD, "127.0.0.1")  # dealer b's person at main's node
    resp = await console.client.post(
        START, json={"agent": "agent2", "mode": "listen"}, headers=Login(Role.SUPERVISOR, new.token, new.csrf).headers()
    )
    assert (resp.status, (await resp.json())["error"]) == (409, "not_on_call")
    assert console.pbx.asked == []
