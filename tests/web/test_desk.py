"""The agent desk: due list, lead card, the disposition form round trip (HTML and JSON), re-activation."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.leads.model import LeadState
from tests.web.conftest import Fixtures, Login


def _form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, **fields}


async def test_desk_lists_only_the_agents_own_due_leads(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    resp = await client.get("/desk?scope=all", headers=logins[Role.AGENT].headers())
    text = await resp.text()
    assert f'id="due-{data.own_lead}"' in text
    assert f'id="due-{data.other_lead}"' not in text
    today = await client.get("/desk", headers=logins[Role.AGENT].headers())
    assert f'id="due-{data.own_lead}"' not in await today.text()  # first follow-up is due in 48 h, not today
    everyone = await client.get("/api/leads/due?scope=all", headers=logins[Role.SUPERVISOR].headers())
    assert {lead["id"] for lead in (await everyone.json())["leads"]} == {data.own_lead, data.other_lead}


async def test_lead_card_shows_history_scripts_and_form(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    resp = await client.get(f"/leads/{data.own_lead}", headers=logins[Role.AGENT].headers())
    assert resp.status == 200
    text = await resp.text()
    for element in ("lead-card", "lead-history", "opening-script", "closing-script", "disposition-form"):
        assert f'id="{element}"' in text, element
    assert "138****8000" in text or "8000" in text  # masked number on screen
    assert "13800138000" not in text
    # Every disposition an agent can pick comes from the mapping's enum (no_contact is the dialer's own).
    assert re.findall(r'<option value="(\w+)"', text.split('id="disposition"')[1].split("</select>")[0]) == [
        "booked_visit",
        "rescheduled",
        "interested_follow_up",
        "callback",
        "refused",
        "do_not_call",
        "defeated",
        "wrong_number",
    ]
    # The sales manager sees the card but has no form.
    manager = await client.get(f"/leads/{data.own_lead}", headers=logins[Role.SALES_MANAGER].headers())
    assert manager.status == 200 and 'id="disposition-form"' not in await manager.text()


async def test_an_agent_cannot_open_a_colleagues_lead(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    resp = await client.get(f"/api/leads/{data.other_lead}", headers=logins[Role.AGENT].headers())
    assert resp.status == 403
    assert (await resp.json())["error"] == "not_own_lead"
    post = await client.post(f"/api/leads/{data.other_lead}/disposition", json={"disposition": "refused"},
                             headers=logins[Role.AGENT].headers())  # fmt: skip
    assert post.status == 403


async def test_disposition_form_round_trip(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT]
    url = f"/leads/{data.own_lead}/disposition"
    # Missing the required visit time: the page comes back with the message next to that field, nothing stored.
    bad = await client.post(url, data=_form(agent.csrf, disposition="booked_visit"), headers=agent.headers(csrf=False))
    assert bad.status == 400
    text = await bad.text()
    assert 'id="error-visit_at"' in text and "required" in text
    assert 'value="booked_visit" selected' in text  # what the agent chose is kept
    assert (await dialer_app.leads.store.get(data.own_lead)).state is LeadState.NEW
    # Unreadable values are reported per field, all at once.
    worse = await client.post(url, data=_form(agent.csrf, disposition="booked_visit", visit_at="tomorrow", intent="Z"),
                              headers=agent.headers(csrf=False))  # fmt: skip
    text = await worse.text()
    assert 'id="error-visit_at"' in text and 'id="error-intent"' in text
    # A good form: stored through DossService (lead change + DOSS outbox row), then redirected to the card.
    good = await client.post(url, data=_form(agent.csrf, disposition="booked_visit", visit_at="2026-12-01T10:30", model="轿车A"),
                             headers=agent.headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert good.status == 303
    assert good.headers["Location"] == f"/leads/{data.own_lead}?saved=1"
    lead = await dialer_app.leads.store.get(data.own_lead)
    assert lead.state is LeadState.INVITED
    assert lead.visit_at is not None and lead.visit_at.isoformat() == "2026-12-01T02:30:00+00:00"  # 10:30 Beijing time
    async with dialer_app.db.read() as r:
        assert await r.fetchval("SELECT count(*) FROM doss_outbox WHERE lead_id = ?", (data.own_lead,)) == 1
    card = await client.get(good.headers["Location"], headers=agent.headers())
    assert 'id="notice"' in await card.text()


async def test_disposition_api_names_the_field_the_mapping_refuses(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    supervisor = logins[Role.SUPERVISOR]
    url = f"/api/leads/{data.other_lead}/disposition"
    resp = await client.post(
        url, json={"disposition": "defeated", "defeat_reason": "不喜欢"}, headers=supervisor.headers()
    )
    assert resp.status == 400
    body = await resp.json()
    assert list(body["fields"]) == ["defeat_reason"] and "不喜欢" in body["fields"]["defeat_reason"]
    ok = await client.post(
        url, json={"disposition": "defeated", "defeat_reason": "已购竞品"}, headers=supervisor.headers()
    )
    assert ok.status == 200
    assert (await ok.json())["state"] == "defeated"


async def test_a_defeated_lead_is_reactivated_by_the_sales_manager(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    await client.post(f"/api/leads/{data.other_lead}/disposition", json={"disposition": "defeated", "defeat_reason": "价格原因"},
                      headers=logins[Role.SUPERVISOR].headers())  # fmt: skip
    manager = logins[Role.SALES_MANAGER]
    card = await client.get(f"/leads/{data.other_lead}", headers=manager.headers())
    assert 'id="reactivate-form"' in await card.text()
    no_reason = await client.post(f"/leads/{data.other_lead}/reactivate", data={"csrf_token": manager.csrf},
                                  headers=manager.headers(csrf=False))  # fmt: skip
    assert no_reason.status == 400 and 'id="error-reason"' in await no_reason.text()
    assert (await dialer_app.leads.store.get(data.other_lead)).state is LeadState.DEFEATED
    resp = await client.post(f"/leads/{data.other_lead}/reactivate", data={"csrf_token": manager.csrf, "reason": "客户重新询价"},
                             headers=manager.headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    assert (await dialer_app.leads.store.get(data.other_lead)).state is LeadState.REACTIVATED
    # DOSS records re-activations: the state change and its outbox row were written together.
    async with dialer_app.db.read() as r:
        rows = await r.fetchall(
            "SELECT kind, payload FROM doss_outbox WHERE lead_id = ? ORDER BY id", [data.other_lead]
        )
    assert [row["kind"] for row in rows][-1] == "reactivation" and "客户重新询价" in rows[-1]["payload"]
    again = await client.post(
        f"/api/leads/{data.other_lead}/reactivate", json={"reason": "再试一次"}, headers=manager.headers()
    )
    assert again.status == 400 and "state" in (await again.json())["fields"]


async def test_an_inbound_talk_makes_the_lead_the_agents_for_the_call_and_its_wrap_up(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, clock: VirtualClock
) -> None:
    """agent2's customer rang in and the queue gave the call to agent1: agent1 may open and file it
    while talking and for the wrap-up window after, not later; nobody else gains anything."""
    agent = logins[Role.AGENT]  # agent1
    url = f"/api/leads/{data.other_lead}"
    assert (await client.get(url, headers=agent.headers())).status == 403
    await dialer_app.attempts.create(call_id="in-1", direction=Direction.INBOUND, number="+8613900139000",
                                     created_at=clock.now(), lead_id=data.other_lead)  # fmt: skip
    await dialer_app.attempts.update_progress(
        "in-1", state=CallState.ANSWERED, connected_at=clock.now(), agent="agent2"
    )
    assert (await client.get(url, headers=agent.headers())).status == 403  # put through to someone else
    talk = await dialer_app.attempts.create(call_id="in-2", direction=Direction.INBOUND, number="+8613900139000",
                                     created_at=clock.now(), lead_id=data.other_lead)  # fmt: skip
    await dialer_app.attempts.update_progress(
        "in-2", state=CallState.ANSWERED, connected_at=clock.now(), agent="agent1"
    )
    assert (await client.get(url, headers=agent.headers())).status == 200  # talking now
    clock.advance(60)
    await dialer_app.attempts.finish("in-2", outcome=Outcome.ANSWERED, ended_at=clock.now())
    clock.advance(dialer_app.settings.campaigns.wrap_up_timeout_s - 1)
    filed = await client.post(f"{url}/disposition", json={"disposition": "callback", "next_follow_up_at": "2026-12-01 10:00", "purpose": "other",
                                    "attempt_id": str(talk.id), "outcome": "answered"},
                              headers=agent.headers())  # fmt: skip
    assert filed.status == 200, await filed.text()
    assert (await client.get(url, headers=agent.headers())).status == 403  # filed: the wrap-up is over
    # Not filed: the wrap-up window alone ends it.
    third = await dialer_app.attempts.create(call_id="in-3", direction=Direction.INBOUND, number="+8613900139000",
                                             created_at=clock.now(), lead_id=data.other_lead)  # fmt: skip
    await dialer_app.attempts.update_progress(
        "in-3", state=CallState.ANSWERED, connected_at=clock.now(), agent="agent1"
    )
    await dialer_app.attempts.finish(third.call_id, outcome=Outcome.ANSWERED, ended_at=clock.now())
    clock.advance(dialer_app.settings.campaigns.wrap_up_timeout_s - 1)
    assert (await client.get(url, headers=agent.headers())).status == 200
    clock.advance(2)
    assert (await client.get(url, headers=agent.headers())).status == 403


async def test_a_talk_whose_hang_up_was_lost_does_not_hand_the_lead_over_for_good(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, clock: VirtualClock
) -> None:
    """agent1 was put through to agent2's customer and the hang-up never arrived (the attempt has no
    end): agent1 has the lead while the talk could still be going, and not after web.unended_talk_s."""
    agent = logins[Role.AGENT]  # agent1
    url = f"/api/leads/{data.other_lead}"
    await dialer_app.attempts.create(call_id="lost-1", direction=Direction.INBOUND, number="+8613900139000",
                                     created_at=clock.now(), lead_id=data.other_lead)  # fmt: skip
    await dialer_app.attempts.update_progress(
        "lost-1", state=CallState.CONNECTED, connected_at=clock.now(), agent="agent1"
    )
    clock.advance(dialer_app.settings.web.unended_talk_s - 1)
    assert (await client.get(url, headers=agent.headers())).status == 200  # a (very) long talk
    clock.advance(2)
    assert (await client.get(url, headers=agent.headers())).status == 403  # on main: 200 forever


async def test_a_follow_up_plan_without_its_purpose_comes_back_naming_it(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT]
    url = f"/leads/{data.own_lead}/disposition"
    page = await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()
    purposes = page.split('id="purpose"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w*)"', purposes) == ["", "test_drive", "event", "mailing", "other"]
    assert "邀约试驾" in purposes
    plan = {"disposition": "interested_follow_up", "intent": "A", "next_follow_up_at": "2026-12-05 10:00"}
    bad = await client.post(url, data=_form(agent.csrf, **plan), headers=agent.headers(csrf=False))
    assert bad.status == 400 and 'id="error-purpose"' in await bad.text()
    ok = await client.post(url, data=_form(agent.csrf, **plan, purpose="event"), headers=agent.headers(csrf=False),
                           allow_redirects=False)  # fmt: skip
    assert ok.status == 303
    events = await dialer_app.leads.store.events(data.own_lead)
    assert [e.data.get("purpose") for e in events if e.kind == "callback"] == ["event"]
    history = (await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()).split(
        'id="lead-history"'
    )[1]
    assert "跟进目的：参加活动" in history
