"""Visits, test drives and deals from the console (#13): the lead card's forms, the desk, the manager's page, the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.doss.outbox import OutboxEntry, OutboxKind
from dialer.domain.leads.model import LeadState
from dialer.web.keys import AUTH
from tests.web.conftest import PASSWORD, USERS, Fixtures, Login


async def _invite(app: App, clock: VirtualClock, lead_id: int, hours: float = 1) -> None:
    form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=clock.now() + timedelta(hours=hours))
    await app.doss.record_disposition(lead_id, None, Outcome.ANSWERED, form, "agent1")


async def _outbox(app: App) -> list[OutboxEntry]:
    now = app.clock.now()
    return await app.doss.outbox.between(now - timedelta(days=30), now + timedelta(days=1))


async def _kpi(client: TestClient, login: Login) -> dict[str, object]:
    resp = await client.get("/api/kpi?month=2026-11", headers=login.headers())
    assert resp.status == 200
    body = await resp.json()
    return body["kpis"] if "kpis" in body else body


async def test_the_agent_records_a_visit_with_test_drive_and_a_deal_on_the_lead_card(
    client: TestClient, dialer_app: App, clock: VirtualClock, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT]
    await _invite(dialer_app, clock, data.own_lead)
    clock.advance(3600)
    card = await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()
    assert 'id="visit-form"' in card and 'id="deal-form"' in card
    # Empty means now (dealer time shown: 09:00 + 1 h), and no later time can be picked.
    assert "时间（留空即现在，2026-11-29 10:00）" in card
    resp = await client.post(f"/leads/{data.own_lead}/visit", headers=agent.headers(csrf=False),
                             data={"csrf_token": agent.csrf, "at": "2026-11-29T09:50", "test_drive": "1"},
                             allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"] == f"/leads/{data.own_lead}?saved=1"
    lead = await dialer_app.leads.store.get(data.own_lead)
    assert lead.state is LeadState.VISITED
    state_event = [e for e in await dialer_app.leads.store.events(lead.id) if e.kind == "state"][-1]
    assert state_event.actor == "web:zhang" and state_event.data["test_drive"] is True
    assert state_event.at.isoformat() == "2026-11-29T01:50:00+00:00"
    entries = await _outbox(dialer_app)
    row = entries[-1]
    assert (row.kind, row.record.actor, row.record.result) == (OutboxKind.MILESTONE, "web:zhang", "已到店（试乘试驾）")
    # Visiting again is refused, naming the lead and its state; nothing is written.
    again = await client.post(f"/leads/{data.own_lead}/visit", headers=agent.headers(csrf=False),
                              data={"csrf_token": agent.csrf})  # fmt: skip
    assert again.status == 400
    assert f"lead {data.own_lead}: cannot go from visited to visited" in await again.text()
    assert len(await _outbox(dialer_app)) == len(entries)
    deal = await client.post(f"/leads/{data.own_lead}/deal", headers=agent.headers(csrf=False),
                             data={"csrf_token": agent.csrf, "at": "", "model": "轿车A 豪华版"}, allow_redirects=False)  # fmt: skip
    assert deal.status == 303
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.DEAL
    assert (await _outbox(dialer_app))[-1].record.result == "已成交（轿车A 豪华版）"
    # A deal is final: the card offers no more forms.
    assert 'id="showroom"' not in await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()


async def test_the_api_records_visits_and_deals_and_the_kpis_count_them(
    client: TestClient, dialer_app: App, clock: VirtualClock, logins: dict[Role, Login], data: Fixtures
) -> None:
    supervisor = logins[Role.SUPERVISOR]
    before = await _kpi(client, supervisor)
    await _invite(dialer_app, clock, data.other_lead)
    clock.advance(3600)
    visit = await client.post(f"/api/leads/{data.other_lead}/visit", json={"test_drive": True},
                              headers=supervisor.headers())  # fmt: skip
    assert visit.status == 200, await visit.text()
    assert (await visit.json())["state"] == "visited"
    deal = await client.post(
        f"/api/leads/{data.other_lead}/deal", json={"model": "SUV B"}, headers=supervisor.headers()
    )
    assert deal.status == 200 and (await deal.json())["state"] == "deal"
    after = await _kpi(client, supervisor)
    assert after["deals"] == before["deals"] + 1  # type: ignore[operator]
    rate = after["invite_to_store_rate"]
    assert isinstance(rate, dict) and rate["numerator"] == 1


async def test_bad_fields_and_impossible_changes_are_named(
    client: TestClient, dialer_app: App, clock: VirtualClock, logins: dict[Role, Login], data: Fixtures
) -> None:
    supervisor = logins[Role.SUPERVISOR]
    url = f"/api/leads/{data.own_lead}"
    future = await client.post(url + "/visit", json={"at": "2026-11-30T10:00"}, headers=supervisor.headers())
    assert future.status == 400 and "at" in (await future.json())["fields"]
    garbage = await client.post(url + "/visit", json={"at": "yesterday", "test_drive": "perhaps"},
                                headers=supervisor.headers())  # fmt: skip
    assert set((await garbage.json())["fields"]) == {"at", "test_drive"}
    drive_with_deal = await client.post(url + "/deal", json={"test_drive": True}, headers=supervisor.headers())
    assert (await drive_with_deal.json())["fields"] == {"test_drive": "a test drive is reported with a visit"}
    await client.post(url + "/deal", json={}, headers=supervisor.headers())
    final = await client.post(url + "/visit", json={}, headers=supervisor.headers())
    assert (await final.json())["fields"]["state"] == f"lead {data.own_lead}: cannot go from deal to visited"
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.DEAL


async def test_who_may_record_visits_and_deals(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    # An agent only for their own leads; QA and the administrator never; CSRF as every other form.
    agent = logins[Role.AGENT]
    other = await client.post(f"/api/leads/{data.other_lead}/visit", json={}, headers=agent.headers())
    assert other.status == 403
    for role in (Role.QA, Role.ADMIN):
        resp = await client.post(f"/api/leads/{data.own_lead}/visit", json={}, headers=logins[role].headers())
        assert resp.status == 403, role
    no_csrf = await client.post(f"/api/leads/{data.own_lead}/deal", json={}, headers=agent.headers(csrf=False))
    assert no_csrf.status == 403
    qa_card = await client.get(f"/leads/{data.own_lead}", headers=logins[Role.QA].headers())
    assert 'id="showroom"' not in await qa_card.text()


async def test_the_desk_lists_todays_visits_with_the_customers_answer_and_records_a_visit(
    client: TestClient, dialer_app: App, clock: VirtualClock, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT]
    await _invite(dialer_app, clock, data.own_lead, hours=5)
    await _invite(dialer_app, clock, data.other_lead, hours=6)
    await dialer_app.leads.store.record_visit_reminder(data.own_lead, clock.now(), "sms")
    await dialer_app.leads.store.record_visit_confirmed(data.own_lead, clock.now(), "sms", "1")
    await dialer_app.doss.record_visit_declined(data.other_lead, "sms", "不需要")
    desk = await (await client.get("/desk", headers=agent.headers())).text()
    row = desk.split(f'id="visit-{data.own_lead}"')[1].split("</tr>")[0]
    assert "已确认（2026-11-29 09:00）" in row and f'id="desk-visit-submit-{data.own_lead}"' in row
    assert f'id="visit-{data.other_lead}"' not in desk  # a colleague's lead, and called off anyway
    everyone = await (await client.get("/desk", headers=logins[Role.SUPERVISOR].headers())).text()
    assert f'id="cancelled-{data.other_lead}"' in everyone and "不需要" in everyone
    resp = await client.post(f"/leads/{data.own_lead}/visit", headers=agent.headers(csrf=False),
                             data={"csrf_token": agent.csrf, "next": "/desk"}, allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"] == "/desk"
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.VISITED
    # The way back is only ever a page of ours.
    await _invite(dialer_app, clock, data.other_lead, hours=1)
    clock.advance(1 * 3600)
    away = await client.post(f"/leads/{data.other_lead}/visit", headers=logins[Role.SUPERVISOR].headers(csrf=False),
                             data={"csrf_token": logins[Role.SUPERVISOR].csrf, "next": "https://evil.example/"},
                             allow_redirects=False)  # fmt: skip
    assert away.headers["Location"] == f"/leads/{data.other_lead}?saved=1"


async def test_the_manager_records_visits_and_deals_for_the_selected_leads_all_or_none(
    client: TestClient, dialer_app: App, clock: VirtualClock, logins: dict[Role, Login], data: Fixtures
) -> None:
    manager = logins[Role.SALES_MANAGER]
    page = await (await client.get("/manage", headers=manager.headers())).text()
    assert 'id="manage-visit-submit"' in page and 'id="manage-deal-submit"' in page
    form = {"csrf_token": manager.csrf, "lead_ids": [str(data.own_lead), str(data.other_lead)], "op": "visit"}
    await dialer_app.doss.record_milestone(data.other_lead, LeadState.DEAL, "test")
    refused = await client.post("/manage", data=form, headers=manager.headers(csrf=False))
    assert refused.status == 400
    assert f"lead {data.other_lead}: cannot go from deal to visited" in await refused.text()
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.NEW  # none of the batch
    form["lead_ids"] = [str(data.own_lead)]
    done = await client.post("/manage", data={**form, "test_drive": "1"}, headers=manager.headers(csrf=False),
                             allow_redirects=False)  # fmt: skip
    assert done.status == 303 and "visit=1" in done.headers["Location"]
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.VISITED
    shown = await (await client.get(done.headers["Location"], headers=manager.headers())).text()
    assert "已记录：到店 1 个，成交 0 个。" in shown
    deal = await client.post("/manage", data={**form, "op": "deal", "model": "轿车A"},
                             headers=manager.headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert deal.status == 303
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.DEAL
    # QA may not (the page is not theirs at all).
    assert (await client.post("/manage", data=form, headers=logins[Role.QA].headers(csrf=False))).status == 403


async def test_a_no_show_is_on_the_desk_next_morning_and_the_form_offers_rescheduling(
    client: TestClient, dialer_app: App, clock: VirtualClock, data: Fixtures
) -> None:
    await _invite(dialer_app, clock, data.own_lead, hours=5)  # 29 November, 14:00 Beijing
    clock.set(datetime(2026, 11, 30, 1, 45, tzinfo=UTC))  # the next morning, 09:45 Beijing
    session = await client.app[AUTH].login(USERS[Role.AGENT][0], PASSWORD, "127.0.0.1")
    agent = Login(Role.AGENT, session.token, session.csrf)
    desk = await (await client.get("/desk", headers=agent.headers())).text()
    row = desk.split(f'id="due-{data.own_lead}"')[1].split("</tr>")[0]
    assert "未到店回访" in row and 'class="overdue"' in desk.split(f'id="due-{data.own_lead}"')[1][:20]
    card = await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()
    assert '<option value="rescheduled">' in card
    resp = await client.post(f"/api/leads/{data.own_lead}/disposition", headers=agent.headers(),
                             json={"disposition": "rescheduled", "visit_at": "2026-12-01T15:00"})  # fmt: skip
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["state"], body["visit_at"], body["due_kind"]) == (
        "invited",
        "2026-12-01T07:00:00.000000Z",
        "visit_reminder",
    )
