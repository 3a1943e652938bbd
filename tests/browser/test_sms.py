"""An SMS to a lead from the desk in a real browser: the agent opens their lead from the due list, picks a
template, reads the text filled from the lead, sends it, and finds it in the lead's history."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import AGENT, Console, log_in, screenshot

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


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
