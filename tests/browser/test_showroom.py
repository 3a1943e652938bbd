"""The showroom from the console (#13): the supervisor records an invited customer's visit with a test drive
and then the deal on the lead card, and the month's report shows the invite-to-store rate and the deal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Locator, Page, expect

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.model import LeadState
from tests.browser.conftest import AGENT, SUPERVISOR, Console, log_in, screenshot

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


def kpi_cell(page: Page, label: str) -> Locator:
    """This month's value of one KPI in the report's KPI table."""
    return page.locator("#table-kpi tr", has_text=label).locator("td").nth(1)


async def test_a_visit_and_a_deal_recorded_on_the_lead_card_show_in_the_report(page: Page, console: Console) -> None:
    app = console.server.app
    lead_id = await console.lead("13800000009", "赵先生", owner=AGENT.phone)
    # The agent called and invited the customer (a first follow-up, then an invitation).
    form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=app.clock.now() + timedelta(hours=2))
    await app.doss.record_disposition(lead_id, None, Outcome.ANSWERED, form, AGENT.name)

    await log_in(page, SUPERVISOR)
    await page.goto("/reports")
    invite_rate, deals = kpi_cell(page, "邀约到店率"), kpi_cell(page, "成交数")
    await expect(invite_rate).to_have_text("0.0%")
    await expect(deals).to_have_text("0")

    await page.goto(f"/leads/{lead_id}")
    await page.check("#visit-test-drive")
    await page.click("#visit-submit")
    await expect(page.locator("#saved")).to_be_visible()
    await expect(page.locator("#lead-state")).to_have_text("已到店")
    await screenshot(page, "showroom")
    await page.fill("#deal-model", "SUV B 四驱版")
    await page.click("#deal-submit")
    await expect(page.locator("#lead-state")).to_have_text("已成交")
    await expect(page.locator("#showroom")).to_have_count(0)  # a deal is final

    lead = await app.leads.store.get(lead_id)
    assert lead.state is LeadState.DEAL
    history = [e for e in await app.leads.store.events(lead_id) if e.kind == "state"]
    assert [(e.data["to"], e.actor) for e in history[-2:]] == [("visited", "web:li"), ("deal", "web:li")]
    assert history[-2].data["test_drive"] is True and history[-1].data["model"] == "SUV B 四驱版"

    await page.goto("/reports")
    await expect(invite_rate).to_have_text("100.0%")
    await expect(deals).to_have_text("1")
