"""The sales manager's monthly KPI targets in the console (#13 item 6): the form, the API, the audit, the
wallboard's progress; nobody else may set them."""

from __future__ import annotations

import asyncio
import re

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction, AuditQuery
from tests.web.conftest import Login


async def test_the_sales_manager_sets_targets_with_the_form_and_the_wallboard_shows_progress(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], clock: VirtualClock
) -> None:
    manager = logins[Role.SALES_MANAGER]
    page = await (await client.get("/reports/targets?month=2026-11", headers=manager.headers())).text()
    assert 'id="targets-form"' in page and 'id="target-deals-value"' in page
    form = {"csrf_token": manager.csrf, "month": "2026-11", "follow_up_rate": "90", "invite_to_store_rate": "",
            "deals": "30", "contacts_captured": ""}  # fmt: skip
    resp = await client.post("/reports/targets", data=form, headers=manager.headers(), allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/reports/targets?month=2026-11"
    shown = await (await client.get("/api/kpi/targets?month=2026-11", headers=manager.headers())).json()
    # Nobody is followed up yet (0 of the 2 seeded leads): 0 % of the 90 % target, 0 of 30 deals.
    assert shown == {"month": "2026-11", "targets": [
        {"kpi": "follow_up_rate", "target": 90.0, "actual": 0.0, "progress": 0.0},
        {"kpi": "deals", "target": 30.0, "actual": 0.0, "progress": 0.0},
    ]}  # fmt: skip
    # Saving the same form again changes nothing and writes no audit row; a new value does.
    await client.post("/reports/targets", data=form | {"deals": "25"}, headers=manager.headers())
    entries, _ = await dialer_app.audit.entries(AuditQuery(action=AuditAction.KPI_TARGET_SET, limit=10))
    assert sorted((e.actor, e.target, e.detail_dict()["kpi"], e.detail_dict()["target"], e.detail_dict()["previous"])
                  for e in entries) == [
        ("zhao", "2026-11", "deals", 25.0, 30.0),
        ("zhao", "2026-11", "deals", 30.0, None),
        ("zhao", "2026-11", "follow_up_rate", 90.0, None),
    ]  # fmt: skip
    # The wallboard's slow part (the month's KPIs) is recomputed once its refresh interval has passed.
    clock.advance(dialer_app.settings.web.wallboard_slow_refresh_s + 1)
    for _ in range(200):
        snap = await (await client.get("/api/wallboard", headers=logins[Role.SUPERVISOR].headers())).json()
        if snap["targets"]:
            break
        await asyncio.sleep(0.05)
    assert [(t["kpi"], t["target"]) for t in snap["targets"]] == [("follow_up_rate", 90.0), ("deals", 25.0)]
    assert 'id="targets"' in await (await client.get("/wallboard", headers=logins[Role.SUPERVISOR].headers())).text()
    # The monthly report and its XLSX carry the progress too.
    report = await (await client.get("/reports?month=2026-11", headers=manager.headers())).text()
    assert 'id="report-targets"' in report


async def test_a_bad_target_sets_nothing_and_says_which(
    client: TestClient, dialer_app: App, logins: dict[Role, Login]
) -> None:
    manager = logins[Role.SALES_MANAGER]
    resp = await client.post("/api/kpi/targets", json={"month": "2026-11", "deals": 30, "follow_up_rate": 120},
                             headers=manager.headers())  # fmt: skip
    assert resp.status == 400
    assert set((await resp.json())["fields"]) == {"follow_up_rate"}
    form = {"csrf_token": manager.csrf, "month": "2026-11", "deals": "=1+1"}
    page = await client.post("/reports/targets", data=form, headers=manager.headers())
    text = await page.text()
    assert page.status == 400 and 'id="error-deals"' in text and re.search(r'value="=1\+1"', text)
    bad_month = await client.post("/api/kpi/targets", json={"month": "2026-13", "deals": 3}, headers=manager.headers())
    assert bad_month.status == 400 and "month" in (await bad_month.json())["fields"]
    ok = await client.post("/api/kpi/targets", json={"month": "2026-11", "deals": None}, headers=manager.headers())
    assert (await ok.json())["targets"] == []
    assert (await dialer_app.audit.entries(AuditQuery(action=AuditAction.KPI_TARGET_SET, limit=10)))[1] == 0


async def test_only_the_sales_manager_sets_targets(client: TestClient, logins: dict[Role, Login]) -> None:
    supervisor = logins[Role.SUPERVISOR]
    page = await (await client.get("/reports/targets", headers=supervisor.headers())).text()
    assert 'id="targets"' in page and 'id="targets-form"' not in page  # read-only
    resp = await client.post("/api/kpi/targets", json={"month": "2026-11", "deals": 3}, headers=supervisor.headers())
    assert resp.status == 403
