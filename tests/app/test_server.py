"""``serve()``: one process with the PBX link, the campaign runners and the console.

Against a real Asterisk of our own (ports shifted by OFFSET, no customers: these campaigns
enrol no leads, so nothing is dialled; what is tested is who runs which campaign).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from dialer.app import App, campaign_runner, open_store
from dialer.backup.service import verify
from dialer.campaigns.runner import CampaignRunner, RunSummary, WrapUpHandler
from dialer.clock import ShiftedClock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command
from dialer.domain.campaigns.progress import CampaignRecord
from dialer.lab.lab import Lab
from dialer.server import OnWrapUp, Server, serve
from dialer.settings import Settings
from dialer.sms.factory import build_service
from dialer.sms.simulator import SmscSimulator, read_ledger
from dialer.store.process_lock import StoreInUse
from tests.conftest import REPO, settings_beside
from tests.web.conftest import CHEAP

pytestmark = pytest.mark.asterisk

OFFSET = 1500
CAMPAIGN = REPO / "config" / "demo" / "campaign.toml"
WATCH_S = 0.05
# A limit that only keeps a broken run from hanging; nothing here measures speed.
LIMIT_S = 30.0


@pytest.fixture(scope="module")
def server_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Asterisk and the agents' phones of our own; no customers are called here."""
    settings = settings_beside(tmp_path_factory.mktemp("server-lab"), OFFSET)
    lab = Lab(settings)
    lab.up(customers=False)
    try:
        yield settings
    finally:
        lab.down()


@pytest.fixture
def settings(server_lab: Settings, tmp_path: Path) -> Settings:
    """The lab's PBX with a fresh store for each test."""
    return dataclasses.replace(settings_beside(tmp_path, OFFSET), lab=server_lab.lab, pbx=server_lab.pbx)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until true; fail naming ``what`` after LIMIT_S."""
    try:
        async with asyncio.timeout(LIMIT_S):
            while not await check():  # noqa: ASYNC110 - polls the real server and PBX, which have no event to await
                await asyncio.sleep(WATCH_S)
    except TimeoutError:
        pytest.fail(f"not within {LIMIT_S} s: {what}")


def count_starts(server: Server, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every campaign id ``server.run_campaign`` is asked to start, in order."""
    started: list[int] = []
    original = server.run_campaign

    def counting(campaign_id: int, on_wrap_up: OnWrapUp | None = None) -> asyncio.Task[RunSummary]:
        started.append(campaign_id)
        return original(campaign_id, on_wrap_up)

    monkeypatch.setattr(server, "run_campaign", counting)
    return started


async def watcher_looks(server: Server, monkeypatch: pytest.MonkeyPatch, looks: int) -> None:
    """Wait until the watcher has listed the campaigns ``looks`` more times."""
    seen = asyncio.Event()
    calls = 0
    original = server.app.campaigns.all

    async def listing(dealers: DealerScope = EVERY_DEALER) -> list[CampaignRecord]:
        nonlocal calls
        calls += 1
        if calls >= looks:
            seen.set()
        return await original(dealers)

    monkeypatch.setattr(server.app.campaigns, "all", listing)
    async with asyncio.timeout(LIMIT_S):
        await seen.wait()
    monkeypatch.setattr(server.app.campaigns, "all", original)


async def test_a_campaign_started_after_serve_began_gets_a_runner(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(settings, port=0, password_cost=CHEAP, watch_interval_s=WATCH_S) as server:
        started = count_starts(server, monkeypatch)
        record = await server.app.campaigns.create(CAMPAIGN, actor="主管")
        await server.app.campaigns.command(record.id, Command.START, actor="主管")
        # No leads: only a runner completes it, so COMPLETED proves the watcher started one.
        await until(lambda: _is(server, record.id, CampaignStatus.COMPLETED), "the campaign completed by its runner")
        await until(lambda: _no_runner(server, record.id), "the ended runner forgotten")
        assert started == [record.id]


async def test_a_crashed_runner_is_started_again_on_the_next_look(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(settings, port=0, password_cost=CHEAP, watch_interval_s=WATCH_S) as server:
        started = count_starts(server, monkeypatch)
        record = await server.app.campaigns.create(CAMPAIGN, actor="主管")
        crashes = [RuntimeError("disk on fire")]

        def first_one_crashes(app: App, campaign_id: int, *, on_wrap_up: WrapUpHandler | None = None) -> CampaignRunner:
            runner = campaign_runner(app, campaign_id, on_wrap_up=on_wrap_up)
            if crashes:
                crash = crashes.pop()

                async def broken() -> RunSummary:
                    raise crash

                monkeypatch.setattr(runner, "run", broken)
            return runner

        monkeypatch.setattr("dialer.server.campaign_runner", first_one_crashes)
        await server.app.campaigns.command(record.id, Command.START, actor="主管")
        await until(
            lambda: _is(server, record.id, CampaignStatus.COMPLETED), "the campaign completed by the second runner"
        )
        assert started == [record.id, record.id]


async def test_never_two_runners_for_one_campaign_and_nothing_left_after_shutdown(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Paused before the server starts: a paused campaign is served too (resume dials at once).
    async with open_store(settings) as store:
        record = await store.campaigns.create(CAMPAIGN, actor="主管")
        await store.campaigns.command(record.id, Command.START, actor="主管")
        await store.campaigns.command(record.id, Command.PAUSE, actor="主管")
    before = asyncio.all_tasks()
    async with serve(settings, port=0, password_cost=CHEAP, watch_interval_s=WATCH_S) as server:
        started = count_starts(server, monkeypatch)
        await until(lambda: _has_runner(server, record.id), "a runner for the paused campaign")
        first = server.running(record.id)
        await watcher_looks(server, monkeypatch, 3)
        assert server.running(record.id) is first and first is not None and not first.done()
        assert started == [record.id]  # the watcher asked once, then left the live runner alone
        with pytest.raises(CampaignError, match=f"campaign {record.id} already has a runner"):
            server.run_campaign(record.id)
        assert server.running(record.id) is first
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/login") as answer:
            assert answer.status == 200
        with pytest.raises(StoreInUse, match="in use by another live dialer process"):
            async with serve(settings, port=0, password_cost=CHEAP):
                pass
    assert first.cancelled()
    assert asyncio.all_tasks() - before == set()
    async with open_store(settings) as store:  # cancelling a runner never changes the campaign
        assert (await store.campaign_store.get(record.id)).status is CampaignStatus.PAUSED


async def _is(server: Server, campaign_id: int, status: CampaignStatus) -> bool:
    return (await server.app.campaign_store.get(campaign_id)).status is status


async def _has_runner(server: Server, campaign_id: int) -> bool:
    return server.runners.get(campaign_id) is not None


async def _no_runner(server: Server, campaign_id: int) -> bool:
    return server.runners.get(campaign_id) is None and server.running(campaign_id) is None


async def test_the_service_sends_the_sms_outbox_itself(settings: Settings, tmp_path: Path) -> None:
    """``dialer web`` holds the store's PBX lock, so ``dialer sms run`` (pbx driver) cannot run beside
    it: the service sends the outbox itself (sms_worker), here through the SMSC simulator."""
    sms = dataclasses.replace(settings.sms, smpp_port=2775 + OFFSET, window="00:00-24:00",
                              templates_file=str(REPO / "config" / "sms_templates.toml"))  # fmt: skip
    settings = dataclasses.replace(settings, sms=sms)
    ledger = tmp_path / "smsc.jsonl"
    smsc = SmscSimulator(sms.smpp_host, sms.smpp_port, ledger)
    await smsc.start()
    try:
        async with serve(settings, port=0, password_cost=CHEAP, watch_campaigns=False, sms_worker=True) as server:
            outbox = build_service(server.app.db, settings, server.app.clock)
            await outbox.queue("+8613800000001", text="王先生您好, 您预约的试驾时间是明天上午十点。", actor="主管")

            async def submitted() -> bool:
                return any(r.get("kind") == "submit" for r in read_ledger(ledger)) if ledger.exists() else False

            await until(submitted, "the message submitted to the SMSC by the service's worker")
        [sent] = [r for r in read_ledger(ledger) if r.get("kind") == "submit"]
        assert sent["to"].endswith("13800000001") and "试驾" in sent["text"]
    finally:
        await smsc.stop()


async def test_a_talk_a_killed_service_held_for_its_form_gets_its_contact_at_the_next_start(
    settings: Settings, tmp_path: Path
) -> None:
    """Whatever the campaign's status now (here: stopped, so no runner will ever start for it)."""
    sheet = tmp_path / "leads.csv"
    sheet.write_text("姓名,手机,线索来源\n王先生,13800000001,网络\n", encoding="utf-8")
    async with open_store(settings) as store:
        await store.leads.importer.import_file(sheet, actor="经理")
        lead = await store.leads.store.find_by_phone("+8613800000001")
        assert lead is not None
        record = await store.campaigns.create(CAMPAIGN, actor="主管")
        await store.campaigns.command(record.id, Command.START, actor="主管")
        now = store.clock.now()
        await store.attempts.create(call_id="talk-1", direction=Direction.OUTBOUND, number="+8613800000001", created_at=now,
                                    lead_id=lead.id, campaign_id=record.id)  # fmt: skip
        await store.attempts.update_progress("talk-1", state=CallState.CONNECTED, connected_at=now, agent="agent1")
        await store.attempts.finish("talk-1", outcome=Outcome.ANSWERED, ended_at=now)
        await store.campaigns.command(record.id, Command.STOP, actor="主管")  # the service died in the wrap-up
    async with serve(settings, port=0, password_cost=CHEAP, watch_campaigns=False):
        pass
    async with open_store(settings) as store:
        events = await store.leads.store.events(lead.id)
        assert [e.kind for e in events].count("contact") == 1
        assert (await store.leads.store.get(lead.id)).first_contact_at is not None


async def test_the_service_makes_the_daily_backup_at_its_time(settings: Settings) -> None:
    # The service's clock stands a second before [backup] time (02:30 in Shanghai): the backup is due at once.
    clock = ShiftedClock(datetime(2026, 11, 29, 18, 29, 59, tzinfo=UTC))
    backups = settings.path(settings.backup.dir)

    async def made() -> bool:
        return backups.is_dir() and any(p.name.startswith("20261130-0230") for p in backups.iterdir())

    async with serve(settings, clock=clock, port=0, password_cost=CHEAP, watch_campaigns=False):
        await until(made, "the daily backup made by the service")
    [folder] = [p for p in backups.iterdir() if p.name.startswith("2026")]
    assert (await verify(folder)).problems == ()
