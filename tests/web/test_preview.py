"""The preview desk: the offered lead's card with Accept / Skip, by page and by API, for the offered agent only.

A real campaign runner (preview mode) runs over the console's store; only the AMI is scripted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.campaigns.runner import CampaignRunner, OfferEnd, PreviewOffer, PreviewWithdrawn
from dialer.domain.access.policy import Role
from dialer.telephony.calls import CallService
from tests.telephony.fakes import FakeAmi
from tests.web.campaigning import running_campaign, until
from tests.web.conftest import Fixtures, Login

CAMPAIGN = """
name = "预览测试"
kind = "hq"
mode = "preview"
agents = ["agent1", "agent2"]
"""


@dataclass
class Preview:
    """A preview campaign running in the console's process."""

    runner: CampaignRunner
    fake: FakeAmi
    calls: CallService

    def offer_of(self, agent: str) -> PreviewOffer:
        return next(o for o in self.runner.offers() if o.agent == agent)


@pytest.fixture
async def preview(client: TestClient, dialer_app: App, data: Fixtures, tmp_path: Path) -> AsyncIterator[Preview]:
    path = tmp_path / "preview.toml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    async with running_campaign(client, dialer_app, path) as (runner, fake, calls):
        await until(lambda: len(runner.offers()) == 2, "an offer for each agent")
        yield Preview(runner, fake, calls)


async def test_desk_shows_the_agents_own_offer_with_accept_and_skip(client: TestClient, logins: dict[Role, Login],
                                                                    preview: Preview) -> None:  # fmt: skip
    mine, theirs = preview.offer_of("agent1").lead_id, preview.offer_of("agent2").lead_id
    text = await (await client.get("/desk", headers=logins[Role.AGENT].headers())).text()
    for element in (
        f"preview-card-{mine}",
        f"preview-accept-{mine}",
        f"preview-skip-{mine}",
        f"preview-history-{mine}",
    ):
        assert f'id="{element}"' in text, element
    assert f'id="preview-card-{theirs}"' not in text
    assert "接受并拨打" in text and 'name="csrf_token"' in text
    assert "13800138000" not in text and "13900139000" not in text  # masked on screen
    supervisor = await (await client.get("/desk", headers=logins[Role.SUPERVISOR].headers())).text()
    assert 'id="preview-none"' in supervisor


async def test_api_lists_only_my_offers_with_the_lead_card(
    client: TestClient, logins: dict[Role, Login], preview: Preview
) -> None:
    resp = await client.get("/api/preview", headers=logins[Role.AGENT].headers())
    assert resp.status == 200
    (offer,) = (await resp.json())["offers"]
    assert (offer["agent"], offer["lead_id"]) == ("agent1", preview.offer_of("agent1").lead_id)
    assert offer["lead"]["id"] == offer["lead_id"] and offer["lead"]["source"] == "hq" and "history" in offer["lead"]
    assert offer["accepted_at"] is None and offer["expires_at"] > offer["offered_at"]
    none = await client.get("/api/preview", headers=logins[Role.SUPERVISOR].headers())
    assert (await none.json())["offers"] == []


async def test_accept_by_api_dials_that_lead_for_me(client: TestClient, dialer_app: App, logins: dict[Role, Login],
                                                   preview: Preview) -> None:  # fmt: skip
    lead_id = preview.offer_of("agent1").lead_id
    lead = await dialer_app.leads.store.get(lead_id)
    resp = await client.post(f"/api/preview/{lead_id}/accept", headers=logins[Role.AGENT].headers())
    assert resp.status == 200
    assert (await resp.json())["accepted_at"] is not None
    await until(lambda: preview.fake.originates, "the call")
    assert lead.phones[0].e164.removeprefix("+86") in preview.fake.originates[0]["channel"]
    call_id = preview.fake.originates[0]["channel_id"]
    preview.fake.play_answered_call(call_id)
    await until(lambda: preview.fake.redirects, "the agent connect")
    assert [r[2] for r in preview.fake.redirects] == ["agent1"]
    again = await client.post(f"/api/preview/{lead_id}/accept", headers=logins[Role.AGENT].headers())
    assert again.status == 404  # dialled: no longer an offer


async def test_a_second_accept_before_the_dial_is_a_conflict(
    client: TestClient, logins: dict[Role, Login], preview: Preview
) -> None:
    lines = preview.calls.lines
    for _ in range(lines.capacity):  # every line busy: an accepted offer waits for one
        await lines.acquire(wait=False)
    lead_id = preview.offer_of("agent1").lead_id
    first = await client.post(f"/api/preview/{lead_id}/accept", headers=logins[Role.AGENT].headers())
    assert first.status == 200
    again = await client.post(f"/api/preview/{lead_id}/accept", headers=logins[Role.AGENT].headers())
    assert again.status == 409 and (await again.json())["error"] == "offer_changed"
    skip = await client.post(
        f"/api/preview/{lead_id}/skip", json={"reason": "改主意"}, headers=logins[Role.AGENT].headers()
    )
    assert skip.status == 409
    assert preview.fake.originates == []
    lines.release()  # one line frees up: the accepted call goes out
    await until(lambda: preview.fake.originates, "the call")
    for _ in range(lines.capacity - 1):
        lines.release()


async def test_someone_elses_offer_is_refused(client: TestClient, logins: dict[Role, Login], preview: Preview) -> None:
    theirs = preview.offer_of("agent2").lead_id
    for role in (Role.AGENT, Role.SUPERVISOR):
        resp = await client.post(f"/api/preview/{theirs}/accept", headers=logins[role].headers())
        assert resp.status == 403, role
        assert (await resp.json())["error"] == "not_own_offer"
    skip = await client.post(
        f"/api/preview/{theirs}/skip", json={"reason": "不是我的"}, headers=logins[Role.AGENT].headers()
    )
    assert skip.status == 403
    page = await client.post(f"/desk/preview/{theirs}/accept", data={"csrf_token": logins[Role.AGENT].csrf},
                             headers=logins[Role.AGENT].headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert page.status == 403
    nobody = await client.post("/api/preview/999999/accept", headers=logins[Role.AGENT].headers())
    assert nobody.status == 404
    assert preview.offer_of("agent2").accepted_at is None and preview.fake.originates == []


async def test_csrf_is_required(client: TestClient, logins: dict[Role, Login], preview: Preview) -> None:
    mine = preview.offer_of("agent1").lead_id
    agent = logins[Role.AGENT]
    for url in (f"/api/preview/{mine}/accept", f"/desk/preview/{mine}/accept", f"/desk/preview/{mine}/skip"):
        resp = await client.post(url, data={"reason": "x"}, headers=agent.headers(csrf=False), allow_redirects=False)
        assert resp.status == 403, url
    wrong = await client.post(f"/api/preview/{mine}/accept", headers={**agent.headers(), "X-CSRF-Token": "forged"})
    assert wrong.status == 403
    assert preview.offer_of("agent1").lead_id == mine and preview.offer_of("agent1").accepted_at is None


async def test_skip_by_page_releases_the_lead_and_shows_the_next(client: TestClient, dialer_app: App,
                                                                 logins: dict[Role, Login], preview: Preview) -> None:  # fmt: skip
    agent = logins[Role.AGENT]
    mine = preview.offer_of("agent1").lead_id
    url = f"/desk/preview/{mine}/skip"
    withdrawn = dialer_app.bus.subscribe(PreviewWithdrawn)
    no_reason = await client.post(url, data={"csrf_token": agent.csrf, "reason": " "}, headers=agent.headers(csrf=False),
                                  allow_redirects=False)  # fmt: skip
    assert no_reason.status == 400
    resp = await client.post(url, data={"csrf_token": agent.csrf, "reason": "客户出差"}, headers=agent.headers(csrf=False),
                             allow_redirects=False)  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"] == "/desk"
    ended = await asyncio.wait_for(withdrawn.get(), 10)
    assert ended == PreviewWithdrawn(ended.at, preview.runner.campaign_id, "agent1", mine, OfferEnd.SKIPPED)
    # Back in the hopper with no attempt counted: with only two leads it is agent1's next offer again.
    await until(lambda: any(o.agent == "agent1" for o in preview.runner.offers()), "agent1's next offer")
    assert preview.fake.originates == []


async def test_skip_by_api_needs_a_reason(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], preview: Preview
) -> None:
    withdrawn = dialer_app.bus.subscribe(PreviewWithdrawn)
    agent = logins[Role.AGENT]
    mine = preview.offer_of("agent1").lead_id
    bad = await client.post(f"/api/preview/{mine}/skip", json={}, headers=agent.headers())
    assert bad.status == 400 and "reason" in (await bad.json())["fields"]
    good = await client.post(f"/api/preview/{mine}/skip", json={"reason": "客户出差"}, headers=agent.headers())
    assert good.status == 200 and (await good.json()) == {
        "campaign_id": preview.runner.campaign_id,
        "lead_id": mine,
        "skipped": True,
    }
    assert (await asyncio.wait_for(withdrawn.get(), 10)).reason is OfferEnd.SKIPPED
