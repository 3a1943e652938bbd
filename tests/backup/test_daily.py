"""The service's nightly backup on virtual time: at the configured local time, once a day, and a
failed one is counted and tried again the next day without stopping the loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dialer.backup.daily import TASK, run_daily
from dialer.clock import VirtualClock
from dialer.settings import BackupSettings
from dialer.tasks import TaskHealth

pytestmark = pytest.mark.virtual_time


async def test_fires_at_the_local_time_once_a_day_and_survives_a_failure(clock: VirtualClock) -> None:
    health = TaskHealth()
    made: list[datetime] = []
    enough = asyncio.Event()

    async def make() -> None:
        made.append(clock.now())
        if len(made) == 2:
            raise OSError("backup disk full")
        if len(made) == 4:
            enough.set()

    task = asyncio.create_task(run_daily(make, BackupSettings(time="02:30").time, "Asia/Shanghai", clock, health))
    await enough.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # START is 09:00 in Shanghai on 29 Nov: the first one is at 02:30 on the 30th (18:30 UTC the day before).
    assert made == [datetime(2026, 11, day, 18, 30, tzinfo=UTC) for day in (29, 30)] + [
        datetime(2026, 12, day, 18, 30, tzinfo=UTC) for day in (1, 2)
    ]
    assert health.failures() == {TASK: 1}


async def test_no_time_means_no_backup(clock: VirtualClock) -> None:
    calls: list[None] = []

    async def make() -> None:
        calls.append(None)

    await run_daily(make, BackupSettings(time="").time, "Asia/Shanghai", clock, TaskHealth())
    assert calls == []
