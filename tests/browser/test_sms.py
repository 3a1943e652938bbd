"""SMS in a real browser: the agent opens their lead from the due list, picks a template, reads the text filled
from the lead, sends it, and finds it in the lead's history; the sales manager's wave form counts its customers
as it is filled."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from dialer.domain.access.policy import Role
from dialer.domain.leads.model import LeadSource
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.leads.sheets import write_sheet
from dialer.web.keys import AUTH
from tests.browser.conftest import AGENT, Console, Person, log_in, screenshot
from tests.web.conftest import PASSWORD

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

MANAGER = Person("wang", Role.SALES_MANAGER, "")


async def test_the_agent_sends_an_sms_from_the_desk_and_it_is_in_the_history(page: Page, console: Console) -> None:
    app = console.server.app
    lead_id = await console.lead("13700001234", "周先生", owner=AGENT.phone)
    await log_in(page, AGENT)
    await page.goto("/desk?scope=all")
    await page.click(f"#sms-link-{lead_id}")
    await expect(page).to_have_url(re.compile(rf"/leads/{lead_id}/sms$"))
    await page.select_option("#sms-template", "repurchase")
    await page.click("#sms-preview-button")
    text = page.locator("#sms-text")
    await expect(text).to_contain_text("尊敬的周先生")
    await expect(text).to_contain_text("回T退订")
    await expect(page.locator("#sms-preview")).not_to_contain_text("13700001234")  # masked on screen
    await screenshot(page, "sms-preview")
    await page.click("#sms-send-button")
    await expect(page.locator("#sms-sent")).to_be_visible()
    (message,) = await app.sms.store.messages()
    assert (message.to_e164, message.template, message.lead_id) == ("+8613700001234", "repurchase", lead_id)
    await page.click("#sms-back")
    await expect(page.locator("#lead-history")).to_contain_text("发送短信（模板 repurchase）")


async def test_the_wave_form_counts_its_customers_as_the_manager_types(page: Page, console: Console) -> None:
    app = console.server.app
    path = console.tmp / "base.csv"
    rows = [
        [f"客户{i}", f"1370000{i:04d}", "基盘客户", car, "2019-05-01", "agent1"]
        for i, car in enumerate(["科鲁兹"] * 3 + ["英朗"])
    ]
    write_sheet(path, ["姓名", "手机", "线索来源", "现有车型", "购车日期", "负责人"], rows)
    await app.leads.importer.import_file(path, actor="test", source=LeadSource.BASE_CUSTOMER)
    await app.privacy.suppress("13700000001", "客户投诉", SuppressionSource.CONSOLE, "test")
    await console.server.web[AUTH].add_user(MANAGER.name, MANAGER.role.value, PASSWORD)
    await log_in(page, MANAGER)
    await page.goto("/sms/waves")
    count = page.locator("#wave-count")
    await expect(count).to_have_text("")  # no model promoted yet: nothing asked
    await page.fill("#wave-model", "迈锐宝XL")
    await expect(count).to_have_text("3 / 4")  # recipients / selected: the suppressed customer is left out
    await page.fill("#wave-current", "科鲁兹")
    await expect(count).to_have_text("2 / 3")
