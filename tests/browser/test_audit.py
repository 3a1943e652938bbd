"""The audit page in a real browser: the supervisor finds it in the navigation, sees their own login
in the table and that the chain holds, and filters by action."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from dialer.i18n import translate
from tests.browser.conftest import AGENT, SUPERVISOR, log_in

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_the_supervisor_reads_the_audit_log(page: Page) -> None:
    await log_in(page, AGENT, password="not the password")
    await log_in(page, SUPERVISOR)
    await page.click("#nav-audit")
    await expect(page).to_have_url(re.compile(r"/audit$"))
    await expect(page.locator("#audit-chain")).to_contain_text("哈希链完整")
    login = translate("audit.action.login", "zh-CN")
    failed = translate("audit.action.login.failed", "zh-CN")
    await expect(page.locator("#audit-log tbody tr").first).to_contain_text(login)
    await expect(page.locator("#audit-log")).to_contain_text(failed)

    await page.select_option("#action", "login.failed")
    await page.click("#audit-filter button")
    await expect(page).to_have_url(re.compile(r"/audit\?action=login\.failed"))
    rows = page.locator("#audit-log tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(AGENT.name)
