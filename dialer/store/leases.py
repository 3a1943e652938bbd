"""Per-PBX leases: several dialer nodes on one PostgreSQL, exactly one live node per PBX.

A dealer group runs a node per site, each driving its own PBX, all on one database (docs/store.md).
Two nodes driving one PBX would each reconcile the other's calls and dial the same campaign on the
same lines, so a node holds its PBX's row in ``pbx_leases`` (migration 0170) for as long as it
drives that PBX: taken at start (:meth:`NodeLease.take`, refused with :class:`LeaseHeld` naming the
holder while another node's lease runs), renewed every third of ``[store] lease_s`` by a supervised
task (:meth:`NodeLease.keep`), given back on a clean stop. A node that dies stops renewing: its
lease expires ``lease_s`` after its last renewal and the next node for that PBX takes it over,
reconciling the calls and claims the dead one left (``CallService.recover``, ``Hopper.recover``:
both see only their own PBX's rows).

A node that cannot renew (the database unreachable, or another node took the PBX over after its
lease expired) no longer holds it once its own last expiry has passed: :attr:`NodeLease.held`
turns false on the node's clock, before any successor can have taken over, and the campaign runner
stops dialling (:class:`LeaseLost`). Expiry instants come from the injected clock of the node that
writes them; a group's machines keep their clocks in step (NTP), and ``lease_s`` bounds how far
they may drift apart.

Writers are serialised on the database (:mod:`dialer.store.postgres`), so taking a lease is a plain
read-then-write: two nodes starting at once for one PBX cannot both see it free.
On SQLite there is one process per store anyway (:mod:`dialer.store.process_lock`): no lease.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.clock import Clock
from dialer.logs import get_logger
from dialer.store.connection import Row
from dialer.store.database import Database
from dialer.store.errors import StoreError
from dialer.store.process_lock import LeaseHeld, LeaseLost
from dialer.timestamps import from_db, to_db

log = get_logger(__name__)

# Renewals per lease time: two renewals may fail (a database restart) before the lease runs out.
RENEWALS_PER_LEASE = 3


def this_node() -> str:
    """This process's name in the lease table: ``<host>/<pid>``, what an operator needs to find it."""
    return f"{socket.gethostname()}/{os.getpid()}"


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """One row of ``pbx_leases``: who drives which PBX, until when unless renewed."""

    pbx: str
    node: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class LeaseStore:
    """The ``pbx_leases`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def acquire(self, pbx: str, node: str, now: datetime, until: datetime) -> LeaseHolder:
        """Take ``pbx`` for ``node`` until ``until``: free, expired or already ``node``'s; else :class:`LeaseHeld`."""
        async with self._db.write() as tx:
            row = await tx.fetchone("SELECT * FROM pbx_leases WHERE pbx = ?", (pbx,))
            if row is None:
                await tx.execute(
                    "INSERT INTO pbx_leases (pbx, node, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                    (pbx, node, to_db(now), to_db(now), to_db(until)),
                )
            else:
                current = _holder(row)
                if current.node != node and current.expires_at > now:
                    raise LeaseHeld(pbx, current.node, current.expires_at)
                await tx.execute(
                    "UPDATE pbx_leases SET node = ?, acquired_at = ?, renewed_at = ?, expires_at = ? WHERE pbx = ?",
                    (node, to_db(now), to_db(now), to_db(until), pbx),
                )
        return LeaseHolder(pbx, node, now, now, until)

    async def renew(self, pbx: str, node: str, now: datetime, until: datetime) -> bool:
        """Extend ``node``'s lease on ``pbx`` to ``until``; False when the row is no longer ``node``'s."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE pbx_leases SET renewed_at = ?, expires_at = ? WHERE pbx = ? AND node = ?",
                (to_db(now), to_db(until), pbx, node),
            )
        return changed == 1

    async def release(self, pbx: str, node: str) -> None:
        """Give ``pbx`` back (a clean stop): the next node need not wait for the lease to expire."""
        async with self._db.write() as tx:
            await tx.execute("DELETE FROM pbx_leases WHERE pbx = ? AND node = ?", (pbx, node))

    async def holders(self) -> list[LeaseHolder]:
        """Every lease, expired ones too (a node that died and has no successor yet), by PBX."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM pbx_leases ORDER BY pbx")
        return [_holder(row) for row in rows]


def _holder(row: Row) -> LeaseHolder:
    return LeaseHolder(
        pbx=row["pbx"],
        node=row["node"],
        acquired_at=from_db(row["acquired_at"]),
        renewed_at=from_db(row["renewed_at"]),
        expires_at=from_db(row["expires_at"]),
    )


class NodeLease:
    """This node's lease on its PBX, as the node sees it: taken, kept by renewals, lost, given back."""

    def __init__(self, store: LeaseStore, holder: LeaseHolder, lease_s: float, clock: Clock) -> None:
        """Use :meth:`take`."""
        self._store = store
        self._lease = timedelta(seconds=lease_s)
        self._clock = clock
        self.pbx = holder.pbx
        self.node = holder.node
        self._expires_at = holder.expires_at
        self._lost = False

    @classmethod
    async def take(cls, db: Database, pbx: str, lease_s: float, clock: Clock, node: str | None = None) -> NodeLease:
        """Take ``pbx``'s lease for this node (``node``: for tests); :class:`LeaseHeld` when another node has it."""
        store = LeaseStore(db)
        now = clock.now()
        holder = await store.acquire(pbx, node or this_node(), now, now + timedelta(seconds=lease_s))
        log.info("lease.taken", pbx=pbx, node=holder.node, expires_at=holder.expires_at.isoformat())
        return cls(store, holder, lease_s, clock)

    @property
    def held(self) -> bool:
        """True while this node may drive its PBX: never lost, and not past its last expiry on its own clock."""
        return not self._lost and self._clock.now() < self._expires_at

    @property
    def expires_at(self) -> datetime:
        return self._expires_at

    def check(self) -> None:
        """:class:`LeaseLost` unless :attr:`held`: called before each round of dialling."""
        if not self.held:
            raise LeaseLost(self.pbx, self.node, self._expires_at)

    async def renew(self) -> bool:
        """One renewal; False (and lost for good) when another node took the PBX over meanwhile.

        A store error is raised as it is: the lease stays held until its expiry, and the supervised
        loop (:meth:`keep`) tries again.
        """
        if self._lost:
            return False
        now = self._clock.now()
        until = now + self._lease
        if not self.held or not await self._store.renew(self.pbx, self.node, now, until):
            # Past its expiry a successor may already be reconciling this PBX: never take it back.
            self._lost = True
            log.error("lease.lost", pbx=self.pbx, node=self.node, expired_at=self._expires_at.isoformat())
            return False
        self._expires_at = until
        return True

    async def keep(self) -> None:
        """Renew every third of the lease time until the lease is lost (then return: nothing to keep).

        A renewal the database refuses (unreachable, restarting) is logged and tried again at the
        next interval, not after the supervisor's growing restart delay: the lease lasts until its
        expiry, and the next renewal that gets through in time keeps it. The wait is real time on
        the event loop: it paces real database round trips.
        """
        interval = self._lease.total_seconds() / RENEWALS_PER_LEASE
        while True:
            try:
                if not await self.renew():
                    return
            except StoreError as exc:
                log.warning(
                    "lease.renewal_failed", pbx=self.pbx, expires_at=self._expires_at.isoformat(), error=str(exc)
                )
            await asyncio.sleep(interval)

    async def release(self) -> None:
        """Give the PBX back on a clean stop (a lost lease is no longer this node's to give)."""
        if not self._lost:
            self._lost = True
            await self._store.release(self.pbx, self.node)
            log.info("lease.released", pbx=self.pbx, node=self.node)
