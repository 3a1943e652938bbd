"""Campaigns from the console (#15 item 3): the supervisor creates a campaign in the form (a refused field
shown next to itself, the live count of the leads its filter selects), starts it, the service's campaign
watcher gives it a runner in the service, and the supervisor pauses it."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from playwright.async_api import Page, expect

from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.domain.campaigns.pacing import PacingMode
from tests.browser.conftest import AGENT, SUPERVISOR, Console, log_in, screenshot, until

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# How often the test's campaign watcher looks (the service's own default is 2 s).
WATCH_S = 0.1


async def test_supervisor_creates_starts_and_pauses_a_campaign(page: Page, console: Console) -> None:
    app = console.server.app
    await console.lead("13800000007", "钱先生", owner=AGENT.phone)
    # The fixture's service runs no watcher; this one is the service's own, as `dialer web` runs it.
    watcher = asyncio.create_task(console.server.watch(WATCH_S))
    try:
        await log_in(page, SUPERVISOR)
        await page.click("#nav-campaigns")
        await expect(page.locator("#campaigns")).to_contain_text("还没有任何活动")
        await page.click("#campaign-new")

        count = page.locator("#campaign-count")
        await expect(count).to_have_text("1")  # the HQ lead (the form starts on kind hq)
        await page.check('input[name="filter.sources"][value="web"]')
        await expect(count).to_have_text("0")
        await page.uncheck('input[name="filter.sources"][value="web"]')
        await page.check('input[name="filter.owners"][value="agent1"]')
        await expect(count).to_have_text("1")
        await page.select_option("#campaign-mode", PacingMode.PREVIEW.value)  # nobody accepts: nothing is dialled
        await page.check('input[name="agents"][value="agent1"]')
        await page.fill("#campaign-retry-max_attempts", "0")
        await page.click("#campaign-create")

        # Refused: no name, no zero attempts; each said next to its field, the rest kept as typed.
        await expect(page.locator('[id="error-name"]')).to_be_visible()
        await expect(page.locator('[id="error-retry.max_attempts"]')).to_contain_text("at least 1")
        await expect(page.locator("#campaign-mode")).to_have_value("preview")
        await expect(page.locator('input[name="agents"][value="agent1"]')).to_be_checked()
        assert await app.campaigns.all() == []
        await screenshot(page, "campaign-form", full_page=True)
        await page.fill("#campaign-name", "总部线索首呼")
        await page.fill("#campaign-retry-max_attempts", "2")
        await page.click("#campaign-create")

        await expect(page).to_have_url(re.compile(r"/campaigns\?created=\d+$"))
        [record] = await app.campaigns.all()
        row = page.locator(f"#campaign-{record.id}")
        await expect(row.locator(".campaign-status")).to_have_attribute("data-status", "draft")
        assert record.definition.agents == ("agent1",) and record.definition.max_attempts == 2
        assert record.definition.lead_filter.owners == ("agent1",) and record.created_by == f"web:{SUPERVISOR.name}"

        await page.click(f"#campaign-{record.id}-start")
        await expect(page.locator("#campaigns-result")).to_contain_text("纳入 1 条线索")
        await expect(row.locator(".campaign-status")).to_have_attribute("data-status", "running")
        await expect(row.locator(".campaign-enrolled")).to_have_text("1")
        # The service's watcher starts the campaign's runner here, the one with the PBX link.
        await until(lambda: _served(console, record.id), "the started campaign has a runner in the service")
        await screenshot(page, "campaigns")

        await page.click(f"#campaign-{record.id}-pause")
        await expect(row.locator(".campaign-status")).to_have_attribute("data-status", "paused")
        await expect(page.locator(f"#campaign-{record.id}-resume")).to_be_visible()
        assert (await app.campaigns.status(record.id)).campaign.status is CampaignStatus.PAUSED
        assert console.server.runners.get(record.id) is not None  # a paused campaign keeps its runner
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _served(console: Console, campaign_id: int) -> bool:
    return console.server.runners.get(campaign_id) is not None
