"""The service's nightly jobs: at a time of day (dealer time) once a day, in ``dialer web``: the
backup (``[backup] time``) and the privacy retention (``[privacy] retention_time``).

A run that fails is logged with its traceback and counted in ``/metrics``
(``dialer_background_failures_total{task="backup"}``, or the task's own name), and the next one is
made at the next day's time: the service goes on either way. The wait is cut into short sleeps, each measured
again on the injected clock, so a wall clock set forward or back (NTP, a VM resumed) moves
the backup with it instead of leaving it a day late.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from dialer.clock import Clock
from dialer.domain.backup.schedule import next_run, parse_time
from dialer.logs import get_logger
from dialer.tasks import TaskHealth

log = get_logger(__name__)

TASK = "backup"
"""The backup task's name in logs and /metrics."""

# The longest single sleep before "now" is read again from the clock: a wall clock that jumps
# moves the backup at most this late.
RECHECK_S = 3600.0


async def run_daily(
    make: Callable[[], Awaitable[object]],
    time_of_day: str,
    timezone: str,
    clock: Clock,
    health: TaskHealth,
    task: str = TASK,
) -> None:
    """Call ``make()`` every day at ``time_of_day`` (HH:MM) until cancelled; returns at once when it is ""."""
    at = parse_time(time_of_day)
    if at is None:
        return
    last: datetime | None = None
    while True:
        now = clock.now()
        due = next_run(now if last is None else max(now, last), at, timezone)
        log.info(f"{task}.scheduled", due=due.isoformat())
        await _sleep_until(due, clock)
        last = due
        try:
            await make()
        except Exception:
            health.failed(task)
            log.exception(f"{task}.failed", failures=health.failures()[task])


async def _sleep_until(due: datetime, clock: Clock) -> None:
    while True:
        left = (due - clock.now()).total_seconds()
        if left <= 0:
            return
        await asyncio.sleep(min(left, RECHECK_S))
