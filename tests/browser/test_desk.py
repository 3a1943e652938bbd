"""The agent at the desk: takes a preview campaign call through the real lab and files its
disposition, and pauses and resumes the phone, all through the pages."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from dialer.campaigns.runner import PreviewOffered
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.presence import PhoneState
from dialer.domain.leads.model import IntentLevel, LeadState
from dialer.i18n import translate
from tests.browser.conftest import AGENT, WAIT_MS, Console, log_in, screenshot, until

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Lab customers (asterisk/sipp/customers.csv): answers after 1 s and talks 6 s; answers after 1 s and talks 20 s.
SHORT_TALK = "13800000001"
SECOND = "13800000002"


async def test_agent_takes_a_preview_call_and_files_the_disposition(page: Page, console: Console) -> None:
    app = console.server.app
    # The earlier issue comes first (its 48-hour deadline is nearer); the second is the next offer.
    now = app.clock.now()
    first = await console.lead(SHORT_TALK, "王先生", owner=AGENT.phone, issued=now - timedelta(hours=3))
    second = await console.lead(SECOND, "李女士", owner=AGENT.phone, issued=now - timedelta(hours=1))
    campaign_id = await console.campaign("preview", [AGENT.phone])
    offers = app.bus.subscribe(PreviewOffered)
    console.run(campaign_id)
    offered = await asyncio.wait_for(offers.get(), WAIT_MS / 1000)
    assert (offered.agent, offered.lead_id) == (AGENT.phone, first)

    await log_in(page, AGENT)
    await expect(page.locator(f"#preview-card-{first}")).to_be_visible()
    await expect(page.locator(f"#preview-card-{first}")).to_contain_text("王先生")
    await expect(page.locator(f"#preview-card-{first}")).not_to_contain_text(SHORT_TALK)  # masked on screen
    await page.click(f"#preview-accept-submit-{first}")

    # The lab's customer answers, the agent's phone is put through: the call card pops without a reload.
    pop = page.locator("#call-pop")
    await expect(pop).to_be_visible()
    await expect(pop).to_have_attribute("data-lead-id", str(first))
    await expect(page.locator("#call-name")).to_have_text("王先生")
    await expect(page.locator("#phone-state")).to_have_attribute("data-state", "on_call")
    await screenshot(page, "desk")

    # The customer hangs up after 6 s: wrap-up, and the card leads to the lead page with the form.
    await expect(page.locator("#phone-state")).to_have_attribute("data-state", "wrap_up")
    runner = console.runner(campaign_id)
    assert runner.roster.get(AGENT.phone).state is AgentState.WRAP_UP
    await page.click("#call-pop-link")
    await expect(page).to_have_url(f"{console.server.url}/leads/{first}")
    await expect(page.locator("#wrap-up")).to_be_visible()
    form = page.locator("#disposition-form")
    await expect(form).to_be_visible()
    in_two_days = (now + timedelta(days=2)).astimezone(ZoneInfo(app.settings.dealer.timezone))
    follow_up = in_two_days.replace(hour=10, minute=0, second=0, microsecond=0)
    await page.select_option("#disposition", "interested_follow_up")
    await page.select_option("#purpose", "test_drive")
    await page.select_option("#intent", IntentLevel.A.value)
    await page.fill("#next_follow_up_at", follow_up.strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#note", "客户想周末来店试驾，关注油耗")
    await screenshot(page, "lead", full_page=True)  # the banner, the card and the filled form
    await page.click("#disposition-submit")

    await expect(page.locator("#saved")).to_have_text(translate("web.lead.saved", "zh-CN"))
    await expect(page.locator("#wrap-up")).to_have_count(0)
    lead = await app.leads.store.get(first)
    assert (lead.state, lead.intent, lead.callback_at) == (LeadState.FOLLOWING, IntentLevel.A, follow_up)
    assert runner.roster.get(AGENT.phone).state is AgentState.AVAILABLE
    # Available again: the campaign offers the next lead.
    offered = await asyncio.wait_for(offers.get(), WAIT_MS / 1000)
    assert (offered.agent, offered.lead_id) == (AGENT.phone, second)


async def test_agent_pauses_and_resumes_the_phone(page: Page, console: Console) -> None:
    presence = console.server.app.presence
    await log_in(page, AGENT)
    state = page.locator("#phone-state")
    await expect(state).to_have_attribute("data-state", "available")
    await page.click("#phone-login-submit")  # explicit login: the phone joins the inbound queue

    def queue_member() -> str:
        """The agent's line of the PBX's inbound queue ("" when not a member)."""
        rows = [row for row in console.lab.asterisk_cli("queue show dcc").splitlines() if f"PJSIP/{AGENT.phone}" in row]
        return rows[0] if rows else ""

    async def joined() -> bool:
        return bool(queue_member())

    await until(joined, "the agent's phone joined the inbound queue")

    await page.select_option("#pause-reason", "培训")
    await page.click("#pause-submit")
    await expect(state).to_have_attribute("data-state", "paused")
    await expect(state).to_contain_text("培训")
    await expect(page.locator("#resume-submit")).to_be_visible()
    stored = await presence.get(AGENT.phone)
    assert (stored.state, stored.reason) == (PhoneState.PAUSED, "培训")
    assert "paused" in queue_member()  # the PBX holds inbound calls back too

    await page.click("#resume-submit")
    await expect(state).to_have_attribute("data-state", "available")
    await expect(page.locator("#resume-submit")).to_be_hidden()
    assert (await presence.get(AGENT.phone)).state is PhoneState.AVAILABLE
    assert "paused" not in queue_member()

    await page.reload()  # stored: the desk shows the same after a reload
    await expect(state).to_have_attribute("data-state", "available")
