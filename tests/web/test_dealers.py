"""Dealers as tenants in the console (docs/web.md "Dealers"): a person of dealer B finds none of dealer A's
leads, calls, recordings, campaigns or promotions, by list or by id (404, never 403: ids are not probed);
a group-wide person sees every dealer, narrowed with ``?dealer=code``.

The seed (tests/web/conftest.py) is dealer 1's ("main"); dealer "b" and its people are added here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction
from dialer.domain.calls.outcome import Direction
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.domain.promotions.model import NewPromotion, PromotionKind
from dialer.phones.service import PhoneService
from dialer.store.attempts import AttemptStore
from dialer.store.listen_ins import ListenInStore
from dialer.store.phones import PhoneStore
from dialer.store.recordings import NewRecording, RecordingStore
from dialer.web.keys import AUTH, ROUTES
from dialer.web.routing import RouteSpec
from tests.conftest import VirtualClock
from tests.web.conftest import PASSWORD, ROOT, Fixtures, Login

# The route parameters that name one stored thing.
_IDS = ("lead_id", "recording_id", "campaign_id", "attempt_id", "promotion_id", "endpoint")


@dataclass(frozen=True, slots=True)
class DealerA:
    """Dealer 1's things the walk asks for by id."""

    lead: int
    recording: int
    campaign: int
    attempt: int
    promotion: int
    phone: str


@pytest.fixture
async def dealer_a(dialer_app: App, data: Fixtures, clock: VirtualClock) -> DealerA:
    campaign = await dialer_app.campaigns.create(ROOT / "config" / "campaigns" / "hq.toml", "test")
    attempt = await dialer_app.attempts.create(
        call_id="call-a-manual", direction=Direction.OUTBOUND, number="+8613800138000", created_at=clock.now(),
        agent="agent1", lead_id=data.own_lead,
    )  # fmt: skip
    today = clock.now().date()
    promotion = await dialer_app.promotions.add(NewPromotion(PromotionKind.OFFER, "A 店优惠", "", today, today), "test")
    phone = await dialer_app.phones.add("agent1")
    return DealerA(data.own_lead, data.own_recording, campaign.id, attempt.id, promotion.id, phone.account.endpoint)


@pytest.fixture
async def dealer_b_logins(client: TestClient, dialer_app: App, clock: VirtualClock) -> dict[Role, Login]:
    """A person of every role of dealer "b", and a group-wide supervisor (under Role.ADMIN's key: no)."""
    dealer = await dialer_app.dealers.ensure("b", "B 店", clock.now())
    auth = client.app[AUTH]
    out = {}
    for role in Role:
        name = f"b_{role.value}"
        await auth.add_user(name, role.value, PASSWORD, agent="b_agent" if role is Role.AGENT else None,
                            dealer_id=dealer.id)  # fmt: skip
        new = await auth.login(f"b/{name}", PASSWORD, "127.0.0.1")  # b's people at main's node: code/login
        out[role] = Login(role, new.token, new.csrf)
    return out


@pytest.fixture
async def group_login(client: TestClient, dialer_app: App, clock: VirtualClock) -> Login:
    await dialer_app.dealers.ensure("b", "B 店", clock.now())
    auth = client.app[AUTH]
    await auth.add_user("group_sup", Role.SUPERVISOR.value, PASSWORD, group=True)
    new = await auth.login("group_sup", PASSWORD, "127.0.0.1")
    return Login(Role.SUPERVISOR, new.token, new.csrf)


def _url(spec: RouteSpec, a: DealerA) -> str:
    values = {"lead_id": a.lead, "recording_id": a.recording, "campaign_id": a.campaign, "command": "pause",
              "attempt_id": a.attempt, "promotion_id": a.promotion, "endpoint": a.phone}  # fmt: skip
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: str(values[m.group(1)]), spec.path)


# What a POST needs to get past its own checks of the body to the lookup of the id.
_BODIES = {"/api/calls/{attempt_id:\\d+}/transfer": {"action": "hold"}}


async def test_another_dealers_things_by_id_are_missing_never_forbidden(
    client: TestClient, dealer_a: DealerA, dealer_b_logins: dict[Role, Login]
) -> None:
    routes = [spec for spec in client.app[ROUTES].values() if any("{" + name in spec.path for name in _IDS)]
    assert len(routes) >= 20
    probed = 0
    for spec in routes:
        url = _url(spec, dealer_a)
        for role, login in dealer_b_logins.items():
            resp = await client.request(spec.method, url, headers=login.headers(), allow_redirects=False,
                                        json=_BODIES.get(spec.path, {}) if spec.method == "POST" else None)  # fmt: skip
            where = f"{spec.method} {spec.path} as dealer b's {role.value}: {resp.status}"
            if role in spec.allowed_roles():
                body = await resp.text()
                # (A console without the PBX link answers the calls' routes so before any lookup: nothing told.)
                assert resp.status == 404 or (resp.status == 503 and "no_pbx" in body), f"{where} {body[:200]}"
                probed += 1
            else:
                assert resp.status == 403, where
    assert probed >= 30


async def test_lists_of_dealer_b_hold_none_of_dealer_a(
    client: TestClient, dealer_a: DealerA, dealer_b_logins: dict[Role, Login], logins: dict[Role, Login]
) -> None:
    sup_b, sup_a = dealer_b_logins[Role.SUPERVISOR], logins[Role.SUPERVISOR]
    for path, key in (("/api/leads/due?scope=all", "leads"), ("/api/campaigns", "campaigns"),
                      ("/api/recordings?since=2026-01-01", "recordings"), ("/api/promotions", "promotions")):  # fmt: skip
        seen_a = (await (await client.get(path, headers=sup_a.headers())).json())[key]
        seen_b = (await (await client.get(path, headers=sup_b.headers())).json())[key]
        assert seen_a and seen_b == [], path
    month = "2026-11"
    assert (await (await client.get(f"/api/kpi?month={month}", headers=sup_a.headers())).json())["new_leads"] == 2
    assert (await (await client.get(f"/api/kpi?month={month}", headers=sup_b.headers())).json())["new_leads"] == 0
    assert "张三" in await (await client.get("/desk?scope=all", headers=sup_a.headers())).text()
    assert "张三" not in await (await client.get("/desk?scope=all", headers=sup_b.headers())).text()
    page = await (await client.get("/manage", headers=dealer_b_logins[Role.SALES_MANAGER].headers())).text()
    assert "张三" not in page
    users = await (await client.get("/users", headers=dealer_b_logins[Role.ADMIN].headers())).text()
    assert "b_agent" in users and "zhang" not in users
    # The wallboard is the node's (dealer 1's): dealer b's supervisor finds none here; nor SMS waves.
    assert (await client.get("/api/wallboard", headers=sup_b.headers())).status == 404
    manager_b = dealer_b_logins[Role.SALES_MANAGER]
    assert (await client.get("/api/sms/waves", headers=manager_b.headers())).status == 404
    assert (await client.get("/api/sms/waves", headers=logins[Role.SALES_MANAGER].headers())).status == 200
    # A file's leads would be the node's dealer's: dealer b imports on its own node.
    for path in ("/api/leads/import", "/api/doss/import-states"):
        assert (await client.post(path, data={"file": b""}, headers=manager_b.headers())).status == 404, path


async def test_the_suppression_list_is_kept_per_dealer_and_honoured_by_all(
    client: TestClient, dialer_app: App, dealer_b_logins: dict[Role, Login], logins: dict[Role, Login]
) -> None:
    await dialer_app.privacy.suppress("13800138000", "complaint at main", SuppressionSource.CLI, "test")
    sup_b, sup_a = dealer_b_logins[Role.SUPERVISOR], logins[Role.SUPERVISOR]
    assert len((await (await client.get("/api/dnc", headers=sup_a.headers())).json())["entries"]) == 1
    assert (await (await client.get("/api/dnc", headers=sup_b.headers())).json())["entries"] == []
    # Dealer b cannot lift dealer main's entry: the number stays undialled for the whole group.
    lift = {"number": "13800138000", "reason": "asked by b"}
    assert (await client.post("/api/dnc/remove", json=lift, headers=sup_b.headers())).status == 404
    assert await dialer_app.privacy.active("13800138000") is not None
    added = await client.post("/api/dnc", json={"number": "13900000001", "reason": "b's"}, headers=sup_b.headers())
    assert added.status == 201
    entries_b = (await (await client.get("/api/dnc", headers=sup_b.headers())).json())["entries"]
    assert [e["number"] for e in entries_b] == ["+8613900000001"]


async def test_a_group_user_sees_every_dealer_and_narrows_to_one(
    client: TestClient, dealer_a: DealerA, group_login: Login
) -> None:
    headers = group_login.headers()
    everything = (await (await client.get("/api/campaigns", headers=headers)).json())["campaigns"]
    assert [c["id"] for c in everything] == [dealer_a.campaign]
    only_b = (await (await client.get("/api/campaigns?dealer=b", headers=headers)).json())["campaigns"]
    assert only_b == []
    only_main = (await (await client.get("/api/campaigns?dealer=main", headers=headers)).json())["campaigns"]
    assert [c["id"] for c in only_main] == [dealer_a.campaign]
    assert (await client.get(f"/api/leads/{dealer_a.lead}", headers=headers)).status == 200
    assert (await client.get(f"/api/leads/{dealer_a.lead}?dealer=b", headers=headers)).status == 404
    bad = await client.get("/api/campaigns?dealer=nowhere", headers=headers)
    assert bad.status == 400 and "dealer" in (await bad.json())["fields"]
    # Lists that mix dealers name each row's dealer.
    manage = await (await client.get("/manage", headers=headers)).text()
    assert "<th>经销商</th>" in manage and "<td>main</td>" in manage
    assert "<th>经销商</th>" not in await (await client.get("/manage?dealer=main", headers=headers)).text()
    # The page header offers the dealers and keeps the choice in the navigation's links.
    page = await (await client.get("/campaigns?dealer=b", headers=headers)).text()
    assert 'id="dealer-filter"' in page and '<option value="b" selected>' in page
    assert 'href="/campaigns?dealer=b"' in page


async def test_dealer_b_campaign_enrols_only_dealer_b_leads(
    dialer_app: App, data: Fixtures, clock: VirtualClock
) -> None:
    dealer = await dialer_app.dealers.ensure("b", "B 店", clock.now())
    campaign = await dialer_app.campaigns.create(ROOT / "config" / "campaigns" / "hq.toml", "test", dealer.id)
    _record, enrolled = await dialer_app.campaigns.command(campaign.id, Command.START, "test")
    assert enrolled == 0  # the seed's HQ leads are dealer 1's
    main = await dialer_app.campaigns.create(ROOT / "config" / "campaigns" / "hq.toml", "test")
    _record, enrolled = await dialer_app.campaigns.command(main.id, Command.START, "test")
    assert enrolled == 2


# The oversight pages and their JSON twins that list rows (issue #16): the audit log, the listen-in audit.
_OVERSIGHT = (("/api/audit", "/audit", "entries"), ("/api/listen-ins", "/supervise/log", "listen_ins"))


async def _oversight_rows(dialer_app: App, clock: VirtualClock) -> int:
    """An audit row and a listen-in of each dealer, and a group-level audit row; dealer b's id."""
    b = await dialer_app.dealers.ensure("b", "B 店", clock.now())
    await dialer_app.audit.record("cli:it", AuditAction.EXPORT, "main-export.xlsx", dealer_id=MAIN_DEALER_ID)
    await dialer_app.audit.record("cli:it", AuditAction.EXPORT, "b-export.xlsx", dealer_id=b.id)
    await dialer_app.audit.record("cli:it", AuditAction.EXPORT, "group-backup", dealer_id=None)
    for store, agent in ((dialer_app.listen_ins, "agent1"), (ListenInStore(dialer_app.db, dealer_id=b.id), "b_agent")):
        await store.open(supervisor="sup", agent=agent, phone="sup-phone", channel_id=f"spy-{agent}", mode="listen",
                         at=clock.now())  # fmt: skip
    return b.id


async def test_the_audit_log_and_the_listen_in_audit_show_a_dealers_people_their_dealers_rows(
    client: TestClient, dialer_app: App, clock: VirtualClock, dealer_b_logins: dict[Role, Login],
    logins: dict[Role, Login],
) -> None:  # fmt: skip
    b = await _oversight_rows(dialer_app, clock)
    specs = {spec.path: spec for spec in client.app[ROUTES].values() if spec.method == "GET"}
    for api, page, key in _OVERSIGHT:
        for role, login in dealer_b_logins.items():
            if role not in specs[api].allowed_roles():
                assert (await client.get(api, headers=login.headers())).status == 403, (api, role)
                continue
            rows = (await (await client.get(api, headers=login.headers())).json())[key]
            assert rows and {r["dealer_id"] for r in rows} == {b}, (api, role)
            html = await (await client.get(page, headers=login.headers())).text()
            assert "agent1" not in html and "main-export" not in html and "group-backup" not in html, (page, role)
            assert "<th>经销商</th>" not in html
        rows = (await (await client.get(api, headers=logins[Role.SUPERVISOR].headers())).json())[key]
        assert rows and {r["dealer_id"] for r in rows} == {MAIN_DEALER_ID}, api
    seen_b = (await (await client.get("/api/audit", headers=dealer_b_logins[Role.ADMIN].headers())).json())["entries"]
    assert "b-export.xlsx" in {e["target"] for e in seen_b} and {e["dealer"] for e in seen_b} == {"b"}
    seen_b = await (await client.get("/api/listen-ins", headers=dealer_b_logins[Role.ADMIN].headers())).json()
    assert [r["agent"] for r in seen_b["listen_ins"]] == ["b_agent"]


async def test_a_group_user_sees_every_dealers_audit_and_listen_ins_and_narrows_to_one(
    client: TestClient, dialer_app: App, clock: VirtualClock, group_login: Login
) -> None:
    b = await _oversight_rows(dialer_app, clock)
    headers = group_login.headers()
    targets = {e["target"] for e in (await (await client.get("/api/audit", headers=headers)).json())["entries"]}
    assert {"main-export.xlsx", "b-export.xlsx", "group-backup"} <= targets
    only_b = (await (await client.get("/api/audit?dealer=b", headers=headers)).json())["entries"]
    assert only_b and {e["dealer_id"] for e in only_b} == {b} and "b-export.xlsx" in {e["target"] for e in only_b}
    only_main = (await (await client.get("/api/audit?dealer=main", headers=headers)).json())["entries"]
    assert {e["dealer_id"] for e in only_main} == {MAIN_DEALER_ID}
    page = await (await client.get("/audit", headers=headers)).text()
    assert "<th>经销商</th>" in page and "<td>b</td>" in page and "<td>集团</td>" in page
    page = await (await client.get("/audit?dealer=b", headers=headers)).text()
    assert "<th>经销商</th>" not in page and "main-export" not in page
    assert '<input type="hidden" name="dealer" value="b">' in page  # the filter form keeps the choice
    agents = [r["agent"] for r in (await (await client.get("/api/listen-ins", headers=headers)).json())["listen_ins"]]
    assert sorted(agents) == ["agent1", "b_agent"]
    only_b = (await (await client.get("/api/listen-ins?dealer=b", headers=headers)).json())["listen_ins"]
    assert [r["agent"] for r in only_b] == ["b_agent"]
    page = await (await client.get("/supervise/log", headers=headers)).text()
    assert "<th>经销商</th>" in page and "<td>b</td>" in page
    assert "agent1" not in await (await client.get("/supervise/log?dealer=b", headers=headers)).text()
    # A group-wide person's export is the chosen dealer's row, or the group's.
    for query in ("&dealer=b", ""):
        assert (await client.get(f"/reports/export.xlsx?month=2026-11{query}", headers=headers)).status == 200
    exports = (await (await client.get("/api/audit?action=export&actor=group_sup", headers=headers)).json())["entries"]
    assert [e["dealer_id"] for e in exports] == [None, b]


async def test_the_recording_status_is_the_nodes_dealers(
    client: TestClient, dealer_a: DealerA, dealer_b_logins: dict[Role, Login], logins: dict[Role, Login],
    group_login: Login,
) -> None:  # fmt: skip
    paths = (("GET", "/api/recordings/status"), ("GET", "/recordings/status"),
             ("POST", "/api/recordings/reconcile"), ("POST", "/recordings/status/reconcile"))  # fmt: skip
    for role in (Role.ADMIN, Role.SUPERVISOR):
        for method, path in paths:
            resp = await client.request(method, path, headers=dealer_b_logins[role].headers(), allow_redirects=False)
            assert resp.status == 404, (method, path, role)
    group = group_login.headers()
    assert (await client.get("/api/recordings/status?dealer=b", headers=group)).status == 404
    # The node's dealer's people and the group see it; a run is this node's dealer's audit row.
    ran = await client.post("/api/recordings/reconcile", headers=group)
    assert ran.status == 200
    status = await (await client.get("/api/recordings/status", headers=logins[Role.SUPERVISOR].headers())).json()
    assert [r["actor"] for r in status["reconcile_runs"]] == ["web:group_sup"]
    entries = (await (await client.get("/api/audit?action=recording.reconcile", headers=group)).json())["entries"]
    assert [e["dealer_id"] for e in entries] == [MAIN_DEALER_ID]


async def test_owner_names_and_aliases_are_a_dealers_own(
    client: TestClient, dialer_app: App, data: Fixtures, dealer_b_logins: dict[Role, Login], logins: dict[Role, Login]
) -> None:
    async with dialer_app.db.write() as tx:  # a name a lead file wrote that nobody goes by yet
        await tx.execute("UPDATE leads SET owner = '老李' WHERE id = ?", (data.other_lead,))
    await dialer_app.manager.add_alias("小张", "agent1", "test")
    main_names = await (await client.get("/api/owners", headers=logins[Role.SALES_MANAGER].headers())).json()
    assert [a["alias"] for a in main_names["aliases"]] == ["小张"] and ["老李", 1] in [
        [o["owner"], o["leads"]] for o in main_names["unknown"]
    ]
    manager_b = dealer_b_logins[Role.SALES_MANAGER].headers()
    assert await (await client.get("/api/owners", headers=manager_b)).json() == {"aliases": [], "unknown": []}
    page = await (await client.get("/manage/owners", headers=manager_b)).text()
    assert "小张" not in page and "老李" not in page
    # Another dealer's agent is no one to map a name to, nor is another dealer's alias there to forget.
    for path, body, field in (("/api/owners/aliases", {"alias": "老李", "user": "agent1"}, "user"),
                              ("/api/owners/aliases/remove", {"alias": "小张"}, "alias")):  # fmt: skip
        resp = await client.post(path, json=body, headers=manager_b)
        assert resp.status == 400 and field in (await resp.json())["fields"], path
    # Dealer b's own agent may go by 老李 at b: main's lead of that name stays main's 老李's.
    resp = await client.post("/api/owners/aliases", json={"alias": "老李", "user": "b_agent"}, headers=manager_b)
    assert resp.status == 200 and (await resp.json())["leads_moved"] == 0
    assert (await dialer_app.leads.store.get(data.other_lead)).owner == "老李"


async def test_a_group_admins_change_to_a_phone_is_the_nodes_dealers_audit_row(
    client: TestClient, dialer_app: App, clock: VirtualClock
) -> None:
    b = await dialer_app.dealers.ensure("b", "B 店", clock.now())
    auth = client.app[AUTH]
    await auth.add_user("group_admin", Role.ADMIN.value, PASSWORD, group=True)
    new = await auth.login("group_admin", PASSWORD, "127.0.0.1")
    headers = Login(Role.ADMIN, new.token, new.csrf).headers()
    # A phone is on its dealer's PBX: this (main's) node manages main's phones only, for a group-wide
    # person too; b's phone of the same name is b's node's to change.
    b_phone = await PhoneService(PhoneStore(dialer_app.db, dealer_id=b.id), clock).add("desk9")
    await dialer_app.phones.add("desk9")
    assert (await client.post("/api/phones/desk9/reset", headers=headers)).status == 200
    assert (await client.post("/api/phones", json={"endpoint": "mainphone9"}, headers=headers)).status == 201
    assert (await client.post("/api/phones/desk9/reset?dealer=b", headers=headers)).status == 404
    b_now = await PhoneService(PhoneStore(dialer_app.db, dealer_id=b.id), clock).account("desk9")
    assert b_now == b_phone.account
    entries = (await (await client.get("/api/audit?actor=web:group_admin", headers=headers)).json())["entries"]
    assert [(e["action"], e["target"], e["dealer"]) for e in entries] == [
        ("phone.add", "mainphone9", "main"),
        ("phone.reset", "desk9", "main"),
    ]


async def _b_recording_of_agent1(dialer_app: App, clock: VirtualClock) -> int:
    """A recording of dealer b's agent1 (every showroom has its own agent1); its id."""
    b = await dialer_app.dealers.ensure("b", "B 店", clock.now())
    await AttemptStore(dialer_app.db, dealer_id=b.id).create(
        call_id="call-b", direction=Direction.OUTBOUND, number="+8613700137000", created_at=clock.now(), agent="agent1"
    )
    rec = await RecordingStore(dialer_app.db, dealer_id=b.id).add(
        NewRecording(call_id="call-b", lead_id=None, campaign_id=None, agent="agent1", direction=Direction.OUTBOUND,
                     path="2026/11/29/call-b.wav", started_at=clock.now(), duration_s=1.0, size_bytes=1, sha256="0" * 64),
        at=clock.now(), actor="test",
    )  # fmt: skip
    return rec.id


async def test_a_group_user_names_an_agent_with_its_dealer_in_the_recordings_filter(
    client: TestClient, dialer_app: App, clock: VirtualClock, data: Fixtures, group_login: Login,
    logins: dict[Role, Login],
) -> None:  # fmt: skip
    theirs = await _b_recording_of_agent1(dialer_app, clock)
    headers = group_login.headers()

    async def found(query: str, login: Login = group_login) -> list[tuple[int, str | None]]:
        resp = await client.get(f"/api/recordings?{query}", headers=login.headers())
        assert resp.status == 200, await resp.text()
        return [(r["id"], r.get("dealer")) for r in (await resp.json())["recordings"]]

    # Both dealers have an agent1: a plain name says neither, and is refused with what to write instead.
    resp = await client.get("/api/recordings?agent=agent1", headers=headers)
    assert resp.status == 400
    assert "code/agent1" in (await resp.json())["fields"]["agent"]
    assert (await client.get("/recordings?agent=agent1", headers=headers)).status == 400
    assert await found("agent=b/agent1") == [(theirs, "b")]
    assert await found("agent=main/agent1") == [(data.own_recording, "main")]
    assert await found("dealer=b&agent=agent1") == [(theirs, "b")]
    # The search form keeps the chosen dealer, so a plain agent typed there stays that dealer's.
    page = await (await client.get("/recordings?dealer=b", headers=headers)).text()
    assert '<input type="hidden" name="dealer" value="b">' in page.split('id="recording-search"')[1]
    assert (await client.get("/api/recordings?dealer=main&agent=b/agent1", headers=headers)).status == 400
    assert {d for _id, d in await found("since=2026-01-01")} == {"main", "b"}  # each row names its dealer
    page = await (await client.get("/recordings?agent=b/agent1", headers=headers)).text()
    assert "<th>经销商</th>" in page and '<td class="dealer">b</td>' in page
    # A dealer's own people go on naming their agents plainly, and see no dealer column.
    sup = logins[Role.SUPERVISOR]
    assert await found("agent=agent1", sup) == [(data.own_recording, None)]
    assert await found("agent=main/agent1", sup) == [(data.own_recording, None)]
    assert (await client.get("/api/recordings?agent=b/agent1", headers=sup.headers())).status == 400
    assert "<th>经销商</th>" not in await (await client.get("/recordings?agent=agent1", headers=sup.headers())).text()


async def test_a_group_user_names_an_agent_with_its_dealer_in_the_kpis_and_listen_ins(
    client: TestClient, dialer_app: App, clock: VirtualClock, group_login: Login, logins: dict[Role, Login]
) -> None:
    await _oversight_rows(dialer_app, clock)
    headers = group_login.headers()
    for path in ("/api/kpi?month=2026-11&agent=agent1", "/api/listen-ins?agent=agent1", "/supervise/log?agent=agent1"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 400, path
    resp = await client.get("/api/kpi?month=2026-11&agent=agent1", headers=headers)
    assert "code/agent1" in (await resp.json())["fields"]["agent"]
    mine = await (
        await client.get("/api/kpi?month=2026-11&agent=agent1", headers=logins[Role.SUPERVISOR].headers())
    ).json()
    assert mine["new_leads"] == 1
    for query in ("agent=main/agent1", "dealer=main&agent=agent1"):
        assert await (await client.get(f"/api/kpi?month=2026-11&{query}", headers=headers)).json() == mine, query
    rows = (await (await client.get("/api/listen-ins?agent=b/b_agent", headers=headers)).json())["listen_ins"]
    assert [r["agent"] for r in rows] == ["b_agent"]


async def test_in_a_group_of_one_dealer_a_plain_agent_is_unambiguous(
    client: TestClient, dialer_app: App, data: Fixtures
) -> None:
    await client.app[AUTH].add_user("group_sup", Role.SUPERVISOR.value, PASSWORD, group=True)
    new = await client.app[AUTH].login("group_sup", PASSWORD, "127.0.0.1")
    resp = await client.get(
        "/api/recordings?agent=agent1", headers=Login(Role.SUPERVISOR, new.token, new.csrf).headers()
    )
    assert resp.status == 200
    assert [r["id"] for r in (await resp.json())["recordings"]] == [data.own_recording]
