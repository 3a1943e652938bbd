"""Per-PBX leases (migration 0170): one live node per PBX on a shared database; a dead node's lease
expires and a successor takes it; a node that cannot renew stops holding at its own expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.settings import PbxSettings, Settings, StoreSettings, problems
from dialer.store.database import Database
from dialer.store.leases import LeaseStore, NodeLease
from dialer.store.process_lock import LeaseHeld, LeaseLost

LEASE_S = 30.0


async def test_a_second_node_for_the_same_pbx_is_refused_naming_the_holder(db: Database, clock: VirtualClock) -> None:
    first = await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-a/101")
    with pytest.raises(LeaseHeld, match=r"PBX 'site-01' is driven by another live dialer node \(host-a/101") as err:
        await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-b/202")
    assert (err.value.node, err.value.expires_at) == ("host-a/101", clock.now() + timedelta(seconds=LEASE_S))
    other = await NodeLease.take(db, "site-02", LEASE_S, clock, node="host-b/202")  # its own PBX: fine
    assert first.held and other.held
    holders = await LeaseStore(db).holders()
    assert [(h.pbx, h.node) for h in holders] == [("site-01", "host-a/101"), ("site-02", "host-b/202")]


async def test_a_dead_nodes_lease_expires_and_its_successor_takes_the_pbx(db: Database, clock: VirtualClock) -> None:
    dead = await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-a/101")
    clock.advance(LEASE_S - 1)
    with pytest.raises(LeaseHeld):  # not yet expired
        await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-a/102")
    clock.advance(1)
    successor = await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-a/102")
    assert successor.held and not dead.held
    # The old holder, back from a long pause, finds the PBX taken: lost for good, and it stops.
    assert not await dead.renew()
    with pytest.raises(LeaseLost, match=r"this node \(host-a/101\) no longer holds PBX 'site-01'"):
        dead.check()
    await dead.release()  # not its row any more: the successor's lease stays
    assert [h.node for h in await LeaseStore(db).holders()] == ["host-a/102"]


async def test_renewals_keep_the_lease_and_a_node_that_cannot_renew_stops_at_its_own_expiry(
    db: Database, clock: VirtualClock
) -> None:
    lease = await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-a/101")
    for _ in range(5):
        clock.advance(LEASE_S / 3)
        assert await lease.renew()
    (row,) = await LeaseStore(db).holders()
    assert row.expires_at == clock.now() + timedelta(seconds=LEASE_S) == lease.expires_at
    with pytest.raises(LeaseHeld):  # renewed: still refused long after the first expiry
        await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-b/202")
    clock.advance(LEASE_S)  # no renewal got through (the database was unreachable)
    assert not lease.held
    with pytest.raises(LeaseLost):
        lease.check()
    # Past its expiry a successor may be reconciling the PBX already: the row is never taken back.
    assert not await lease.renew()
    assert not lease.held


async def test_the_supervised_loop_renews_until_the_lease_is_lost(db: Database, clock: VirtualClock) -> None:
    lease = await NodeLease.take(db, "site-01", 3.0, clock, node="host-a/101")
    keeper = asyncio.create_task(lease.keep())
    clock.advance(2)
    for _ in range(100):  # the loop renews every second of real time
        (row,) = await LeaseStore(db).holders()
        if row.renewed_at == clock.now():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the lease was never renewed")
    assert not keeper.done()
    clock.advance(10)  # past the renewed expiry: the next renewal finds the lease lost and the loop ends
    await asyncio.wait_for(keeper, 5)
    assert not lease.held


async def test_renewals_the_database_refuses_are_retried_until_the_lease_runs_out(
    db_path: str | Path, clock: VirtualClock
) -> None:
    db = await Database.open(db_path, clock=clock)
    lease = await NodeLease.take(db, "site-01", 3.0, clock, node="host-a/101")
    await db.close()  # every renewal now fails with a StoreError
    keeper = asyncio.create_task(lease.keep())
    await asyncio.sleep(0)
    assert not keeper.done() and lease.held  # a failed renewal is not a lost lease
    clock.advance(3)
    await asyncio.wait_for(keeper, 5)  # the next try finds the lease expired: the loop ends, no crash
    assert not lease.held


async def test_a_clean_stop_gives_the_pbx_back_at_once(db: Database, clock: VirtualClock) -> None:
    lease = await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-a/101")
    await lease.release()
    assert not lease.held and await LeaseStore(db).holders() == []
    assert (await NodeLease.take(db, "site-01", LEASE_S, clock, node="host-b/202")).held


def test_lease_time_and_pbx_name_are_validated() -> None:
    assert problems(Settings()) == []
    assert problems(Settings(store=StoreSettings(lease_s=1))) == [
        "store.lease_s = 1: must be between 3 and 600 seconds"
    ]
    assert problems(Settings(store=StoreSettings(lease_s=601))) == [
        "store.lease_s = 601: must be between 3 and 600 seconds"
    ]
    (problem,) = problems(Settings(pbx=PbxSettings(name="site 1; DROP")))
    assert problem.startswith("pbx.name = 'site 1; DROP': 1 to 40 letters")
