"""Preview mode in the runner: offers per free agent, accept dials that lead for that agent,
skip and timeout release the claim and offer the next lead, pause withdraws every offer.

Runs the real runner, hopper, store and call service; only the AMI is scripted (FakeAmi).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dialer.campaigns.registry import RunnerRegistry
from dialer.campaigns.runner import (
    CampaignRunner,
    OfferEnd,
    PreviewOffered,
    PreviewRefused,
    PreviewWithdrawn,
    RunSummary,
    WrapUp,
)
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose, load_mapping
from dialer.doss.service import DossService
from dialer.events.bus import BusEvent, EventBus, Subscription
from dialer.settings import CampaignDefaults, RecordingSettings, Settings
from dialer.store.doss import DossOutbox
from dialer.telephony.calls import CallService
from tests.telephony.fakes import FakeAmi

from .conftest import PHONES, World

TIMEOUT_S = 30.0
TIMEOUT = timedelta(seconds=TIMEOUT_S)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        recording=RecordingSettings(dir=str(tmp_path / "rec")),
        campaigns=CampaignDefaults(preview_timeout_s=TIMEOUT_S),
    )


@dataclass
class Desk:
    """A preview campaign running against the scripted PBX, with the bus the desks listen to."""

    world: World
    runner: CampaignRunner
    fake: FakeAmi
    events: Subscription
    campaign_id: int
    leads: list[int]
    wrap_ups: list[WrapUp]
    running: asyncio.Task[RunSummary]
    calls: CallService
    doss: DossService

    def seen(self) -> list[BusEvent]:
        return self.events.pending()

    def offered(self) -> dict[str, int]:
        return {o.agent: o.lead_id for o in self.runner.offers()}

    async def withdrawn(self) -> PreviewWithdrawn:
        """The next withdrawal on the bus (published once the claim is released)."""
        while not isinstance(event := await asyncio.wait_for(self.events.get(), 10), PreviewWithdrawn):
            pass
        return event

    async def attempts(self, lead_id: int) -> int:
        """How many attempts the hopper counted for ``lead_id`` in this campaign."""
        async with self.world.db.read() as r:
            n = await r.fetchval(
                "SELECT attempts FROM campaign_leads WHERE campaign_id = ? AND lead_id = ?", (self.campaign_id, lead_id)
            )
        assert isinstance(n, int)
        return n


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Let the runner's loop work until ``predicate`` holds (bounded by iterations, not by time)."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def make_runner(world: World, campaign_id: int, calls: CallService, doss: DossService, **extra: Any) -> CampaignRunner:
    """A runner of ``campaign_id`` over the world's store and these services (``extra``: on_wrap_up, bus)."""
    return CampaignRunner(campaign_id=campaign_id, campaigns=world.store, hopper=world.hopper, calls=calls, doss=doss,
                          leads=world.leads, history=world.attempts, settings=world.settings, clock=world.clock, tick_s=0.01,
                          **extra)  # fmt: skip


@pytest.fixture
async def desk(world: World) -> AsyncIterator[Desk]:
    leads = [await world.lead(PHONES[i]) for i in (1, 2, 3)]
    record = await world.campaign(mode="preview")
    fake = FakeAmi(world.clock)
    calls = CallService(ami_client=fake, attempts=world.attempts, settings=world.settings, clock=world.clock)
    doss = DossService(
        world.db,
        world.leads,
        DossOutbox(world.db),
        load_mapping(world.settings.path(world.settings.doss.mapping_file)),
        world.clock,
    )
    bus = EventBus()
    events = bus.subscribe(PreviewOffered, PreviewWithdrawn)
    wrap_ups: list[WrapUp] = []

    async def on_wrap_up(wrap: WrapUp) -> None:
        wrap_ups.append(wrap)

    runner = make_runner(world, record.id, calls, doss, on_wrap_up=on_wrap_up, bus=bus)

    async def route() -> None:
        async for event in fake.events():
            calls.route(event)

    router = asyncio.create_task(route())
    running = asyncio.create_task(runner.run())
    try:
        yield Desk(world, runner, fake, events, record.id, leads, wrap_ups, running, calls, doss)
    finally:
        # Stopped the way a person stops it, so no store transaction is cut by a cancellation.
        with contextlib.suppress(CampaignError):  # a test may have stopped it already
            await world.service.command(record.id, Command.STOP, "tester")
        for sent in fake.originates:  # a stop never cuts a live call: the customers hang up
            fake.hangup(sent["channel_id"], sent["channel_id"], 16)
        if not running.cancelled():  # a test may have taken the process away
            await asyncio.wait_for(running, 10)
        router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await router


async def test_each_free_agent_gets_one_offer_and_nothing_is_dialled(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "an offer for each agent")
    offers = {o.agent: o for o in desk.runner.offers()}
    assert set(offers) == {"agent1", "agent2"}
    assert len({o.lead_id for o in offers.values()}) == 2
    assert all(o.expires_at == o.offered_at + TIMEOUT for o in offers.values())
    published = [e for e in desk.seen() if isinstance(e, PreviewOffered)]
    assert {(e.agent, e.lead_id) for e in published} == {(a, o.lead_id) for a, o in offers.items()}
    claimed = {p.lead_id for p in await desk.world.store.claimed(desk.campaign_id)}
    assert claimed == {o.lead_id for o in offers.values()}
    for _ in range(20):  # more loop turns change nothing: offers are not calls
        await asyncio.sleep(0.005)
    assert desk.fake.originates == []
    assert {o.lead_id for o in desk.runner.offers()} == claimed


async def test_accept_dials_that_lead_and_connects_that_agent_only(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    offer = next(o for o in desk.runner.offers() if o.agent == "agent2")
    lead = await desk.world.leads.get(offer.lead_id)
    accepted = desk.runner.accept_preview("agent2")
    assert accepted.accepted_at is not None and accepted.lead_id == offer.lead_id
    with pytest.raises(PreviewRefused):
        desk.runner.accept_preview("agent2")  # already accepted
    await until(lambda: len(desk.fake.originates) == 1, "the originate")
    sent = desk.fake.originates[0]
    assert sent["channel"] == f"Local/{lead.phones[0].e164.removeprefix('+86')}@dcc-outbound/n"
    assert offer.lead_id not in {o.lead_id for o in desk.runner.offers()}
    call_id = sent["channel_id"]
    desk.fake.play_answered_call(call_id)
    await until(lambda: desk.fake.redirects, "the agent connect")
    assert [r[2] for r in desk.fake.redirects] == ["agent2"]
    desk.fake.finish_answered_call(call_id, agent="agent2")
    await until(lambda: desk.wrap_ups, "the wrap-up")
    assert (desk.wrap_ups[0].agent, desk.wrap_ups[0].lead_id) == ("agent2", offer.lead_id)
    assert desk.wrap_ups[0].attempt.outcome is Outcome.ANSWERED
    assert len(desk.fake.originates) == 1  # agent1 never accepted: nothing else was dialled
    # In wrap-up agent2 gets no new offer; after the disposition the next lead is offered.
    assert "agent2" not in {o.agent for o in desk.runner.offers()}
    await desk.runner.submit_disposition(
        "agent2",
        DispositionForm(
            Disposition.REFUSED, next_follow_up_at=desk.world.clock.now() + TIMEOUT, purpose=FollowUpPurpose.OTHER
        ),
    )
    await until(lambda: "agent2" in {o.agent for o in desk.runner.offers()}, "the next offer for agent2")
    assert next(o for o in desk.runner.offers() if o.agent == "agent2").lead_id != offer.lead_id


async def test_a_stopped_campaign_waits_for_the_disposition_its_last_call_owes(desk: Desk) -> None:
    """The desk's form ends the wrap-up through the runner, so the runner must outlive the campaign's end."""
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    desk.runner.accept_preview("agent2")
    await until(lambda: desk.fake.originates, "the originate")
    call_id = desk.fake.originates[0]["channel_id"]
    desk.fake.play_answered_call(call_id)
    await until(lambda: desk.fake.redirects, "the agent connect")
    desk.fake.finish_answered_call(call_id, agent="agent2")
    await until(lambda: desk.wrap_ups, "the wrap-up")
    await desk.world.service.command(desk.campaign_id, Command.STOP, "tester")
    await until(lambda: not desk.runner.offers(), "the offers withdrawn")
    for _ in range(50):  # many loop turns: still there, still owed
        await asyncio.sleep(0.005)
    assert not desk.running.done() and desk.runner.wrap_up_of("agent2") is not None
    await desk.runner.submit_disposition(
        "agent2",
        DispositionForm(
            Disposition.REFUSED, next_follow_up_at=desk.world.clock.now() + TIMEOUT, purpose=FollowUpPurpose.OTHER
        ),
    )
    summary = await asyncio.wait_for(desk.running, 10)
    assert summary.outcomes == {Outcome.ANSWERED: 1}


async def test_an_accepted_call_never_goes_to_a_colleague(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    desk.runner.accept_preview("agent2")
    await until(lambda: desk.fake.originates, "the originate")
    desk.runner.roster.get("agent2").pause("洗手间", desk.world.clock.now())  # gone before the customer answers
    call_id = desk.fake.originates[0]["channel_id"]
    desk.fake.play_answered_call(call_id)
    desk.fake.hangup(call_id, f"{call_id}-cust", 16)
    desk.fake.hangup(call_id, call_id, 16)
    await until(lambda: not desk.runner._tasks, "the call's bookkeeping")
    assert desk.fake.redirects == []  # agent1 was free, but never saw this lead
    assert desk.wrap_ups == []


async def test_an_unanswered_preview_call_leaves_the_agent_free_for_the_next_offer(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    offer = desk.runner.accept_preview("agent1")
    await until(lambda: desk.fake.originates, "the originate")
    call_id = desk.fake.originates[0]["channel_id"]
    desk.fake.hangup(call_id, call_id, 19)  # no answer
    await until(lambda: "agent1" in {o.agent for o in desk.runner.offers()}, "a new offer for agent1")
    assert desk.fake.redirects == []
    assert desk.wrap_ups == []
    await until(lambda: not desk.runner._tasks, "the call's bookkeeping")
    assert await desk.attempts(offer.lead_id) == 1


async def test_skip_releases_the_lead_and_offers_the_agent_another(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    desk.seen()
    skipped = next(o for o in desk.runner.offers() if o.agent == "agent1")
    with pytest.raises(PreviewRefused):
        await desk.runner.skip_preview("agent1", "  ")  # a skip says why
    ended = await desk.runner.skip_preview("agent1", "客户在开会, 下午再打")
    assert ended.lead_id == skipped.lead_id
    now_offered = desk.offered()
    (third,) = set(desk.leads) - {skipped.lead_id, now_offered["agent2"]}
    assert now_offered["agent1"] == third  # the agent is not handed back the lead they passed on
    claimed = {p.lead_id for p in await desk.world.store.claimed(desk.campaign_id)}
    assert skipped.lead_id not in claimed
    events = desk.seen()
    assert PreviewWithdrawn(ended.offered_at, desk.campaign_id, "agent1", skipped.lead_id, OfferEnd.SKIPPED) in events
    assert any(isinstance(e, PreviewOffered) and (e.agent, e.lead_id) == ("agent1", third) for e in events)
    assert desk.fake.originates == []
    assert await desk.attempts(skipped.lead_id) == 0
    # No attempt was counted: the skipped lead is offered again as soon as an agent is free.
    await desk.runner.skip_preview("agent2", "换人跟进")
    assert skipped.lead_id in {o.lead_id for o in desk.runner.offers()}
    with pytest.raises(PreviewRefused):
        await desk.runner.skip_preview("agent9", "nobody")


async def test_an_offer_nobody_answers_is_released_after_the_timeout(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    before = {o.agent: o for o in desk.runner.offers()}
    desk.runner.accept_preview("agent2")
    desk.seen()
    desk.world.clock.advance(TIMEOUT_S - 1)
    for _ in range(20):  # not yet: the offer stands
        await asyncio.sleep(0.005)
    assert desk.offered()["agent1"] == before["agent1"].lead_id
    desk.world.clock.advance(1)
    withdrawn = await desk.withdrawn()
    assert (withdrawn.agent, withdrawn.lead_id, withdrawn.reason) == (
        "agent1",
        before["agent1"].lead_id,
        OfferEnd.TIMED_OUT,
    )
    assert desk.offered()["agent1"] not in (before["agent1"].lead_id, before["agent2"].lead_id)
    claimed = {p.lead_id for p in await desk.world.store.claimed(desk.campaign_id)}
    assert before["agent1"].lead_id not in claimed
    assert await desk.attempts(before["agent1"].lead_id) == 0
    # The accepted offer does not time out: it was dialled (there were free lines).
    assert len(desk.fake.originates) == 1
    with pytest.raises(PreviewRefused):
        desk.runner.accept_preview("agent9")


async def test_pause_withdraws_offers_and_offers_nothing_new(desk: Desk) -> None:
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    desk.seen()
    await desk.world.service.command(desk.campaign_id, Command.PAUSE, "tester")
    withdrawn = [await desk.withdrawn(), await desk.withdrawn()]
    assert desk.runner.offers() == ()
    assert {e.agent for e in withdrawn} == {"agent1", "agent2"}
    assert {e.reason for e in withdrawn} == {OfferEnd.NOT_RUNNING}
    assert await desk.world.store.claimed(desk.campaign_id) == []
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert desk.runner.offers() == () and desk.fake.originates == []
    await desk.world.service.command(desk.campaign_id, Command.RESUME, "tester")
    await until(lambda: len(desk.runner.offers()) == 2, "offers again after resume")


async def test_registry_finds_offers_by_agent_and_refuses_a_second_runner(desk: Desk) -> None:
    runners = RunnerRegistry()
    with runners.serving(desk.runner):
        await until(lambda: len(desk.runner.offers()) == 2, "offers")
        assert [o.agent for o in runners.offers_for("agent1")] == ["agent1"]
        assert runners.get(desk.campaign_id) is desk.runner
        with pytest.raises(CampaignError):
            runners.add(desk.runner)
    assert runners.get(desk.campaign_id) is None and runners.offers_for("agent1") == []


async def test_a_talk_left_unfiled_by_a_stopped_runner_reaches_the_history_at_the_next_start(desk: Desk) -> None:
    """The runner held the talk for the agent's form when it went away: the next runner writes its contact, once."""
    await until(lambda: len(desk.runner.offers()) == 2, "offers")
    offer = desk.runner.accept_preview("agent2")
    await until(lambda: desk.fake.originates, "the originate")
    call_id = desk.fake.originates[0]["channel_id"]
    desk.fake.play_answered_call(call_id)
    await until(lambda: desk.fake.redirects, "the agent connect")
    desk.fake.finish_answered_call(call_id, agent="agent2")
    await until(lambda: desk.wrap_ups, "the wrap-up")
    desk.running.cancel()  # the process went away with the form unfiled
    # Bounded: a runner that swallowed its cancellation would tick on forever (dialer.tasks.wait_event).
    async with asyncio.timeout(10):
        with contextlib.suppress(asyncio.CancelledError):
            await desk.running
    assert desk.running.cancelled()
    kinds = [e.kind for e in await desk.world.leads.events(offer.lead_id)]
    assert "contact" not in kinds
    [talk] = await desk.world.store.unfiled_talks(desk.campaign_id)
    assert talk.call_id == call_id
    again = make_runner(desk.world, desk.campaign_id, desk.calls, desk.doss)  # the process started again
    await again._prepare()
    lead = await desk.world.leads.get(offer.lead_id)
    assert [e.kind for e in await desk.world.leads.events(offer.lead_id)].count("contact") == 1
    assert lead.first_contact_at is not None  # the follow-up counts (KPIs, deadlines)
    assert await desk.world.store.unfiled_talks(desk.campaign_id) == []
    await again._prepare()  # a second start writes nothing more
    assert [e.kind for e in await desk.world.leads.events(offer.lead_id)].count("contact") == 1
