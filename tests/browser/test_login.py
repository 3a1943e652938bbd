"""Logging in and out in a real browser: a wrong password is refused on the page, the right one
opens the desk in Chinese, the language switches to English and back, logging out ends the session."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from dialer.i18n import translate
from tests.browser.conftest import AGENT, log_in

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_login_language_and_logout(page: Page) -> None:
    await log_in(page, AGENT, password="not the password")
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.locator("#login-name")).to_have_value(AGENT.name)  # the name is kept for the retry

    await log_in(page, AGENT)
    await expect(page).to_have_url(re.compile(r"/desk$"))
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("#page-title")).to_have_text(translate("web.desk.title", "zh-CN"))
    await expect(page.locator("#who")).to_contain_text(AGENT.name)
    await expect(page.locator("#preview-none")).to_be_visible()  # no campaign runs: nothing offered

    await page.click("#lang-en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#page-title")).to_have_text(translate("web.desk.title", "en"))
    await expect(page.locator("#logout")).to_have_text(translate("web.logout", "en"))
    await page.click("#lang-zh-CN")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("#page-title")).to_have_text(translate("web.desk.title", "zh-CN"))

    await page.click("#logout")
    await expect(page.locator("#login-form")).to_be_visible()
    await page.goto("/desk")  # the session is over: back to the login form, which remembers where to go
    await expect(page.locator("#login-form")).to_be_visible()
    assert page.url.endswith("/login?next=/desk"), page.url
