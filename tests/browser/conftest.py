"""Fixtures of the browser tests: one headless Chromium for the session, a fresh browser context
per test, the one-process service (:func:`dialer.server.serve`) over a fresh store per test, and a
lab of their own (ports shifted by :data:`LAB_OFFSET`).

Everything here runs in pytest-asyncio's *session* loop (each module sets ``pytestmark``):
Playwright's objects belong to the loop that made them, and one Chromium per session keeps the
wall time small. Chromium is Debian's (``scripts/bootstrap.sh`` installs it); Playwright's own
browser download is never used. A missing browser fails the test, it never skips it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from dialer.campaigns.runner import CampaignRunner, RunSummary
from dialer.domain.access.policy import Role
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.leads.model import LeadSource
from dialer.lab.lab import Lab
from dialer.server import Server, serve
from dialer.settings import CallSettings, Settings, StoreSettings, WebSettings
from dialer.web.keys import AUTH
from tests.conftest import settings_beside
from tests.web.conftest import CHEAP, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that reaches for the internet: this machine's network is closed, and
# Chromium's background connections (updates, sync, QUIC probes) would pile up refused.
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# The screenshots in docs/ are this size.
VIEWPORT = {"width": 1280, "height": 800}
# Ports of the browser tests' lab: the session lab's plus this (clear of the other private labs).
LAB_OFFSET = 1800
# Upper bound of every waiting check (a call rings, is answered, reaches the agent's phone):
# it only keeps a broken run from hanging, nothing here measures speed.
WAIT_MS = 30_000
# Where the tests save their screenshots when this is set (docs/web.md: how to regenerate).
SCREENSHOTS_ENV = "DCC_SCREENSHOTS"


@dataclass(frozen=True, slots=True)
class Person:
    """A login of the browser tests: name, role and phone endpoint."""

    name: str
    role: Role
    phone: str


AGENT = Person("zhang", Role.AGENT, "agent1")
# The supervisor's phone is the lab's SIPp supervisor party, which answers every call.
SUPERVISOR = Person("li", Role.SUPERVISOR, "supervisor")


@pytest.fixture(scope="session")
def browser_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    """Asterisk with SIPp customers, agents' phones and the supervisor's phone, for this package."""
    base = settings_beside(tmp_path_factory.mktemp("browser-lab"), LAB_OFFSET)
    # AMD only delays each answered call here (it has its own tests).
    settings = dataclasses.replace(base, calls=CallSettings(amd=False))
    lab = Lab(settings)
    lab.up()
    try:
        yield lab, settings
    finally:
        lab.down()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, once for the session."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat before the browser starts
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's chromium package)")
    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass(frozen=True, slots=True)
class Console:
    """The running service of one test, with what the tests seed into it."""

    server: Server
    lab: Lab
    tmp: Path

    async def lead(self, number: str, name: str, owner: str, issued: datetime | None = None) -> int:
        """Import one HQ lead (through the importer, as a sales manager's file would) and return its id.

        ``issued`` (default now) sets its 48-hour first follow-up deadline, which orders the hopper's picks."""
        settings = self.server.app.settings
        local = (issued or self.server.app.clock.now()).astimezone(ZoneInfo(settings.dealer.timezone))
        path = self.tmp / f"lead-{number}.csv"
        rows = ["姓名,手机,负责人,意向车型,下发时间", f"{name},{number},{owner},SUV B,{local:%Y-%m-%d %H:%M}"]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        report = await self.server.app.leads.importer.import_file(path, actor="test", source=LeadSource.HQ)
        assert report.created == 1, report
        lead = await self.server.app.leads.store.find_by_phone("+86" + number)
        assert lead is not None
        return lead.id

    async def campaign(self, mode: str, agents: list[str], name: str = "总部线索首次跟进") -> int:
        """A started campaign of every open HQ lead for ``agents``, dialling at any hour, one attempt per lead.

        Not running yet: the test starts its runner (:meth:`run`) when its page is ready to watch.
        """
        path = self.tmp / f"campaign-{mode}.toml"
        days = "\n".join(f'{day} = "00:00-24:00"' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
        path.write_text(
            f'name = "{name}"\nkind = "hq"\nmode = "{mode}"\nagents = {json.dumps(agents)}\nlines = 1\n'
            f"[windows]\n{days}\nlast_call_margin_s = 0\n[retry]\nmax_attempts = 1\n",
            encoding="utf-8",
        )
        record = await self.server.app.campaigns.create(path, actor=SUPERVISOR.name)
        await self.server.app.campaigns.command(record.id, Command.START, actor=SUPERVISOR.name)
        return record.id

    def run(self, campaign_id: int) -> asyncio.Task[RunSummary]:
        """Start the campaign's runner in the service (no simulated desk: the person in the browser files)."""
        return self.server.run_campaign(campaign_id)

    def runner(self, campaign_id: int) -> CampaignRunner:
        """The runner serving ``campaign_id`` now."""
        runner = self.server.runners.get(campaign_id)
        assert runner is not None, f"campaign {campaign_id} has no runner in the service"
        return runner


@pytest_asyncio.fixture(loop_scope="session")
async def console(browser_lab: tuple[Lab, Settings], tmp_path: Path) -> AsyncIterator[Console]:
    """The service on a free port over a fresh store, with the agent's and the supervisor's logins."""
    lab, lab_settings = browser_lab
    settings = dataclasses.replace(
        lab_settings,
        store=StoreSettings(
            path=str(tmp_path / "store.sqlite3")
        ),  # recordings stay in the lab's folder, which it makes
        # Plain http on loopback; frames often enough that a change shows within a blink.
        web=WebSettings(cookie_secure=False, wallboard_interval_ms=200),
    )
    async with serve(settings, password_cost=CHEAP, host="127.0.0.1", port=0, watch_campaigns=False) as server:
        for person in (AGENT, SUPERVISOR):
            await server.web[AUTH].add_user(person.name, person.role.value, PASSWORD, agent=person.phone)
        try:
            yield Console(server, lab, tmp_path)
        finally:
            # A call a test left talking (a customer who talks for a minute) must not reach the next test.
            lab.hangup_all()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, console: Console) -> AsyncIterator[Page]:
    """A page in a fresh context (own cookies), zh-CN in the dealer's time zone, 1280x800, aimed at the test's service."""
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id=console.server.app.settings.dealer.timezone,
                                        base_url=console.server.url)  # fmt: skip
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def log_in(page: Page, person: Person, password: str = PASSWORD) -> None:
    """Fill and send the login form."""
    await page.goto("/login")
    await page.fill("#login-name", person.name)
    await page.fill("#login-password", password)
    await page.click("#login-submit")


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Save the page as ``$DCC_SCREENSHOTS/<name>.png`` when that is set (how docs/screenshots/ is made):
    what the 1280x800 window shows, or the whole page from the top with ``full_page``."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a small mkdir in a test helper
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


async def until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``predicate()`` until true, up to :data:`WAIT_MS` (for state outside the page: store, runner)."""
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while True:
        if await predicate():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened within {WAIT_MS} ms: {what}")
        await asyncio.sleep(0.05)
