"""The suppression list's screen and API (#15 item 4, #19 finding 7): add, search, remove with a reason."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction, AuditQuery
from dialer.web.keys import DIALER, ROUTES
from tests.web.conftest import Login

OWN = "+8613800138000"  # agent1's lead (conftest's seed)


async def test_dnc_routes_admit_the_supervisor_and_the_sales_manager_only(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    declared = {(spec.method, spec.path): spec for spec in client.app[ROUTES].values()}
    for key in (("GET", "/dnc"), ("POST", "/dnc"), ("POST", "/dnc/remove"), ("GET", "/api/dnc"),
                ("POST", "/api/dnc"), ("POST", "/api/dnc/remove")):  # fmt: skip
        assert declared[key].allowed_roles() == {Role.SUPERVISOR, Role.SALES_MANAGER}, key
    document = await client.get("/api/openapi.json", headers=logins[Role.SUPERVISOR].headers())
    spec = (await document.json())["paths"]
    assert {"/api/dnc", "/api/dnc/remove"} <= set(spec)


async def test_add_search_and_remove_through_the_api_with_the_reason_kept(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    boss = logins[Role.SUPERVISOR].headers()
    added = await client.post("/api/dnc", json={"number": "138 0013 8000", "reason": "客户投诉"}, headers=boss)
    assert (added.status, await added.json()) == (201, {"number": OWN, "added": True})
    again = await client.post("/api/dnc", json={"number": OWN, "reason": "再次投诉"}, headers=boss)
    assert (again.status, (await again.json())["added"]) == (200, False)
    (entry,) = (await (await client.get("/api/dnc?q=0013", headers=boss)).json())["entries"]
    assert (entry["number"], entry["reason"], entry["source"], entry["by"]) == (OWN, "客户投诉", "console", "web:li")
    assert entry["lead_id"] is not None  # agent1's lead owns the number
    # The lead is no longer due: all of its numbers are suppressed.
    lead = await client.app[DIALER].leads.store.find_by_phone(OWN)
    assert lead is not None and lead.opt_out_at is not None and lead.due_at is None
    removed = await client.post("/api/dnc/remove", json={"number": OWN, "reason": "客户同意回访"}, headers=boss)
    assert (removed.status, (await removed.json())["removed"]) == (200, True)
    gone = await client.post("/api/dnc/remove", json={"number": OWN, "reason": "客户同意回访"}, headers=boss)
    assert gone.status == 404
    assert (await (await client.get("/api/dnc", headers=boss)).json())["entries"] == []
    # Both changes are in the audit log, the number masked, once each (the repeated add changed nothing).
    audit, _ = await client.app[DIALER].audit.entries(AuditQuery(limit=100))
    changes = [(e.action, e.actor, e.target) for e in audit if str(e.action).startswith("suppression.")]
    assert sorted(changes) == [
        (AuditAction.SUPPRESSION_ADD, "web:li", "+86138****8000"),
        (AuditAction.SUPPRESSION_REMOVE, "web:li", "+86138****8000"),
    ]
    (kept,) = (await (await client.get("/api/dnc?all=1", headers=boss)).json())["entries"]
    assert (kept["lifted_by"], kept["lift_reason"]) == ("web:li", "客户同意回访")


async def test_bad_input_is_named_and_nothing_is_written(client: TestClient, logins: dict[Role, Login]) -> None:
    boss = logins[Role.SALES_MANAGER].headers()
    for body, field in (({"number": "12345", "reason": "x"}, "number"), ({"number": OWN}, "reason"),
                        ({"number": OWN, "reason": "  "}, "reason"), ({"number": OWN, "reason": "a\u0000b"}, "reason"),
                        ({"number": OWN, "reason": "x" * 201}, "reason"), ({"number": ["1"], "reason": "x"}, "number")):  # fmt: skip
        resp = await client.post("/api/dnc", json=body, headers=boss)
        assert resp.status == 400, body
        assert field in (await resp.json())["fields"], body
    for query in ("limit=0", "limit=x", "limit=100000", "q=" + "9" * 201):
        assert (await client.get(f"/api/dnc?{query}", headers=boss)).status == 400, query
    assert (await (await client.get("/api/dnc?all=1", headers=boss)).json())["entries"] == []


async def test_the_page_adds_and_removes_through_its_forms(client: TestClient, logins: dict[Role, Login]) -> None:
    login = logins[Role.SUPERVISOR]
    headers = login.headers(csrf=False)
    page = await client.get("/dnc", headers=headers)
    assert page.status == 200 and 'id="dnc-add"' in await page.text()
    form = {"csrf_token": login.csrf, "number": "13800138000", "reason": "客户来电要求勿扰"}
    done = await client.post("/dnc", data=form, headers=headers, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/dnc?q=8613800138000&all=1&done=added"
    shown = await (await client.get(done.headers["Location"], headers=headers)).text()
    assert "客户来电要求勿扰" in shown and "已加入" in shown and "控制台" in shown
    bad = await client.post("/dnc/remove", data={**form, "reason": ""}, headers=headers)
    assert bad.status == 400 and 'id="error-reason"' in await bad.text()
    out = await client.post("/dnc/remove", data={**form, "reason": "误加"}, headers=headers, allow_redirects=False)
    assert out.headers["Location"].endswith("done=removed")
