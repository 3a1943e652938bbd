"""Click-to-call from the desk (#15): the agent clicks a lead's call button, their (SIPp) phone answers, the
(SIPp) customer answers, and the lead card that opens already names the call in the disposition form."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from dialer.domain.calls.outcome import Outcome
from dialer.lab.lab import Lab
from dialer.server import serve
from dialer.settings import CampaignDefaults, Settings, StoreSettings, WebSettings, WindowDefaults
from dialer.web.keys import AUTH
from tests.browser.conftest import AGENT, SUPERVISOR, Console, log_in, screenshot, until
from tests.web.conftest import CHEAP, PASSWORD

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ALL_DAY = "00:00-24:00"


@pytest_asyncio.fixture(loop_scope="session")
async def console(browser_lab: tuple[Lab, Settings], tmp_path: Path) -> AsyncIterator[Console]:
    """The suite's service, with calling windows open all day: this test runs on the real clock, at any hour."""
    lab, lab_settings = browser_lab
    settings = dataclasses.replace(
        lab_settings,
        store=StoreSettings(path=str(tmp_path / "store.sqlite3")),
        web=WebSettings(cookie_secure=False),
        campaigns=CampaignDefaults(
            windows=WindowDefaults(
                mon=ALL_DAY,
                tue=ALL_DAY,
                wed=ALL_DAY,
                thu=ALL_DAY,
                fri=ALL_DAY,
                sat=ALL_DAY,
                sun=ALL_DAY,
                last_call_margin_s=0,
            )
        ),
    )
    async with serve(settings, password_cost=CHEAP, host="127.0.0.1", port=0, watch_campaigns=False) as server:
        for person in (AGENT, SUPERVISOR):
            await server.web[AUTH].add_user(person.name, person.role.value, PASSWORD, agent=person.phone)
        try:
            yield Console(server, lab, tmp_path)
        finally:
            lab.hangup_all()


async def test_the_agent_calls_a_lead_from_the_desk(page: Page, console: Console) -> None:
    app = console.server.app
    lead_id = await console.lead("13800000001", "王女士", owner=AGENT.phone)  # answers after 1 s, talks 6 s

    await log_in(page, AGENT)
    await page.goto("/desk?scope=all")
    await page.click(f"#call-button-{lead_id}")

    await expect(page.locator("#notice")).to_be_visible()
    attempt_id = await page.locator("#attempt_id").input_value()
    await screenshot(page, "manual-call")

    async def answered() -> bool:
        attempts = [a for a in await app.attempts.recent(10) if str(a.id) == attempt_id]
        return bool(attempts) and attempts[0].outcome is not None

    await until(answered, "the call answered and ended")
    attempt = next(a for a in await app.attempts.recent(10) if str(a.id) == attempt_id)
    assert (attempt.outcome, attempt.agent, attempt.lead_id) == (Outcome.ANSWERED, AGENT.phone, lead_id)

    tomorrow = (app.clock.now() + timedelta(days=1)).astimezone(ZoneInfo(app.settings.dealer.timezone))
    await page.select_option("#disposition", "callback")
    await page.fill("#next_follow_up_at", f"{tomorrow:%Y-%m-%d}T10:00")
    await page.select_option("#purpose", "test_drive")
    await page.click("#disposition-submit")
    await expect(page.locator("#saved")).to_be_visible()
    assert await app.doss.filed(attempt.id)
