"""A whole campaign against the real Asterisk: 200 leads, the lab's customer behaviours, 3 SIPp agents.

Runs on a lab of its own (ports shifted) whose customers file gives each lead's number a
behaviour, and on a clock that can jump forward, so retries due in 10 minutes or 2 hours
and the evening window closing are reached without waiting.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.app import App, campaign_runner, open_app
from dialer.campaigns.runner import CampaignRunner, WrapUp
from dialer.clock import ShiftedClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.lifecycle import CampaignStatus, Command
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.model import LeadSource
from dialer.lab.lab import Lab
from dialer.settings import Settings
from tests.campaigns.reallab import campaign_lab, leads_csv, number

pytestmark = pytest.mark.asterisk

TZ = ZoneInfo("Asia/Shanghai")
LEADS = 200
# behaviour, ring_s, talk_s -> the outcome it must end with, and how many attempts the
# campaign's retry rules (below) give it.
BEHAVIOURS = [
    (("answer", 0, 1), Outcome.ANSWERED, 1),
    (("busy", 0, 0), Outcome.BUSY, 2),
    (("vacant", 0, 0), Outcome.VACANT, 1),
    (("reject", 0, 0), Outcome.REJECTED, 1),
    (("congestion", 0, 0), Outcome.CONGESTION, 2),
    (("ring480", 1, 0), Outcome.NO_ANSWER, 2),
    (("answer", 0, 1), Outcome.ANSWERED, 1),
    (("busy", 0, 0), Outcome.BUSY, 2),
]
CAMPAIGN = """
name = "总部线索首次跟进（测试）"
kind = "hq"
mode = "progressive"
agents = ["agent1", "agent2", "agent3"]
lines = 8

[filter]
states = ["new", "following", "reactivated"]

[retry]
busy = "10m"
congestion = "10m"
no_answer = "2h"
rejected = "never"
max_attempts = 2
max_attempts_per_day = 2
"""


def expected(i: int) -> tuple[tuple[str, int, int], Outcome, int]:
    return BEHAVIOURS[i % len(BEHAVIOURS)]


@pytest.fixture(scope="module")
def drill_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    with campaign_lab(tmp_path_factory.mktemp("campaign"), [expected(i)[0] for i in range(LEADS)]) as running:
        yield running


async def robot_desk(runner: CampaignRunner, wrap: WrapUp) -> None:
    """The agent books a showroom visit for the day after tomorrow: the lead leaves the campaign."""
    visit = runner.clock.now() + timedelta(days=2)
    await runner.submit_disposition(wrap.agent, DispositionForm(Disposition.BOOKED_VISIT, visit_at=visit))


async def wait_until(predicate, what: str, timeout: float = 240.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        print("waiting for", what, flush=True)
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


@pytest.mark.timeout(600)
async def test_campaign_runs_to_the_end_with_policy_retries_inside_the_window(
    drill_lab: tuple[Lab, Settings], tmp_path: Path
) -> None:
    _lab, settings = drill_lab
    monday_10am = datetime.combine(datetime(2026, 11, 30).date(), time(10, 0), TZ)
    clock = ShiftedClock(monday_10am)
    async with open_app(settings, clock) as app:
        report = await app.leads.importer.import_file(
            leads_csv(tmp_path / "leads.csv", LEADS), actor="经理", source=LeadSource.HQ
        )
        assert report.created == LEADS
        cfile = tmp_path / "hq.toml"
        cfile.write_text(CAMPAIGN, encoding="utf-8")
        record = await app.campaigns.create(cfile, actor="经理")
        _, enrolled = await app.campaigns.command(record.id, Command.START, actor="经理")
        assert enrolled == LEADS

        runner: CampaignRunner
        runner = campaign_runner(app, record.id, on_wrap_up=lambda wrap: robot_desk(runner, wrap))
        task = asyncio.create_task(runner.run())
        try:
            await wait_until(lambda: _all_ended(app, at_least=LEADS), "every lead dialled once")
            first = {a.lead_id: a for a in await app.attempts.recent(limit=1000)}
            assert len(first) == LEADS  # nobody dialled twice before a retry was due

            clock.jump(10 * 60 + 5)  # busy and congestion retries are now due
            await wait_until(lambda: _all_ended(app, at_least=LEADS + 75), "busy/congestion retries")

            # 19:58: the window (09:00-20:00, no new call in its last 5 minutes) is closed:
            # the no-answer retries due in 2 h must wait for tomorrow morning.
            clock.jump((datetime.combine(monday_10am.date(), time(19, 58), TZ) - clock.now()).total_seconds())
            closed_at = clock.now()
            await asyncio.sleep(3)
            assert all(a.created_at < closed_at for a in await app.attempts.recent(limit=1000))

            clock.jump(
                (
                    datetime.combine(monday_10am.date() + timedelta(days=1), time(9, 0, 5), TZ) - clock.now()
                ).total_seconds()
            )
            summary = await asyncio.wait_for(task, 240)
        finally:
            task.cancel()
        assert summary.status is CampaignStatus.COMPLETED
        assert summary.failures == 0

        attempts = await app.attempts.recent(limit=2000)
        by_lead: dict[int, list] = {}
        for a in sorted(attempts, key=lambda a: a.created_at):
            by_lead.setdefault(a.lead_id, []).append(a)
        lead_numbers = {a.lead_id: a.number for a in attempts}
        index_of = {f"+86{number(i)}": i for i in range(LEADS)}
        for lead_id, tries in by_lead.items():
            i = index_of[lead_numbers[lead_id]]
            _, outcome, count = expected(i)
            assert [t.outcome for t in tries] == [outcome] * count, (i, [t.outcome for t in tries])
            for earlier, later in itertools.pairwise(tries):
                gap = (later.created_at - earlier.ended_at).total_seconds()
                assert gap >= (600 if outcome is not Outcome.NO_ANSWER else 7200) - 1
        for a in attempts:
            local = a.created_at.astimezone(TZ).time()
            assert time(9, 0) <= local < time(19, 55), f"call outside the window at {local}"
        assert app.calls.lines.peak <= 8
        outcomes = Counter(a.outcome for a in attempts)
        assert outcomes[Outcome.ANSWERED] == sum(1 for i in range(LEADS) if expected(i)[1] is Outcome.ANSWERED)
        # every answered call got the agent's disposition: a booked visit, queued for DOSS
        booked = [lead for lead_id in by_lead if (lead := await app.leads.store.get(lead_id)).visit_at is not None]
        assert len(booked) == outcomes[Outcome.ANSWERED]


async def _all_ended(app: App, at_least: int) -> bool:
    listed = await app.attempts.recent(limit=2000)
    return len(listed) >= at_least and all(a.outcome for a in listed)
