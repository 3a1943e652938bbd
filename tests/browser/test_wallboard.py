"""The supervisor at the wallboard: a campaign call shows up live (websocket, no reload), and the
wallboard's listen button rings the supervisor's phone into the agent's call, until stopped."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from dialer.i18n import translate
from dialer.store.listen_ins import ListenInStore
from tests.browser.conftest import AGENT, SUPERVISOR, Console, log_in, screenshot, until

pytestmark = [pytest.mark.asterisk, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# The lab customer who answers after 2 s and talks for a minute: time enough to listen in.
TALKS_A_MINUTE = "13800000003"


async def test_wallboard_shows_the_call_live_and_the_supervisor_listens_in(page: Page, console: Console) -> None:
    await console.lead(TALKS_A_MINUTE, "王先生", owner=AGENT.phone)
    campaign_id = await console.campaign("progressive", [AGENT.phone])
    lines = console.server.app.settings.pbx.outbound_lines

    await log_in(page, SUPERVISOR)
    await page.goto("/wallboard")
    await expect(page.locator("#page-title")).to_have_text(translate("web.wb.title", "zh-CN"))
    await expect(page.locator("#tile-outbound")).to_have_text(f"0 / {lines}")  # the first frame arrived
    await page.evaluate("window.dccLoaded = true")  # gone if the page reloads

    console.run(campaign_id)
    await expect(page.locator("#tile-outbound")).to_have_text(f"1 / {lines}")
    listen = page.locator(f"#listen-{AGENT.phone}-listen")
    await expect(listen).to_be_visible()  # only agents on a call get the buttons
    await expect(page.locator(f"#agent-{AGENT.phone} .agent-state")).to_have_attribute("data-state", "on_call")
    await expect(page.locator(f"#agent-{AGENT.phone} .agent-state")).to_have_text(
        translate("web.phone.state.on_call", "zh-CN")
    )
    # The line board: the campaign's call talks on the first outbound line, the others are free.
    await expect(page.locator("#line-out-1 .line-state")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#line-out-1 .line-state")).to_have_text("通话中")
    await expect(page.locator(f"#line-out-{lines} .line-state")).to_have_attribute("data-state", "free")
    await expect(page.locator("#line-in-4 .line-state")).to_have_text("空闲")
    await expect(page.locator(f"#campaign-{campaign_id}")).to_be_visible()
    assert await page.evaluate("window.dccLoaded") is True, "the wallboard reloaded instead of updating live"
    await screenshot(page, "wallboard", full_page=True)

    await listen.click()
    status = page.locator("#listen-in-status")
    await expect(status).to_contain_text(translate("web.listen.running_on", "zh-CN", agent=AGENT.phone))
    await expect(status).to_contain_text("正在监听")
    await expect(page.locator("#listen-in-stop")).to_be_visible()
    await expect(page.locator("#listen-in-error")).to_have_text("")
    audit = ListenInStore(console.server.app.db)
    (row,) = await audit.open_rows()  # the audit row the console wrote before ringing the phone
    assert (row.supervisor, row.agent, row.phone, row.modes) == (
        SUPERVISOR.name,
        AGENT.phone,
        SUPERVISOR.phone,
        ("listen",),
    )
    ami = console.server.app.ami
    assert ami is not None

    async def supervisor_listening() -> bool:
        # Answered (state 6 = Up) by the lab's supervisor phone: the status is not just the console's word.
        return any(c.uniqueid == row.channel_id and c.channel_state == 6 for c in await ami.core_show_channels())

    await until(supervisor_listening, "the supervisor's phone answered into the listen-in")

    await page.click("#listen-in-stop")
    await expect(status).to_have_text(translate("web.listen.idle", "zh-CN"))
    await expect(page.locator("#listen-in-stop")).to_be_hidden()
    assert await audit.open_rows() == []
    ended = await audit.get(row.id)
    assert ended is not None and ended.ended_at is not None
    assert await page.evaluate("window.dccLoaded") is True
