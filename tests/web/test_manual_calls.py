"""Manual calls from the console (``POST /api/calls``, the lead card's and the desk's call buttons).

The console's App gets a call service over the scripted AMI (tests/telephony/fakes.py), so each call's
Originate and events are the test's: the attempt must exist before the Originate, the agent's phone is
what is originated (the customer is dialled from it, [dcc-manual]), and every refusal says why. The
real PBX does the same in tests/telephony/test_manual_call.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App, open_store
from dialer.campaigns.manual import ManualCallRefused, ManualCalls
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Outcome
from dialer.domain.campaigns.agents import AgentSession, AgentState
from dialer.domain.leads.model import LeadSource
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.telephony.calls import CallService
from dialer.web.keys import AUTH, RUNNERS
from tests.telephony.fakes import FakeAmi
from tests.web.conftest import CHEAP, PASSWORD, Fixtures, Login

OWN_NUMBER = "+8613800138000"  # agent1's lead (tests/web/conftest.py)
# A supervisor with a desk phone (the suite's supervisor login has none).
SUPERVISOR_WITH_PHONE = ("chen", "supervisor")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # One line, so a second call finds none free.
    return dataclasses.replace(settings, pbx=dataclasses.replace(settings.pbx, outbound_lines=1))


@pytest.fixture
def fake(clock: VirtualClock) -> FakeAmi:
    return FakeAmi(clock)


@pytest.fixture
async def dialer_app(settings: Settings, clock: VirtualClock, fake: FakeAmi) -> AsyncIterator[App]:
    """The store-only App with a call service over the scripted AMI: what ``dialer web`` runs, minus the PBX."""
    async with open_store(settings, clock, password_cost=CHEAP) as app:
        calls = CallService(ami_client=fake, attempts=app.attempts, settings=settings, clock=clock)
        manual = ManualCalls(calls=calls, campaigns=app.campaign_store, leads=app.leads.store, presence=app.presence,
                             settings=settings, clock=clock)  # fmt: skip

        async def route() -> None:
            async for event in fake.events():
                calls.route(event)

        router = asyncio.create_task(route())
        try:
            yield dataclasses.replace(app, calls=calls, manual_calls=manual)
        finally:
            router.cancel()
            await manual.close()


async def login(client: TestClient, name: str, role: Role) -> Login:
    new = await client.app[AUTH].login(name, PASSWORD, "127.0.0.1")
    return Login(role, new.token, new.csrf)


async def supervisor_login(client: TestClient) -> Login:
    name, phone = SUPERVISOR_WITH_PHONE
    await client.app[AUTH].add_user(name, Role.SUPERVISOR.value, PASSWORD, agent=phone)
    return await login(client, name, Role.SUPERVISOR)


async def call(client: TestClient, login: Login, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/calls", json=body, headers=login.headers())
    return resp.status, json.loads(await resp.text())


async def until(condition: Callable[[], object], what: str) -> None:
    """Let the call's task run until ``condition`` holds (bounded by a count of turns, not by time)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def ended(app: App, agent: str) -> None:
    """Wait until the agent's manual call has been followed to its end (its events are queued already)."""
    manual = app.manual_calls
    assert manual is not None
    await until(lambda: manual.on_call(agent) is None, f"{agent}'s call did not end")


async def originated(fake: FakeAmi, n: int = 1) -> None:
    """The API answers once the attempt is committed; the Originate follows in the call's task."""
    await until(lambda: len(fake.originates) >= n, "no Originate")


async def test_an_agent_calls_a_lead_and_the_call_is_an_attempt_like_any_other(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi
) -> None:
    agent = logins[Role.AGENT]
    seen_before_originate: list[Any] = []

    async def look(fields: dict[str, Any]) -> None:
        seen_before_originate.append(await dialer_app.attempts.get(fields["channel_id"]))

    fake.on_originate = look
    status, body = await call(client, agent, lead_id=data.own_lead)

    assert status == 201, body
    attempt = body["attempt"]
    assert (attempt["lead_id"], attempt["agent"], attempt["number"]) == (data.own_lead, "agent1", OWN_NUMBER)
    # The row was committed before the Originate went out.
    await until(lambda: seen_before_originate, "no Originate")
    assert seen_before_originate[0] is not None and seen_before_originate[0].state is CallState.PENDING
    # The agent's phone is rung first; the customer's digits are dialled from it once it answers.
    sent = fake.originates[0]
    assert (sent["channel"], sent["context"], sent["exten"]) == ("PJSIP/agent1", "dcc-manual", "13800138000")
    assert sent["variables"]["DCC_AGENT"] == "agent1" and sent["variables"]["DCC_REC"].endswith(".wav")
    history = await dialer_app.leads.store.events(data.own_lead)
    placed = [e for e in history if e.kind == "manual_call"]
    assert len(placed) == 1 and placed[0].actor == "web:zhang" and placed[0].data["attempt_id"] == attempt["id"]
    assert "window_override" not in placed[0].data

    # While it lasts, campaign runners read the agent as paused: no campaign call is put through to them.
    assert dialer_app.manual_calls is not None
    during = (await dialer_app.manual_calls.current())["agent1"]
    assert (during.state.value, during.reason) == ("paused", "manual_call")

    # The agent answers (OriginateResponse), the PBX dials the customer from the agent's channel, who answers.
    call_id = attempt["call_id"]
    customer = f"{call_id}-cust"
    fake.originate_response(call_id, True, 4)
    fake.dial_begin(call_id, call_id, "PJSIP/carrier-00000001", customer)
    # The recording starts on the customer's channel as they answer ([dcc-rec-customer]): it follows them.
    fake.varset(call_id, customer, "MIXMONITOR_FILENAME", "/rec/x.wav")
    fake.dial_end(call_id, call_id, "PJSIP/carrier-00000001", customer, "ANSWER")
    fake.hangup(call_id, customer, 16)
    fake.hangup(call_id, call_id, 16)
    await ended(dialer_app, "agent1")
    done = await dialer_app.attempts.get(call_id)
    assert done is not None
    assert (done.outcome, done.agent, done.recording) == (Outcome.ANSWERED, "agent1", "/rec/x.wav")
    assert done.connected_at is not None
    assert "agent1" not in await dialer_app.manual_calls.current()

    # Back on the lead card, the disposition form already names the call; filing it goes to DOSS.
    page = await client.get(f"/leads/{data.own_lead}?calling={attempt['id']}", headers=agent.headers())
    text = await page.text()
    assert re.search(rf'id="attempt_id" name="attempt_id" value="{attempt["id"]}"', text), text
    later = (
        (dialer_app.clock.now() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d 10:00")
    )
    filed = await client.post(f"/api/leads/{data.own_lead}/disposition", headers=agent.headers(),
                              json={"disposition": "callback", "attempt_id": attempt["id"], "next_follow_up_at": later, "purpose": "other"})  # fmt: skip
    assert filed.status == 200, await filed.text()
    assert await dialer_app.doss.filed(attempt["id"])


async def test_a_customer_who_does_not_answer_goes_into_the_history_without_a_disposition(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi
) -> None:
    status, body = await call(client, logins[Role.AGENT], lead_id=data.own_lead)
    assert status == 201
    await originated(fake)
    call_id = body["attempt"]["call_id"]
    customer = f"{call_id}-cust"
    fake.originate_response(call_id, True, 4)
    fake.dial_begin(call_id, call_id, "PJSIP/carrier-00000001", customer)
    fake.dial_end(call_id, call_id, "PJSIP/carrier-00000001", customer, "BUSY")
    fake.hangup(call_id, customer, 17)
    fake.hangup(call_id, call_id, 17)
    await ended(dialer_app, "agent1")
    done = await dialer_app.attempts.get(call_id)
    assert done is not None and (done.outcome, done.hangup_cause) == (Outcome.BUSY, 17)
    history = await dialer_app.leads.store.events(data.own_lead)
    assert [e.data["outcome"] for e in history if e.kind == "attempt"] == ["busy"]


async def test_an_agent_whose_phone_does_not_answer_calls_nobody(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi
) -> None:
    status, body = await call(client, logins[Role.AGENT], lead_id=data.own_lead)
    assert status == 201
    await originated(fake)
    call_id = body["attempt"]["call_id"]
    fake.hangup(call_id, call_id, 19)  # the phone rang out: no customer leg was ever created
    fake.originate_response(call_id, False, 3)
    await ended(dialer_app, "agent1")
    done = await dialer_app.attempts.get(call_id)
    assert done is not None and done.outcome is Outcome.FAILED
    assert done.detail == "agent phone agent1 not answered (cause 19)"
    assert len(fake.originates) == 1


async def test_refusals_name_why(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi,
    clock: VirtualClock,
) -> None:  # fmt: skip
    agent = logins[Role.AGENT]
    # Someone else's lead, and a number that is not the lead's.
    assert (await call(client, agent, lead_id=data.other_lead))[0] == 403
    status, body = await call(client, agent, lead_id=data.own_lead, number="13700000000")
    assert status == 400 and "number" in body["fields"]
    assert (await call(client, agent, lead_id=999999))[0] == 404

    # On the suppression list: refused, whatever the role, naming the entry.
    await dialer_app.privacy.suppress(OWN_NUMBER, "客户投诉", SuppressionSource.CONSOLE, "test")
    status, body = await call(client, agent, lead_id=data.own_lead)
    assert (status, body["error"], [r["reason"] for r in body["reasons"]]) == (
        422, "call_not_allowed", ["number_suppressed"]
    )  # fmt: skip
    assert (
        body["reasons"][0]["text"].startswith("号码 +86138****8000 在勿扰名单中：")
        and "客户投诉" in body["reasons"][0]["text"]
    )
    assert fake.originates == []


async def test_outside_the_windows_only_a_supervisor_calls_and_the_history_says_who_and_why(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi,
    clock: VirtualClock,
) -> None:  # fmt: skip
    clock.set(clock.now() + timedelta(hours=12))  # 21:00 in Shanghai: every window has closed
    agent = await login(client, "zhang", Role.AGENT)  # the morning's sessions have expired
    status, body = await call(client, agent, lead_id=data.own_lead)
    assert status == 422, body
    assert [r["reason"] for r in body["reasons"]] == ["window_closed"]
    status, body = await call(client, agent, lead_id=data.own_lead, window_override="customer asked")
    assert (status, body["error"]) == (403, "override_not_allowed")
    supervisor = await supervisor_login(client)
    assert (await call(client, supervisor, lead_id=data.own_lead))[0] == 422

    status, body = await call(client, supervisor, lead_id=data.own_lead, window_override="customer asked for 21:00")

    assert status == 201, body
    await originated(fake)
    assert fake.originates[0]["channel"] == "PJSIP/supervisor"
    placed = [e for e in await dialer_app.leads.store.events(data.own_lead) if e.kind == "manual_call"]
    assert (placed[0].actor, placed[0].data["window_override"]) == ("web:chen", "customer asked for 21:00")


async def test_the_line_limit_a_lead_already_in_a_call_and_a_busy_phone(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi, tmp_path: Path
) -> None:
    agent = logins[Role.AGENT]
    assert (await call(client, agent, lead_id=data.own_lead))[0] == 201  # rings on: the one line is taken
    supervisor = await supervisor_login(client)

    status, body = await call(client, supervisor, lead_id=data.other_lead)
    assert (status, body["error"]) == (409, "line_limit")
    status, body = await call(client, supervisor, lead_id=data.own_lead)
    assert (status, [r["reason"] for r in body["reasons"]]) == (422, ["in_call"])
    # The agent's phone is talking: another of their leads waits until it is free.
    sheet = tmp_path / "more.csv"
    write_sheet(sheet, ["姓名", "手机", "负责人"], [["王五", "13700137000", "agent1"]])
    await dialer_app.leads.importer.import_file(sheet, actor="test", source=LeadSource.HQ)
    second = await dialer_app.leads.store.find_by_phone("+8613700137000")
    assert second is not None
    status, body = await call(client, agent, lead_id=second.id)
    assert (status, body["error"]) == (409, "agent_busy")
    await originated(fake)
    assert len(fake.originates) == 1


async def test_the_lead_card_and_the_desk_offer_the_call(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, dialer_app: App, fake: FakeAmi,
    clock: VirtualClock,
) -> None:  # fmt: skip
    agent = logins[Role.AGENT]
    card = await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()
    assert 'id="call-form"' in card and 'id="call-override"' not in card  # no override for an agent
    # A callback due now: one click calls it back.
    await dialer_app.leads.store.change_state(
        data.own_lead, (await dialer_app.leads.store.get(data.own_lead)).state, clock.now(), "test",
        callback_at=clock.now() - timedelta(minutes=1),
    )  # fmt: skip
    desk = await (await client.get("/desk?scope=all", headers=agent.headers())).text()
    assert f'id="callback-call-{data.own_lead}"' in desk
    form = await client.post(f"/leads/{data.own_lead}/call", data={"csrf_token": agent.csrf, "phone": "0"},
                             headers=agent.headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert form.status == 303 and form.headers["Location"].startswith(f"/leads/{data.own_lead}?calling=")
    await originated(fake)
    assert fake.originates[0]["channel"] == "PJSIP/agent1"
    # Refused from the form: the card again, with the reason next to the button.
    again = await client.post(f"/leads/{data.own_lead}/call", data={"csrf_token": agent.csrf, "phone": "0"},
                              headers=agent.headers(csrf=False))  # fmt: skip
    assert again.status == 422 and 'id="error-call"' in await again.text()


async def test_an_agent_on_a_campaign_call_or_its_wrap_up_is_busy(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, fake: FakeAmi, clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    session = AgentSession("agent1", 30.0, clock.now())
    session.state = AgentState.WRAP_UP  # what a campaign runner's roster says after the agent's last call
    monkeypatch.setattr(client.app[RUNNERS], "sessions_of", lambda agent: [session] if agent == "agent1" else [])
    status, body = await call(client, logins[Role.AGENT], lead_id=data.own_lead)
    assert (status, body["error"]) == (409, "agent_busy")
    assert fake.originates == []


async def test_a_second_click_while_the_first_call_is_being_placed_finds_the_phone_busy(
    data: Fixtures, dialer_app: App, fake: FakeAmi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = tmp_path / "more.csv"
    write_sheet(sheet, ["姓名", "手机", "负责人"], [["王五", "13700137000", "agent1"]])
    await dialer_app.leads.importer.import_file(sheet, actor="test", source=LeadSource.HQ)
    second = await dialer_app.leads.store.find_by_phone("+8613700137000")
    manual, calls = dialer_app.manual_calls, dialer_app.calls
    assert second is not None and manual is not None and calls is not None
    # Hold the first call between taking its line and committing its attempt.
    gate = asyncio.Event()
    create = dialer_app.attempts.create

    async def held_create(**fields: Any) -> Any:
        await gate.wait()
        return await create(**fields)

    monkeypatch.setattr(dialer_app.attempts, "create", held_create)
    first = asyncio.create_task(manual.place(lead_id=data.own_lead, agent="agent1", actor="web:zhang"))
    await until(lambda: calls.lines.in_use == 1, "the first call's line")

    with pytest.raises(ManualCallRefused) as refused:
        await manual.place(lead_id=second.id, agent="agent1", actor="web:zhang")
    assert refused.value.code == "agent_busy"
    gate.set()
    assert (await first).agent == "agent1"
    await originated(fake)
    assert len(fake.originates) == 1
