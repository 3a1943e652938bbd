"""Owner names from the console (#13, item 1): a lead file names its owner 张伟, nobody goes by it, so the
import leaves the lead unowned and says so; the supervisor maps 张伟 to the agent on the owner names page,
imports the file again, and the lead is on the agent's desk."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import AGENT, SUPERVISOR, Console, log_in, screenshot

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_a_name_mapped_on_the_owner_names_page_puts_the_lead_on_the_agents_desk(
    page: Page, console: Console
) -> None:
    path = console.tmp / "hq.csv"
    path.write_text("姓名,手机,线索来源,负责人\n周先生,13800000011,总部下发,张伟\n", encoding="utf-8")
    await log_in(page, SUPERVISOR)
    await page.goto("/import")
    await page.set_input_files("#import-file", str(path))
    await page.click("#import-submit")
    await expect(page.locator("#import-unknown-owners")).to_contain_text("张伟")

    await page.click("#nav-manage-owners")
    await page.fill("#owners-alias", "张伟")
    await page.select_option("#owners-user", AGENT.phone)
    await page.click("#owners-submit")
    await expect(page.locator("#owners-notice")).to_be_visible()
    await expect(page.locator("#owner-aliases")).to_contain_text(AGENT.name)
    await screenshot(page, "owner-names")

    await page.goto("/import")
    await page.set_input_files("#import-file", str(path))
    await page.click("#import-submit")
    await expect(page.locator("#import-summary")).to_be_visible()
    await expect(page.locator("#import-unknown-owners")).to_have_count(0)
    lead = await console.server.app.leads.store.find_by_phone("+8613800000011")
    assert lead is not None and lead.owner == AGENT.phone

    await page.context.clear_cookies()
    await log_in(page, AGENT)
    await page.goto("/desk?scope=all")
    await expect(page.locator("#due")).to_contain_text("周先生")
