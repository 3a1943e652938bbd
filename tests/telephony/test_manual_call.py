"""A manual call on the real PBX: the agent's phone rings first, then the customer's ([dcc-manual]), from the call
service and from POST /api/calls while the service (`dialer web`'s) runs.

The lab's SIPp agent phone answers at once; the SIPp customer behaves as asterisk/sipp/customers.csv
says. A lab of our own (ports shifted by :data:`OFFSET`) so the dialplan is this worktree's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from dialer.app import App, open_app
from dialer.clock import ShiftedClock
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import Outcome
from dialer.domain.leads.model import LeadSource
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.lab.lab import Lab
from dialer.leads.sheets import write_sheet
from dialer.phone import normalize
from dialer.server import Server, serve
from dialer.settings import Settings
from tests.conftest import START, settings_beside
from tests.telephony.talk import agent_hangs_up_once_talked
from tests.web.conftest import CHEAP, PASSWORD

pytestmark = pytest.mark.asterisk

# Ports of this test's lab: the session lab's plus this (SIP 17860, AMI 17838, RTP 58000-58999).
OFFSET = 2800
ANSWERS = "13800000001"  # answers after 1 s, talks 6 s
BUSY = "13800000021"
# A limit that only keeps a broken run from hanging; nothing here measures speed.
LIMIT_S = 60.0


@pytest.fixture(scope="module")
def manual_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = settings_beside(tmp_path_factory.mktemp("manual-lab"), OFFSET)
    settings = dataclasses.replace(base, pbx=dataclasses.replace(base.pbx, ring_timeout_s=6.0))
    lab = Lab(settings)
    lab.up()
    try:
        yield settings
    finally:
        lab.down()


def store_of(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, store=dataclasses.replace(settings.store, path=str(tmp_path / "d.sqlite3")))


async def test_the_agent_s_phone_rings_first_then_the_customer_s(manual_lab: Settings, tmp_path: Path) -> None:
    settings = store_of(manual_lab, tmp_path)
    async with open_app(settings) as app:
        assert app.calls is not None
        region = settings.dealer.region
        answered = await app.calls.dial(normalize(ANSWERS, region), agent="agent2", agent_first=True)
        busy = await app.calls.dial(normalize(BUSY, region), agent="agent2", agent_first=True)
        files = await app.recordings.current_files([answered])
    assert (answered.outcome, answered.agent) == (Outcome.ANSWERED, "agent2")
    # Connected as the customer answers: nobody waits on hold.
    assert answered.answered_at is not None and answered.connected_at is not None
    assert answered.connected_at >= answered.answered_at
    assert files[answered.call_id] is not None
    # The customer said no: the customer leg's cause, not the agent's, names the outcome.
    assert (busy.outcome, busy.agent, busy.hangup_cause) == (Outcome.BUSY, "agent2", 17)


async def import_leads(app: App, folder: Path, rows: list[list[str]]) -> list[int]:
    path = folder / "leads.csv"
    write_sheet(path, ["姓名", "手机", "负责人"], rows)
    await app.leads.importer.import_file(path, actor="test", source=LeadSource.HQ)
    found = [await app.leads.store.find_by_phone(normalize(r[1]).e164) for r in rows]
    return [lead.id for lead in found if lead is not None]


class Console:
    """One logged-in user of the running service's console, over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str, csrf: str) -> None:
        self._http, self._url = http, url
        self._headers = {"Cookie": f"dcc_session={token}", "X-CSRF-Token": csrf}

    @classmethod
    async def login(cls, http: aiohttp.ClientSession, server: Server, name: str) -> Console:
        session = await server.app.auth.login(name, PASSWORD, "127.0.0.1")
        return cls(http, server.url, session.token, session.csrf)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self._http.post(self._url + path, json=body, headers=self._headers) as answer:
            return answer.status, await answer.json()


async def ended(app: App, call_id: str) -> Attempt:
    """The call's attempt once it has ended: the agent hangs up once they have talked (tests/telephony/talk.py)."""
    await agent_hangs_up_once_talked(app, call_id)
    # Real time bounds the wait on the real PBX's call.
    async with asyncio.timeout(LIMIT_S):
        while (attempt := await app.attempts.get(call_id)) is None or attempt.outcome is None:  # noqa: ASYNC110 - the store has no event to await
            await asyncio.sleep(0.1)
    return attempt


async def test_a_call_from_the_api_while_the_service_runs(manual_lab: Settings, tmp_path: Path) -> None:
    """``dialer web``'s service owns the PBX link; the console's POST /api/calls goes through it: the agent's
    SIPp phone answers, then the SIPp customer; the call is recorded and filed. The rules refuse with a reason."""
    settings = dataclasses.replace(
        store_of(manual_lab, tmp_path), pbx=dataclasses.replace(manual_lab.pbx, outbound_lines=1, ring_timeout_s=6.0)
    )
    clock = ShiftedClock(START + timedelta(hours=1))  # 10:00 in Shanghai: the calling windows are open
    async with serve(settings, clock=clock, port=0, password_cost=CHEAP, watch_campaigns=False) as server:
        app = server.app
        # The agent first: a lead file's owner must be someone who goes by that name (one identity per person).
        await app.auth.add_user("zhang", "agent", PASSWORD, agent="agent1")
        await app.auth.add_user("li", "supervisor", PASSWORD, agent="supervisor")
        answers, suppressed, other = await import_leads(app, tmp_path, [
            ["王芳", ANSWERS, "agent1"], ["李娜", "13800000002", "agent1"], ["赵磊", "13800000003", "agent1"],
        ])  # fmt: skip
        await app.privacy.suppress("13800000002", "回T退订", SuppressionSource.SMS_REPLY, "test")
        async with aiohttp.ClientSession() as http:
            agent = await Console.login(http, server, "zhang")
            supervisor = await Console.login(http, server, "li")

            status, body = await agent.post("/api/calls", {"lead_id": answers})
            assert status == 201, body
            # The one line is taken: the next call is refused at once, naming why.
            status, refused = await supervisor.post("/api/calls", {"lead_id": other})
            assert (status, refused["error"]) == (409, "line_limit")
            status, refused = await agent.post("/api/calls", {"lead_id": suppressed})
            assert (status, [r["reason"] for r in refused["reasons"]]) == (422, ["number_suppressed"])

            attempt = await ended(app, body["attempt"]["call_id"])
            assert (attempt.outcome, attempt.agent, attempt.lead_id) == (Outcome.ANSWERED, "agent1", answers)
            assert app.calls is not None
            await app.calls.drain()  # the recording is registered once the call is over
            assert (await app.recordings.current_files([attempt]))[attempt.call_id] is not None
            later = (clock.now() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d 10:00")
            status, filed = await agent.post(f"/api/leads/{answers}/disposition", {
                "disposition": "callback", "attempt_id": attempt.id, "next_follow_up_at": later, "purpose": "other"})  # fmt: skip
            assert status == 200, filed
            assert await app.doss.filed(attempt.id)

            clock.jump(11 * 3600)  # 21:00: the windows have closed (and the morning's sessions expired)
            agent = await Console.login(http, server, "zhang")
            supervisor = await Console.login(http, server, "li")
            status, refused = await agent.post("/api/calls", {"lead_id": answers})
            assert (status, [r["reason"] for r in refused["reasons"]]) == (422, ["window_closed"])
            status, body = await supervisor.post(
                "/api/calls", {"lead_id": answers, "window_override": "客户要求晚上打"}
            )
            assert status == 201, body
            late = await ended(app, body["attempt"]["call_id"])
            assert (late.outcome, late.agent) == (Outcome.ANSWERED, "supervisor")
        history = await app.leads.store.events(answers)
        overrides = [e for e in history if e.kind == "manual_call" and "window_override" in e.data]
        assert [(e.actor, e.data["window_override"]) for e in overrides] == [("web:li", "客户要求晚上打")]
