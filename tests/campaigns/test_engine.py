"""The campaign engine: its decisions, and proof that the runner and the simulator both drive it.

The last test feeds one script (one agent, progressive, customers who answer and talk) to the real
runner over the scripted PBX and to the simulator, records every call each makes on the engine, and
checks the two recordings agree: the simulation exercises the code that dials.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

import dialer.campaigns.runner as runner_module
import dialer.sim.engine as sim_module
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentRoster, AgentState
from dialer.domain.campaigns.engine import CampaignEngine
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.campaigns.pacing import PacingMode, make_pacer
from dialer.domain.campaigns.policy import CampaignRules
from dialer.domain.campaigns.stats import PacingStats
from dialer.domain.doss.mapping import Disposition, DispositionForm, load_mapping
from dialer.doss.service import DossService
from dialer.settings import Settings
from dialer.sim.engine import Scenario, simulate
from dialer.sim.model import AgentModel, CustomerModel
from dialer.store.doss import DossOutbox
from dialer.telephony.calls import CallService
from tests.campaigns.test_preview import make_runner, until
from tests.telephony.fakes import FakeAmi

from .conftest import PHONES, World

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def engine(mode: PacingMode, *agents: str, settings: Settings | None = None) -> CampaignEngine:
    cfg = settings or Settings()
    clock_stats = PacingStats(cfg.campaigns.pacing, VirtualClock(NOW), cfg.dealer.timezone)
    roster = AgentRoster(cfg.campaigns.wrap_up_timeout_s)
    e = CampaignEngine(mode, roster, clock_stats, make_pacer(mode, clock_stats, 0))
    for agent in agents:
        e.observe(roster.add(agent, NOW).login(NOW))
    return e


def test_progressive_dials_one_call_per_free_agent_and_counts_the_ringing_ones() -> None:
    e = engine(PacingMode.PROGRESSIVE, "a1", "a2")
    assert e.plan(NOW, lines_in_use=0, line_cap=8).count == 2
    e.placed("c1", NOW)
    assert e.plan(NOW, lines_in_use=1, line_cap=8).count == 1
    assert e.plan(NOW, lines_in_use=8, line_cap=8).count == 0  # no line left
    assert e.lines() == 1


def test_the_owner_takes_the_call_when_free_else_the_longest_idle() -> None:
    e = engine(PacingMode.PROGRESSIVE, "a1", "a2")
    e.placed("c1", NOW)
    e.placed("c2", NOW)
    assert e.answered("c1", NOW + timedelta(seconds=5), owner="a2") == "a2"
    assert e.answered("c2", NOW + timedelta(seconds=6), owner="a2") == "a1"  # the owner is busy
    assert {s.agent_id: s.state for s in e.roster} == {"a1": AgentState.ON_CALL, "a2": AgentState.ON_CALL}


def test_an_answered_call_nobody_can_take_waits_until_it_ends_and_no_freed_agent_takes_it() -> None:
    e = engine(PacingMode.PREDICTIVE, "a1")
    e.placed("c1", NOW)
    e.placed("c2", NOW)
    assert e.answered("c1", NOW) == "a1"
    assert e.answered("c2", NOW) is None  # waits: the PBX plays the abandon message after the hold
    moved = e.ended("c1", Outcome.ANSWERED, NOW + timedelta(seconds=30))
    assert moved is not None and moved.after is AgentState.WRAP_UP
    assert e.disposition("a1", NOW + timedelta(seconds=31)) is not None
    assert e.roster.get("a1").state is AgentState.AVAILABLE  # free, yet c2 stays unconnected
    assert e.ended("c2", Outcome.ABANDONED, NOW + timedelta(seconds=2)) is None
    assert e.lines() == 0


def test_an_agent_whose_phone_never_bridged_is_free_at_once() -> None:
    e = engine(PacingMode.PROGRESSIVE, "a1")
    e.placed("c1", NOW)
    assert e.answered("c1", NOW) == "a1"
    moved = e.ended("c1", Outcome.ANSWERED, NOW, talked=False)
    assert moved is not None and moved.after is AgentState.AVAILABLE


def test_an_accepted_preview_is_dialled_for_its_agent_only() -> None:
    e = engine(PacingMode.PREVIEW, "a1", "a2")
    assert e.plan(NOW, 0, 8).count == 0  # nobody accepted yet
    e.accept("a2")
    plan = e.plan(NOW, 0, 8)
    assert (plan.count, plan.for_agents) == (1, ("a2",))
    e.placed("c1", NOW, agent="a2")
    assert e.held_for_previews() == {"a2"}
    e.observe(e.roster.get("a2").pause("coffee", NOW))
    assert e.answered("c1", NOW) is None  # never a colleague's customer
    assert e.ended("c1", Outcome.ABANDONED, NOW) is None and e.held_for_previews() == set()


def test_an_agent_who_leaves_is_not_dialled_for_and_mistakes_are_refused() -> None:
    e = engine(PacingMode.PREVIEW, "a1")
    e.accept("a1")
    e.observe(e.roster.get("a1").logout(NOW))
    assert e.ready() == () and e.plan(NOW, 0, 8).count == 0
    with pytest.raises(CampaignError, match="only a preview campaign"):
        engine(PacingMode.PROGRESSIVE, "a1").accept("a1")
    e.placed("c1", NOW)
    with pytest.raises(CampaignError, match="placed twice"):
        e.placed("c1", NOW)
    with pytest.raises(CampaignError, match="never placed"):
        e.ended("c9", Outcome.BUSY, NOW)


@dataclass(frozen=True, slots=True)
class ScriptedPbx:
    """The call service over the scripted PBX, and the DOSS service, for a runner under test."""

    fake: FakeAmi
    calls: CallService
    doss: DossService


@contextlib.asynccontextmanager
async def scripted_pbx(world: World) -> AsyncIterator[ScriptedPbx]:
    """The services a runner needs, the scripted PBX's events routed to the call service while the block runs."""
    fake = FakeAmi(world.clock)
    calls = CallService(ami_client=fake, attempts=world.attempts, settings=world.settings, clock=world.clock)
    doss = DossService(
        world.db,
        world.leads,
        DossOutbox(world.db),
        load_mapping(world.settings.path(world.settings.doss.mapping_file)),
        world.clock,
    )

    async def route() -> None:
        async for event in fake.events():
            calls.route(event)

    router = asyncio.create_task(route())
    try:
        yield ScriptedPbx(fake, calls, doss)
    finally:
        router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await router


class _Recording(CampaignEngine):
    """The engine, writing down every event it is fed and every decision it takes, without times or ids."""

    trace: list[tuple[Any, ...]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trace = []
        _Recording.made.append(self)

    made: list[_Recording] = []  # noqa: RUF012 - the instances the code under test created

    def plan(self, now: datetime, lines_in_use: int, line_cap: int) -> Any:
        plan = super().plan(now, lines_in_use, line_cap)
        if plan.count:
            self.trace.append(("plan", plan.count))
        return plan

    def placed(self, call_id: str, now: datetime, agent: str | None = None) -> None:
        super().placed(call_id, now, agent)
        self.trace.append(("placed", agent))

    def answered(self, call_id: str, now: datetime, owner: str | None = None) -> str | None:
        agent = super().answered(call_id, now, owner)
        self.trace.append(("answered", agent))
        return agent

    def ended(self, call_id: str, outcome: Outcome, now: datetime, *, talked: bool = True) -> Any:
        moved = super().ended(call_id, outcome, now, talked=talked)
        self.trace.append(("ended", outcome, None if moved is None else moved.after))
        return moved

    def disposition(self, agent: str, now: datetime) -> Any:
        moved = super().disposition(agent, now)
        self.trace.append(("disposition", agent, None if moved is None else moved.after))
        return moved


# One agent, progressive: two customers answer in turn, talk, and the agent files each result.
SCRIPT = [
    ("plan", 1),
    ("placed", None),
    ("answered", "agent1"),
    ("ended", Outcome.ANSWERED, AgentState.WRAP_UP),
    ("disposition", "agent1", AgentState.AVAILABLE),
    ("plan", 1),
    ("placed", None),
    ("answered", "agent1"),
    ("ended", Outcome.ANSWERED, AgentState.WRAP_UP),
    ("disposition", "agent1", AgentState.AVAILABLE),
]


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[_Recording]:
    _Recording.made = []
    monkeypatch.setattr(runner_module, "CampaignEngine", _Recording)
    monkeypatch.setattr(sim_module, "CampaignEngine", _Recording)
    return _Recording.made


def test_the_simulator_drives_the_engine_through_the_script(recording: list[_Recording]) -> None:
    cfg = Settings()
    rules = CampaignRules.from_settings(cfg)
    scenario = Scenario(
        mode=PacingMode.PROGRESSIVE,
        agents=1,
        lines=1,
        hours=0.1,
        seed=1,
        start=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),  # 10:00 in Shanghai: the calling window is open
        customers=CustomerModel(answer_p=1.0, answer_after_s=(5.0, 5.0)),
        agent_model=AgentModel(talk_mean_s=60.0, wrap_up_s=10.0),
    )
    simulate(scenario, rules, cfg.campaigns.pacing, cfg.calls.abandon_after_s)
    [sim] = recording
    assert [replace_agent(step, "a01", "agent1") for step in sim.trace[: len(SCRIPT)]] == SCRIPT


async def test_the_runner_drives_the_engine_through_the_same_script(world: World, recording: list[_Recording]) -> None:
    for i in (1, 2):
        await world.lead(PHONES[i])
    record = await world.campaign(mode="progressive", agents=["agent1"])

    async with scripted_pbx(world) as pbx:
        await _drive_the_script(world, record.id, pbx, recording)
    runner_engine = recording[-1]  # the one _prepare() built from the campaign's definition
    assert runner_engine.trace[: len(SCRIPT)] == SCRIPT


async def _drive_the_script(world: World, campaign_id: int, pbx: ScriptedPbx, recording: list[_Recording]) -> None:
    fake = pbx.fake

    async def file_result(wrap: Any) -> None:
        await runner.submit_disposition(wrap.agent, DispositionForm(Disposition.DEFEATED, defeat_reason="已购竞品"))

    runner = make_runner(world, campaign_id, pbx.calls, pbx.doss, on_wrap_up=file_result)
    running = asyncio.create_task(runner.run())
    try:
        for n in (1, 2):
            await until(lambda n=n: len(fake.originates) == n, f"call {n} placed")
            call_id = fake.originates[n - 1]["channel_id"]
            fake.play_answered_call(call_id, agent="agent1")
            await until(lambda n=n: len(fake.redirects) == n, f"call {n} put through")
            fake.finish_answered_call(call_id, agent="agent1")
            await until(
                lambda n=n: sum(1 for step in recording[-1].trace if step[0] == "disposition") == n,
                f"result {n} filed",
            )
        summary = await asyncio.wait_for(running, 10)  # both leads called: the campaign completes itself
        assert summary.dialled == 2
    finally:
        if not running.done():
            with contextlib.suppress(CampaignError):
                await world.service.command(campaign_id, Command.STOP, "tester")
            await asyncio.wait_for(running, 10)


def replace_agent(step: tuple[Any, ...], old: str, new: str) -> tuple[Any, ...]:
    """The simulator names its agents a01, a02...; the script names the campaign's agent."""
    return tuple(new if part == old else part for part in step)


async def test_a_person_stopping_the_campaign_as_it_runs_out_of_leads_does_not_crash_the_runner(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = await world.campaign(mode="progressive", agents=["agent1"])  # no leads: exhausted at once

    async def stopped_meanwhile() -> bool:
        await world.service.command(record.id, Command.STOP, "主管")  # between the check and the completion
        return True

    async with scripted_pbx(world) as pbx:
        runner = make_runner(world, record.id, pbx.calls, pbx.doss)
        monkeypatch.setattr(runner, "_exhausted", stopped_meanwhile)
        summary = await asyncio.wait_for(runner.run(), 10)
    assert summary.status.value == "stopped"


@pytest.mark.parametrize(
    ("campaign", "configured", "shown"),
    [
        ({"caller_id": "010 8888 6666"}, "", "01088886666"),  # the campaign's number, in the dial format
        ({}, "01055550000", "01055550000"),  # none of its own: the PBX's configured one
    ],
)
async def test_the_campaign_s_caller_id_goes_out_with_its_calls(
    world: World, campaign: dict[str, str], configured: str, shown: str
) -> None:
    # A short action timeout: the hung-up call is settled without waiting for evidence the fake never sends.
    world.settings = replace(
        world.settings, pbx=replace(world.settings.pbx, caller_id=configured, action_timeout_s=0.2)
    )
    await world.lead(PHONES[1])
    record = await world.campaign(mode="progressive", agents=["agent1"], **campaign)
    async with scripted_pbx(world) as pbx:
        running = asyncio.create_task(make_runner(world, record.id, pbx.calls, pbx.doss).run())
        fake = pbx.fake
        try:
            await until(lambda: len(fake.originates) == 1, "the call placed")
            assert fake.originates[0]["caller_id"] == shown
        finally:
            await world.service.command(record.id, Command.STOP, "tester")
            for sent in fake.originates:  # the customer hangs up: the stopped runner's last call ends
                fake.hangup(sent["channel_id"], sent["channel_id"], 16)
            await asyncio.wait_for(running, 10)


async def test_nothing_is_dialled_while_the_pbx_link_is_down_and_dialling_resumes_when_it_is_back(world: World) -> None:
    """While the AMI link is down every Originate fails at once: dialled, the leads would be used up as
    `failed` attempts that never rang (seen in the Asterisk-restart drill: 40 leads in one second)."""
    world.settings = replace(world.settings, pbx=replace(world.settings.pbx, action_timeout_s=0.2))
    lead = await world.lead(PHONES[1])
    record = await world.campaign(mode="progressive", agents=["agent1"])
    async with scripted_pbx(world) as pbx:
        fake = pbx.fake
        fake.connected = False
        with capture_logs() as logs:
            running = asyncio.create_task(make_runner(world, record.id, pbx.calls, pbx.doss).run())
            try:
                for _ in range(30):  # thirty turns of the loop (tick 0.01 s): no call tried, no lead used up
                    await asyncio.sleep(0.01)
                assert [a for a in await world.attempts.recent() if a.lead_id == lead] == []
                assert [e["event"] for e in logs].count("campaign.waiting_for_pbx") == 1  # said once per outage
                fake.connected = True
                await until(lambda: len(fake.originates) == 1, "the call placed once the link is back")
                assert "campaign.pbx_back" in [e["event"] for e in logs]
                assert (await world.hopper.next_batch(record.id, 1, world.clock.now())) == []  # lead in the call
            finally:
                await world.service.command(record.id, Command.STOP, "tester")
                for sent in fake.originates:
                    fake.hangup(sent["channel_id"], sent["channel_id"], 16)
                await asyncio.wait_for(running, 10)
