"""The desk against the real Asterisk: a progressive campaign calls 13800000001 (the lab's customer
who answers and talks 6 s), the SIPp phone of agent1 takes it, agent1's desk socket pops the call and
then the wrap-up, and the disposition filed from the web ends the wrap-up.

The lead belongs to agent2: agent1 took the call, so the lead page and the form are theirs to use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import campaign_runner, open_app
from dialer.campaigns.registry import RunnerRegistry
from dialer.clock import ShiftedClock
from dialer.domain.access.policy import Role
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.lab.lab import Lab
from dialer.leads.sheets import write_sheet
from dialer.settings import CallSettings, Settings, WebSettings
from dialer.web.app import create_app
from dialer.web.keys import AUTH
from tests.conftest import settings_beside
from tests.web.conftest import CHEAP, PASSWORD

pytestmark = pytest.mark.asterisk

OFFSET = 1600
# Bounds a hang only (the call rings, answers and talks for some seconds); nothing is measured.
LIMIT_S = 90.0
CAMPAIGN = """
name = "工作台联调"
kind = "hq"
mode = "progressive"
agents = ["agent1"]
"""


@pytest.fixture
def lab_settings(tmp_path: Path) -> Iterator[Settings]:
    base = settings_beside(tmp_path, OFFSET)
    settings = dataclasses.replace(base, web=WebSettings(cookie_secure=False), calls=CallSettings(amd=False))
    lab = Lab(settings)
    lab.up()
    try:
        yield settings
    finally:
        lab.down()


async def _message(ws: Any, kind: str) -> dict[str, Any]:
    """The next desk message of ``kind``."""
    async with asyncio.timeout(LIMIT_S):
        while (message := json.loads(await ws.receive_str()))["type"] != kind:
            pass
    return message


@pytest.mark.timeout(300)
async def test_a_campaign_call_pops_on_the_desk_and_the_web_disposition_ends_wrap_up(
    lab_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> None:
    # A Monday morning: inside the calling window whenever the test runs.
    clock = ShiftedClock(datetime.combine(datetime(2026, 11, 30).date(), time(10, 0), ZoneInfo("Asia/Shanghai")))
    async with open_app(lab_settings, clock, password_cost=CHEAP) as app:
        await app.auth.add_user("wu", Role.AGENT.value, PASSWORD, agent="agent2")  # the lead's owner
        sheet = tmp_path / "lead.csv"
        write_sheet(sheet, ["姓名", "手机", "负责人"], [["王五", "13800000001", "agent2"]])
        assert (await app.leads.importer.import_file(sheet, actor="经理", source=LeadSource.HQ)).created == 1
        lead = await app.leads.store.find_by_phone("+8613800000001")
        assert lead is not None and lead.owner == "agent2"
        cfile = tmp_path / "campaign.toml"
        cfile.write_text(CAMPAIGN, encoding="utf-8")
        record = await app.campaigns.create(cfile, actor="主管")
        runners = RunnerRegistry()
        client = await aiohttp_client(create_app(lab_settings, dialer=app, clock=clock, runners=runners))
        await client.app[AUTH].add_user("zhang", Role.AGENT.value, PASSWORD, agent="agent1")
        session = await client.app[AUTH].login("zhang", PASSWORD, "127.0.0.1")
        headers = {"Cookie": f"dcc_session={session.token}", "X-CSRF-Token": session.csrf}
        assert app.ami is not None
        # Logging in from the desk puts agent1's phone in the PBX's inbound queue.
        assert (await client.post("/api/desk/login", headers=headers)).status == 200
        assert "agent1" in await app.ami.command("queue show dcc")
        runner = campaign_runner(app, record.id)
        with runners.serving(runner):
            async with client.ws_connect("/desk/ws", headers=headers) as ws:
                await app.campaigns.command(record.id, Command.START, actor="主管")
                task = asyncio.create_task(runner.run())
                try:
                    call = await _message(ws, "call")
                    assert (call["lead_id"], call["number"], call["url"]) == (
                        lead.id,
                        "+86138****0001",
                        f"/leads/{lead.id}",
                    )
                    wrap = await _message(ws, "wrap_up")
                    assert wrap["lead_id"] == lead.id
                    assert runner.roster.get("agent1").state is AgentState.WRAP_UP
                    page = await client.get(f"/leads/{lead.id}", headers=headers)
                    assert (
                        page.status == 200 and 'id="wrap-up"' in await page.text()
                    )  # not refused: agent1 took the call
                    form = {"csrf_token": session.csrf, "disposition": "booked_visit", "visit_at": "2026-12-02T15:00"}
                    filed = await client.post(
                        f"/leads/{lead.id}/disposition", data=form, headers=headers, allow_redirects=False
                    )
                    assert filed.status == 303
                    ended = await _message(ws, "wrap_up_ended")
                    assert ended["reason"] == "submitted"
                    assert runner.roster.get("agent1").state is AgentState.AVAILABLE
                    summary = await asyncio.wait_for(task, LIMIT_S)  # its one lead is done: the campaign completes
                finally:
                    task.cancel()
        assert summary.status is CampaignStatus.COMPLETED and summary.failures == 0
        assert (await client.post("/api/desk/pause", json={"reason": "午餐"}, headers=headers)).status == 200
        assert "paused" in (await app.ami.command("queue show dcc")).lower()
        assert (await client.post("/api/desk/logout", headers=headers)).status == 200
        assert "agent1" not in await app.ami.command("queue show dcc")
        assert (await app.leads.store.get(lead.id)).state is LeadState.INVITED
        async with app.db.read() as r:
            assert await r.fetchval("SELECT count(*) FROM doss_outbox WHERE lead_id = ?", (lead.id,)) == 1
