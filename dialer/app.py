"""The composition root: the one place that builds the application from config.

No module keeps global state; everything a service needs is built here and
handed in, and every resource is closed in reverse order on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dialer.ami.client import AmiClient
from dialer.clock import Clock, SystemClock
from dialer.settings import Settings
from dialer.store.attempts import SqliteAttemptRepository
from dialer.store.database import Database
from dialer.telephony.calls import CallService


@dataclass(frozen=True, slots=True)
class App:
    """Everything a face (CLI, web) may use."""

    settings: Settings
    clock: Clock
    db: Database
    attempts: SqliteAttemptRepository
    ami: AmiClient | None = None
    calls: CallService | None = None


@contextlib.asynccontextmanager
async def open_store(settings: Settings, clock: Clock | None = None) -> AsyncIterator[App]:
    """Just the store: for commands that never touch the PBX."""
    clock = clock or SystemClock()
    db = await Database.open(settings.path(settings.store.path), clock=clock)
    try:
        yield App(settings=settings, clock=clock, db=db, attempts=SqliteAttemptRepository(db))
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_app(settings: Settings, clock: Clock | None = None, *, recover: bool = True) -> AsyncIterator[App]:
    """Store, AMI link and call service, running; attempts left in flight by a crash are reconciled."""
    clock = clock or SystemClock()
    async with open_store(settings, clock) as store_app:
        client = AmiClient(settings.pbx, clock=clock)
        await client.start()
        try:
            calls = CallService(ami_client=client, attempts=store_app.attempts, settings=settings, clock=clock)
            router = asyncio.create_task(calls.run(), name="ami-event-router")
            try:
                if recover:
                    await calls.recover()
                yield App(settings=settings, clock=clock, db=store_app.db, attempts=store_app.attempts, ami=client, calls=calls)
            finally:
                router.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await router
        finally:
            await client.close()
