"""The abandonment guard remembers: a runner restarted mid-month rebuilds its day and 30-day counts from
the store's attempts and throttles exactly like one that never stopped. (The wallboard shows the same
figures: tests/web/test_wallboard.py.)"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.campaigns.stats import AbandonTally, PacingStats
from tests.campaigns.conftest import World
from tests.campaigns.test_engine import scripted_pbx
from tests.campaigns.test_preview import make_runner

# Mostly answered, now and then abandoned: some days go over the 3 % limit, so the throttle moves.
OUTCOMES = [Outcome.ANSWERED, Outcome.ABANDONED, Outcome.EARLY_HANGUP, Outcome.NO_ANSWER, Outcome.MACHINE, Outcome.BUSY]
WEIGHTS = [60, 3, 4, 20, 8, 5]


async def day_of_calls(clock: VirtualClock, write: Callable[[Outcome], Awaitable[object]], rng: random.Random,
                       *guards: PacingStats, next_day: bool = True) -> list[float]:  # fmt: skip
    """One working day's calls (``write`` stores one), each observed by every guard as it ends; returns
    each guard's throttle before each call (the decisions), in order. Then on to the same hour next day."""
    decisions: list[float] = []
    started = clock.now()
    for _ in range(rng.randint(20, 40)):
        decisions.extend(guard.throttle() for guard in guards)
        outcome = rng.choices(OUTCOMES, WEIGHTS)[0]
        await write(outcome)
        for guard in guards:
            guard.observe_attempt(outcome, 6.0)
        clock.advance(15 * 60)
    if next_day:
        clock.set(started + timedelta(days=1))
    return decisions


async def test_a_runner_restarted_mid_month_throttles_like_one_that_never_stopped(world: World) -> None:
    record = await world.campaign()
    other = await world.campaign(name="另一个活动")
    lead = await world.lead("+8613800138000")
    pacing = world.settings.campaigns.pacing
    never_stopped = PacingStats(pacing, world.clock, world.settings.dealer.timezone)
    rng = random.Random(19)

    async def calls(outcome: Outcome) -> None:
        await world.call(lead, record.id, outcome)

    for _ in range(33):  # past the 30-day window, so old days must also drop out of the rebuilt counts
        await day_of_calls(world.clock, calls, rng, never_stopped)
        # Another campaign's calls and an inbound caller who hung up count for neither guard.
        await world.call(lead, other.id, Outcome.ABANDONED)
        inbound = await world.attempts.create(call_id=f"in-{world.clock.monotonic()}", direction=Direction.INBOUND,
                                              number="+8613900139000", created_at=world.clock.now())  # fmt: skip
        await world.attempts.finish(inbound.call_id, outcome=Outcome.ABANDONED, ended_at=world.clock.now())
        world.clock.advance(60)
    world.clock.advance(3 * 3600)  # restart at 13:00, the day's calls under way
    await day_of_calls(world.clock, calls, rng, never_stopped)
    assert never_stopped.tally_rolling().abandoned > 0 and never_stopped.throttle() < 1.0

    async with scripted_pbx(world) as pbx:
        restarted = make_runner(world, record.id, pbx.calls, pbx.doss)
        await restarted._prepare()
    rebuilt = restarted.engine.stats
    assert rebuilt.tally_today() == never_stopped.tally_today()
    assert rebuilt.tally_rolling() == never_stopped.tally_rolling()
    # Then the same decisions, day after day, as the window slides on.
    for _ in range(5):
        decisions = await day_of_calls(world.clock, calls, rng, never_stopped, rebuilt)
        assert decisions[0::2] == decisions[1::2]
    fresh = PacingStats(pacing, world.clock, world.settings.dealer.timezone)
    assert fresh.tally_rolling() == AbandonTally(0, 0)  # what a restart used to start from
