"""Logins and agent identities per dealer (issue #16, docs/web.md "Logging in", docs/store.md "Dealers"):
two showrooms each have an ``admin`` and an agent on phone 8001. Each logs in at its own node with the
plain login and at the other's as ``code/login``; a wrong code is refused like a wrong password; each
sees its own people; presence, phone accounts and the node's PBX queue stay each dealer's.

Node A is the console's app (dealer main); node B (dealer pudong) is the same store seen through services
built for its dealer, as its App would build them.
"""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.auth.service import AuthService
from dialer.campaigns.presence import PresenceService
from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID, DealerScope
from dialer.domain.access.policy import Role
from dialer.domain.auth.errors import BadUserInput, LoginRefused
from dialer.domain.campaigns.presence import PhoneState, PresenceCommand
from dialer.phones.service import PhoneService
from dialer.settings import Settings
from dialer.store.phones import PhoneStore
from dialer.store.presence import PresenceStore
from dialer.store.totp import TotpStore
from dialer.store.users import UserStore
from dialer.web.keys import AUTH
from tests.campaigns.test_presence_sync import REASONS, FakePbx
from tests.web.conftest import CHEAP, PASSWORD, Login

PASSWORD_B = "pudong horse battery"


@pytest.fixture
async def node_b(client: TestClient, dialer_app: App, settings: Settings, clock: VirtualClock) -> AuthService:
    """Dealer pudong's node's users service; both dealers get an admin and the agent chen on phone 8001."""
    pudong = await dialer_app.dealers.ensure("pudong", "浦东店", clock.now())
    b = AuthService(UserStore(dialer_app.db), TotpStore(dialer_app.db), settings.web, clock, dialer_app.audit, CHEAP,
                    dealer_id=pudong.id, dealer_code="pudong")  # fmt: skip
    a = client.app[AUTH]
    await a.add_user("admin", Role.ADMIN.value, PASSWORD)
    await a.add_user("chen", Role.AGENT.value, PASSWORD, agent="8001")
    await b.add_user("admin", Role.ADMIN.value, PASSWORD_B)
    await b.add_user("chen", Role.AGENT.value, PASSWORD_B, agent="8001")
    return b


async def _form_login(client: TestClient, name: str, password: str):  # type: ignore[no-untyped-def]
    page = await (await client.get("/login")).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return await client.post("/login", data={"name": name, "password": password, "csrf_token": match.group(1)},
                             allow_redirects=False)  # fmt: skip


async def test_each_admin_logs_in_at_its_node_and_as_code_slash_login_at_the_other(
    client: TestClient, dialer_app: App, node_b: AuthService
) -> None:
    a = client.app[AUTH]
    pudong = await dialer_app.dealers.by_code("pudong")
    assert pudong is not None
    assert (await a.login("admin", PASSWORD, "10.0.0.1")).user.dealer_id == MAIN_DEALER_ID
    assert (await a.login("pudong/admin", PASSWORD_B, "10.0.0.1")).user.dealer_id == pudong.id
    assert (await node_b.login("admin", PASSWORD_B, "10.0.0.2")).user.dealer_id == pudong.id
    assert (await node_b.login("main/admin", PASSWORD, "10.0.0.2")).user.dealer_id == MAIN_DEALER_ID
    assert (await node_b.login("pudong/chen", PASSWORD_B, "10.0.0.2")).user.agent == "8001"
    # The plain login at a node is that node's dealer's: the other admin's password does not open it.
    for auth, name, password in ((a, "admin", PASSWORD_B), (node_b, "admin", PASSWORD), (a, "pudong/admin", PASSWORD)):
        with pytest.raises(LoginRefused):
            await auth.login(name, password, "10.0.0.3")

    # Through the form: pudong's admin at node A, who sees pudong's people only.
    resp = await _form_login(client, "pudong/admin", PASSWORD_B)
    assert resp.status == 302
    users = (await (await client.get("/api/users")).json())["users"]
    assert sorted((u["name"], u["agent"]) for u in users) == [("admin", None), ("chen", "8001")]
    # A wrong dealer code and a wrong password: one and the same refusal (an unknown user's is the service's).
    refusals = set()
    for name, password in (("nowhere/admin", PASSWORD_B), ("pudong/admin", "wrong")):
        resp = await _form_login(client, name, password)
        assert resp.status == 401
        error = re.search(r'id="login-error">([^<]*)<', await resp.text())
        assert error
        refusals.add(error.group(1))
    assert len(refusals) == 1
    with pytest.raises(LoginRefused) as unknown:
        await a.login("pudong/nobody", PASSWORD_B, "10.0.0.6")
    assert unknown.value.retry_after_s == 0
    assert "pudong/admin" in await (await client.get("/login")).text()  # the page says how


async def test_the_same_login_at_a_node_throttles_as_one_account(node_b: AuthService, settings: Settings) -> None:
    """``pudong/admin`` at pudong's node is its ``admin``: typing it both ways gives no second set of tries
    (the per-name throttle, each try from another address)."""
    tries = settings.web.login_name_free_failures + 1
    for i in range(tries):
        with pytest.raises(LoginRefused):
            await node_b.login("admin" if i % 2 else "pudong/admin", "wrong", f"10.0.1.{i}")
    with pytest.raises(LoginRefused) as refused:
        await node_b.login("admin", PASSWORD_B, "10.0.2.1")
    assert refused.value.retry_after_s > 0


async def test_a_group_users_login_is_no_dealer_users_login(client: TestClient, node_b: AuthService) -> None:
    a = client.app[AUTH]
    boss = await a.add_user("boss", Role.SUPERVISOR.value, PASSWORD, group=True)
    assert boss.dealer_id is None
    with pytest.raises(BadUserInput, match="group-wide user's login"):
        await node_b.add_user("boss", Role.QA.value, PASSWORD_B)
    with pytest.raises(BadUserInput, match="dealer's user's login"):
        await a.add_user("admin", Role.SUPERVISOR.value, PASSWORD, group=True)
    # The group's person logs in at either node by the plain login.
    assert (await node_b.login("boss", PASSWORD, "10.0.0.4")).user.dealer_id is None
    assert (await a.login("boss", PASSWORD, "10.0.0.4")).user.dealer_id is None


async def test_presence_phone_accounts_and_the_pbx_queue_stay_each_dealers(
    client: TestClient, dialer_app: App, node_b: AuthService, clock: VirtualClock
) -> None:
    pudong = await dialer_app.dealers.by_code("pudong")
    assert pudong is not None
    pbx_a, pbx_b = FakePbx(), FakePbx()
    presence_a = dialer_app.presence.with_queue(pbx_a)
    presence_b = PresenceService(PresenceStore(dialer_app.db, dealer_id=pudong.id), dialer_app.bus, clock, REASONS,
                                 pbx_b)  # fmt: skip
    await presence_b.change("8001", PresenceCommand.PAUSE, "pudong/chen", REASONS[0])
    # Node A's PBX link comes up: its queue is put back from A's presence, in which 8001 set nothing.
    assert await presence_a.restore_queue() == () and pbx_a.sent == []
    assert (await presence_a.get("8001")).state is PhoneState.AVAILABLE
    await presence_a.change("8001", PresenceCommand.LOGOUT, "chen")
    assert pbx_a.sent == [("remove", "8001")] and pbx_b.sent == [("add", "8001"), ("pause", "8001")]
    assert (await presence_b.get("8001")).state is PhoneState.PAUSED

    # Each node's PBX has its own desk8001: added, reset and removed there only; rendered per node.
    phones_b = PhoneService(PhoneStore(dialer_app.db, dealer_id=pudong.id), clock)
    made_a, made_b = await dialer_app.phones.add("desk8001"), await phones_b.add("desk8001")
    assert made_a.account.ha1 != made_b.account.ha1
    await dialer_app.phones.reset("desk8001")
    assert (await phones_b.account("desk8001")) == made_b.account
    await dialer_app.phones.remove("desk8001")
    assert await dialer_app.phones.accounts(DealerScope.of(MAIN_DEALER_ID)) == []
    assert [p.endpoint for p in await phones_b.accounts(DealerScope.of(pudong.id))] == ["desk8001"]
    # A person of pudong at node A cannot touch node A's phone of the same name.
    await dialer_app.phones.add("desk8001")
    with pytest.raises(Exception, match="desk8001"):
        await dialer_app.phones.remove("desk8001", DealerScope.of(pudong.id))
    assert await dialer_app.phones.account("desk8001") is not None


async def test_dealer_users_console_logins_carry_their_dealer(client: TestClient, node_b: AuthService) -> None:
    """The session opened with ``pudong/chen`` at node A is pudong's chen (whose desk shows pudong's leads)."""
    new = await client.app[AUTH].login("pudong/chen", PASSWORD_B, "10.0.0.5")
    me = await (await client.get("/api/me", headers=Login(Role.AGENT, new.token, new.csrf).headers())).json()
    assert (me["name"], me["agent"]) == ("chen", "8001")
    session = await client.app[AUTH].session(new.token)
    assert session is not None and session.user.dealer_id != MAIN_DEALER_ID


async def test_another_dealers_agent_at_this_node_has_no_phone_here(
    client: TestClient, dialer_app: App, node_b: AuthService
) -> None:
    """pudong's chen logs in at node A: their leads are theirs, but node A's phone 8001 is main's chen's, so
    they change no presence, ring nothing, get no browser phone's account and no call state of 8001."""
    theirs = await client.app[AUTH].login("pudong/chen", PASSWORD_B, "10.0.0.7")
    ours = await client.app[AUTH].login("chen", PASSWORD, "10.0.0.7")
    visitor, local = Login(Role.AGENT, theirs.token, theirs.csrf), Login(Role.AGENT, ours.token, ours.csrf)
    resp = await client.post("/api/desk/logout", headers=visitor.headers())
    assert (resp.status, (await resp.json())["error"]) == (400, "no_phone")
    assert (await (await client.get("/api/desk/state", headers=visitor.headers())).json())["agent"] is None
    assert (await client.get("/api/desk/browser-phone", headers=visitor.headers())).status == 404
    assert (await dialer_app.presence.get("8001")).state is PhoneState.AVAILABLE
    # Main's chen, the same identity at their own node, has the phone.
    assert (await client.post("/api/desk/logout", headers=local.headers())).status == 200
    assert (await dialer_app.presence.get("8001")).state is PhoneState.LOGGED_OUT
