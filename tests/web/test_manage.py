"""The sales manager's page and APIs: filter, transfer, bulk re-activation, ownership, and who may do what."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.leads.model import LeadState
from tests.web.conftest import COLLEAGUE, Fixtures, Login


@pytest.fixture
async def agent2(client: TestClient) -> str:
    """A second agent to give leads to (the seed's colleague, who owns its other lead)."""
    return COLLEAGUE[1]


async def _ids(client: TestClient, login: Login, query: str = "") -> list[int]:
    resp = await client.get(f"/api/leads{query}", headers=login.headers())
    assert resp.status == 200, await resp.text()
    return [lead["id"] for lead in (await resp.json())["leads"]]


async def test_lead_list_filters_and_sees_only_own_leads_as_agent(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    manager = logins[Role.SALES_MANAGER]
    assert set(await _ids(client, manager)) == {data.own_lead, data.other_lead}
    assert await _ids(client, manager, "?owner=agent2") == [data.other_lead]
    assert await _ids(client, manager, "?owner=unassigned") == []
    assert await _ids(client, manager, "?state=defeated") == []
    assert await _ids(client, logins[Role.QA], "?source=hq&per_page=1&page=2") != []
    # An agent asking for a colleague's leads gets their own.
    assert await _ids(client, logins[Role.AGENT], "?owner=agent2") == [data.own_lead]
    bad = await client.get("/api/leads?state=lost&per_page=500", headers=manager.headers())
    assert bad.status == 400 and set((await bad.json())["fields"]) == {"state", "per_page"}


async def test_transfer_api_reports_per_lead_and_is_idempotent(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, agent2: str
) -> None:
    manager = logins[Role.SALES_MANAGER]
    body = {"lead_ids": [data.own_lead, data.other_lead], "to_owner": agent2, "reason": "agent1 on leave"}
    resp = await client.post("/api/leads/transfer", json=body, headers=manager.headers())
    assert resp.status == 200, await resp.text()
    results = (await resp.json())["results"]
    assert [(r["lead_id"], r["result"], r["from"], r["to"]) for r in results] == [
        (data.own_lead, "transferred", "agent1", "agent2"), (data.other_lead, "unchanged", "agent2", "agent2"),
    ]  # fmt: skip
    card = await client.get(f"/api/leads/{data.own_lead}", headers=manager.headers())
    last = (await card.json())["history"][-1]
    assert (last["kind"], last["actor"], last["data"]["reason"]) == ("transferred", "web:zhao", "agent1 on leave")
    again = await client.post("/api/leads/transfer", json=body, headers=manager.headers())
    assert [r["result"] for r in (await again.json())["results"]] == ["unchanged", "unchanged"]
    # The lead card labels the new history entry.
    page = await client.get(f"/leads/{data.own_lead}", headers=manager.headers())
    assert "分配/转交" in await page.text()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lead_ids": [1], "to_owner": "li", "reason": "x"}, "to_owner"),  # a supervisor's login, not an agent endpoint
        ({"lead_ids": [1], "to_owner": "agent9", "reason": "x"}, "to_owner"),
        ({"lead_ids": [1], "reason": "x"}, "to_owner"),
        ({"lead_ids": [1], "to_owner": "agent1", "reason": " "}, "reason"),
        ({"lead_ids": ["one"], "to_owner": "agent1", "reason": "x"}, "lead_ids"),
        ({"lead_ids": [999], "to_owner": "agent1", "reason": "x"}, "lead_ids"),
    ],
)
async def test_bad_transfers_are_400_naming_the_field(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, body: dict[str, object], field: str
) -> None:
    resp = await client.post("/api/leads/transfer", json=body, headers=logins[Role.SUPERVISOR].headers())
    assert resp.status == 400
    answer = await resp.json()
    assert list(answer["fields"]) == [field]
    if field == "to_owner" and "to_owner" in body:
        assert str(body["to_owner"]) in answer["fields"]["to_owner"]


async def test_roles_and_csrf(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    body = {"lead_ids": [data.own_lead], "to_owner": "agent1", "reason": "x"}
    for role in (Role.AGENT, Role.QA):
        assert (await client.post("/api/leads/transfer", json=body, headers=logins[role].headers())).status == 403, role
        assert (await client.post("/api/leads/reactivate", json=body, headers=logins[role].headers())).status == 403, (
            role
        )
    assert (await client.get("/manage", headers=logins[Role.AGENT].headers())).status == 403
    assert (await client.get("/manage", headers=logins[Role.QA].headers())).status == 403
    # QA reads: the list and the summary.
    assert (await client.get("/api/ownership", headers=logins[Role.QA].headers())).status == 200
    no_csrf = await client.post(
        "/api/leads/transfer", json=body, headers=logins[Role.SALES_MANAGER].headers(csrf=False)
    )
    assert no_csrf.status == 403 and (await no_csrf.json())["error"] == "csrf"


async def test_bulk_reactivation_with_assignment(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, agent2: str
) -> None:
    store = dialer_app.leads.store
    for lead_id in (data.own_lead, data.other_lead):
        await store.change_state(lead_id, LeadState.DEFEATED, dialer_app.clock.now(), "agent1", defeat_reason="price")
    manager = logins[Role.SALES_MANAGER]
    body = {"lead_ids": [data.own_lead, data.other_lead], "to_owner": agent2, "reason": "new model in stock"}
    resp = await client.post("/api/leads/reactivate", json=body, headers=manager.headers())
    assert resp.status == 200, await resp.text()
    assert [(r["result"], r["owner"], r["transferred"]) for r in (await resp.json())["results"]] == [
        ("reactivated", "agent2", True), ("reactivated", "agent2", False),
    ]  # fmt: skip
    assert (await store.get(data.own_lead)).state is LeadState.REACTIVATED
    # A second click: nothing defeated any more, refused with the lead named.
    again = await client.post("/api/leads/reactivate", json=body, headers=manager.headers())
    assert again.status == 400 and str(data.own_lead) in (await again.json())["fields"]["lead_ids"]


async def test_ownership_summary(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    resp = await client.get("/api/ownership", headers=logins[Role.SALES_MANAGER].headers())
    answer = await resp.json()
    assert [(o["owner"], o["by_state"], o["total"], o["overdue"]) for o in answer["owners"]] == [
        ("agent1", {"new": 1}, 1, 0), ("agent2", {"new": 1}, 1, 0),
    ]  # fmt: skip
    assert answer["unassigned"] == {"by_state": {}, "total": 0, "overdue": 0}
    mine = await client.get("/api/ownership", headers=logins[Role.AGENT].headers())
    assert [o["owner"] for o in (await mine.json())["owners"]] == ["agent1"]


async def test_manage_page_transfers_selected_leads_through_the_form(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, agent2: str
) -> None:
    manager = logins[Role.SALES_MANAGER]
    page = await client.get("/manage?owner=agent1", headers=manager.headers())
    assert page.status == 200
    text = await page.text()
    for element in ("manage-filter", "manage-leads", "manage-transfer-form", "manage-to-owner", "manage-reason",
                    "manage-transfer-submit", "manage-reactivate-submit", "ownership", "manage-result", "nav-manage"):  # fmt: skip
        assert f'id="{element}"' in text, element
    assert f'id="manage-lead-{data.own_lead}"' in text and f'id="manage-lead-{data.other_lead}"' not in text
    form = {"csrf_token": manager.csrf, "owner": "agent1", "lead_ids": str(data.own_lead), "to_owner": agent2, "reason": "cover",
            "op": "transfer"}  # fmt: skip
    done = await client.post("/manage", data=form, headers=manager.headers(csrf=False), allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/manage?owner=agent1&transferred=1&unchanged=0"
    assert (await dialer_app.leads.store.get(data.own_lead)).owner == "agent2"
    after = await client.get(done.headers["Location"], headers=manager.headers())
    assert "已分配或转交 1 条" in await after.text()
    # Without a reason: the page again, the message next to the field, nothing changed.
    bad = await client.post(
        "/manage", data={**form, "reason": "", "to_owner": "agent1"}, headers=manager.headers(csrf=False)
    )
    assert bad.status == 400 and 'id="error-reason"' in await bad.text()
    assert (await dialer_app.leads.store.get(data.own_lead)).owner == "agent2"
