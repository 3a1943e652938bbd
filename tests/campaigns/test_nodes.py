"""Several nodes on one store, one per PBX ([pbx] name): each reconciles its own PBX's calls and
claims at start-up, never those of another node still dialling them; its successor on the same PBX
reconciles what a dead node left."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from dialer.campaigns.hopper import Hopper
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import load_mapping
from dialer.doss.service import DossService
from dialer.settings import PbxSettings, RecordingSettings
from dialer.store.attempts import AttemptStore
from dialer.store.campaigns import CampaignStore
from dialer.store.doss import DossOutbox
from dialer.store.errors import StoreBusy
from dialer.store.leases import NodeLease
from dialer.store.process_lock import LeaseLost
from dialer.telephony.calls import CallService
from tests.telephony.fakes import FakeAmi

from .conftest import PHONES, World
from .test_preview import make_runner, until

LEASE_S = 30.0


def node(world: World, pbx: str) -> World:
    """The same store seen by the node that drives PBX ``pbx``."""
    settings = dataclasses.replace(world.settings, pbx=PbxSettings(name=pbx))
    store = CampaignStore(world.db, settings)
    return dataclasses.replace(
        world,
        settings=settings,
        store=store,
        hopper=Hopper(store, settings),
        attempts=AttemptStore(world.db, pbx),
    )


async def test_a_starting_node_leaves_another_pbxs_claims_and_calls_alone(world: World) -> None:
    a, b = node(world, "site-a"), node(world, "site-b")
    leads = [await world.lead(PHONES[i]) for i in range(1, 5)]
    c = await world.campaign()
    now = world.clock.now()
    a_picks = [p.lead_id for p in await a.hopper.next_batch(c.id, 2, now)]
    b_picks = [p.lead_id for p in await b.hopper.next_batch(c.id, 2, now)]
    assert sorted(a_picks + b_picks) == sorted(leads)
    await a.call(a_picks[0], c.id)  # site-a's call in flight; its other claim not dialled yet
    await b.call(b_picks[0], c.id)

    # Node b restarts: it settles its own claims only.
    recovery = await b.hopper.recover(c.id, world.clock.now())
    assert (recovery.released, recovery.in_flight) == (1, 1)
    assert {p.lead_id for p in await a.store.claimed(c.id)} == set(a_picks)
    assert [x.lead_id for x in await b.attempts.in_flight()] == [b_picks[0]]
    assert [x.lead_id for x in await a.attempts.in_flight()] == [a_picks[0]]
    assert await a.attempts.count_in_flight() == 1

    # site-a's node died; its successor (same PBX, another process) reconciles what it left.
    successor = node(world, "site-a")
    await successor.attempts.finish(
        (await successor.attempts.in_flight())[0].call_id, outcome=Outcome.UNKNOWN, ended_at=world.clock.now()
    )
    recovery = await successor.hopper.recover(c.id, world.clock.now())
    assert (recovery.settled, recovery.released, recovery.in_flight) == (1, 1, 0)
    assert await successor.store.claimed(c.id) == []
    assert {p.lead_id for p in await b.store.claimed(c.id)} == {b_picks[0]}


async def test_attempts_and_claims_from_before_several_nodes_belong_to_whichever_node_starts(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    (pick,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    async with world.db.write() as tx:  # as migration 0170 found them: no PBX named
        await tx.execute("UPDATE campaign_leads SET claimed_pbx = NULL")
    await world.call(pick.lead_id, c.id)  # world.attempts names no PBX
    b = node(world, "site-b")
    assert [x.lead_id for x in await b.attempts.in_flight()] == [lead]
    assert [p.lead_id for p in await b.store.claimed(c.id)] == [lead]


async def test_a_runner_whose_node_lost_its_lease_stops_dialling(world: World, tmp_path: Path) -> None:
    settings = dataclasses.replace(world.settings, recording=RecordingSettings(dir=str(tmp_path / "rec")))
    world = dataclasses.replace(world, settings=settings)
    for i in range(1, 30):
        await world.lead(PHONES[i])
    record = await world.campaign(lines=2)
    fake = FakeAmi(world.clock)
    calls = CallService(ami_client=fake, attempts=world.attempts, settings=settings, clock=world.clock)
    doss = DossService(
        world.db,
        world.leads,
        DossOutbox(world.db),
        load_mapping(settings.path(settings.doss.mapping_file)),
        world.clock,
    )
    lease = await NodeLease.take(world.db, settings.pbx.name, LEASE_S, world.clock, node="host-a/101")
    runner = make_runner(world, record.id, calls, doss, lease=lease)
    running = asyncio.create_task(runner.run())
    await until(lambda: len(fake.originates) > 0, "the runner dialled while its lease was held")
    world.clock.advance(LEASE_S)  # no renewal: the lease ran out on this node's clock
    with pytest.raises(LeaseLost, match="it stops dialling"):
        await asyncio.wait_for(running, 10)
    dialled = len(fake.originates)
    assert dialled <= 2  # the campaign's lines
    assert await world.attempts.count_in_flight() == dialled  # left for the successor to reconcile


async def test_a_runner_started_after_the_lease_was_lost_settles_no_claims(world: World, tmp_path: Path) -> None:
    settings = dataclasses.replace(world.settings, recording=RecordingSettings(dir=str(tmp_path / "rec")))
    world = dataclasses.replace(world, settings=settings)
    await world.lead(PHONES[1])
    record = await world.campaign()
    lease = await NodeLease.take(world.db, settings.pbx.name, LEASE_S, world.clock, node="host-a/101")
    world.clock.advance(LEASE_S)
    # The successor on the same PBX has claimed the lead and is about to dial it.
    successor = await NodeLease.take(world.db, settings.pbx.name, LEASE_S, world.clock, node="host-a/102")
    assert successor.held
    (pick,) = await world.hopper.next_batch(record.id, 1, world.clock.now())
    fake = FakeAmi(world.clock)
    calls = CallService(ami_client=fake, attempts=world.attempts, settings=settings, clock=world.clock)
    doss = DossService(
        world.db,
        world.leads,
        DossOutbox(world.db),
        load_mapping(settings.path(settings.doss.mapping_file)),
        world.clock,
    )
    with pytest.raises(LeaseLost):
        await make_runner(world, record.id, calls, doss, lease=lease).run()
    assert [p.lead_id for p in await world.store.claimed(record.id)] == [pick.lead_id]  # not released
    assert fake.originates == []


class _BusyOnce(AttemptStore):
    """The store refusing the first attempt row (a write the database refused under load), then writing."""

    refused = 0

    async def create(self, **fields: Any) -> Attempt:  # type: ignore[override]
        if not self.refused:
            self.refused += 1
            raise StoreBusy("database is locked")
        return await super().create(**fields)


async def test_a_call_that_failed_before_its_attempt_gives_its_lead_back(world: World, tmp_path: Path) -> None:
    """Before, the lead stayed claimed by the node: never dialled, and the campaign never completed."""
    settings = dataclasses.replace(world.settings, recording=RecordingSettings(dir=str(tmp_path / "rec")))
    attempts = _BusyOnce(world.db)
    world = dataclasses.replace(world, settings=settings, attempts=attempts)
    leads = [await world.lead(PHONES[i]) for i in (1, 2)]
    record = await world.campaign(lines=2)
    fake = FakeAmi(world.clock)
    calls = CallService(ami_client=fake, attempts=attempts, settings=settings, clock=world.clock)
    doss = DossService(
        world.db,
        world.leads,
        DossOutbox(world.db),
        load_mapping(settings.path(settings.doss.mapping_file)),
        world.clock,
    )
    runner = make_runner(world, record.id, calls, doss)
    running = asyncio.create_task(runner.run())
    try:
        await until(lambda: len(fake.originates) == 2, "both leads dialled, the refused one again")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert attempts.refused == 1
    assert sorted(a.lead_id for a in await attempts.in_flight()) == sorted(leads)
