"""A real campaign runner in the console's process over the test store, with only the AMI scripted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.campaigns.runner import CampaignRunner
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.lifecycle import Command
from dialer.telephony.calls import CallService
from dialer.web.keys import RUNNERS
from tests.telephony.fakes import FakeAmi


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Let the runner's loop work until ``predicate`` holds (bounded by iterations, not by time)."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


@contextlib.asynccontextmanager
async def running_campaign(
    client: TestClient, dialer_app: App, definition: Path
) -> AsyncIterator[tuple[CampaignRunner, FakeAmi, CallService]]:
    """The campaign of ``definition`` started and run, registered with the console, for the block;
    stopped afterwards the way a person stops it (no store transaction cut by a cancellation)."""
    record = await dialer_app.campaigns.create(definition, actor="li")
    await dialer_app.campaigns.command(record.id, Command.START, actor="li")
    fake = FakeAmi(dialer_app.clock)
    calls = CallService(
        ami_client=fake, attempts=dialer_app.attempts, settings=dialer_app.settings, clock=dialer_app.clock
    )
    runner = CampaignRunner(campaign_id=record.id, campaigns=dialer_app.campaign_store, hopper=dialer_app.hopper, calls=calls,
                            doss=dialer_app.doss, leads=dialer_app.leads.store, history=dialer_app.attempts, settings=dialer_app.settings,
                            clock=dialer_app.clock, bus=dialer_app.bus, presence=dialer_app.presence, tick_s=0.01)  # fmt: skip

    async def route() -> None:
        async for event in fake.events():
            calls.route(event)

    router = asyncio.create_task(route())
    with client.app[RUNNERS].serving(runner):
        task = asyncio.create_task(runner.run())
        try:
            yield runner, fake, calls
        finally:
            await dialer_app.campaigns.command(record.id, Command.STOP, actor="li")
            for sent in fake.originates:  # a stop never cuts a live call: the customers hang up
                fake.hangup(sent["channel_id"], sent["channel_id"], 16)
            # A stopped runner stays while a disposition is owed; let an unfiled one time out.
            await until(lambda: all(s.state is not AgentState.ON_CALL for s in runner.roster), "the last call over")
            dialer_app.clock.advance(3600)  # type: ignore[attr-defined]
            await asyncio.wait_for(task, 10)
            router.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await router
