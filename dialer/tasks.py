"""Background work a service starts and must not lose track of.

asyncio keeps only a weak reference to a task: one nobody holds can be collected while
it runs. Services that start work beside their main flow (recording an audit row, settling
a call, following an adopted call) keep it here, and can wait for it at shutdown.

A long-lived loop (the AMI event router, the SMS listener, the campaign watcher) runs under
:func:`supervised`: when it dies of an exception it is logged with its traceback, counted in
:class:`TaskHealth` (``/metrics`` exports the count) and started again, so a bad event can cost
a moment of service, never the service itself, and never silently.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from dialer.logs import get_logger

log = get_logger(__name__)

# The first restart waits this long; each crash in a row doubles it up to RESTART_MAX_S, so a loop
# that dies at once on every start does not spin the CPU or flood the log.
RESTART_FIRST_S = 0.5
RESTART_MAX_S = 30.0
# A loop that ran this long before dying counts as healthy again: its next restart is quick.
HEALTHY_AFTER_S = 60.0


class BackgroundTasks:
    """A set of running tasks that forgets each one when it is done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start ``work`` and hold it until it finishes."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every task, including ones started meanwhile, has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel every task and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class TaskHealth:
    """How often each named background task failed since the process started: the task died of an
    exception (and was restarted), or one unit of its work did (and was skipped)."""

    def __init__(self) -> None:
        self._failures: Counter[str] = Counter()

    def failed(self, name: str) -> None:
        self._failures[name] += 1

    def failures(self) -> Mapping[str, int]:
        """Failures per task name (only names that failed at least once)."""
        return dict(self._failures)


async def supervised(
    name: str,
    work: Callable[[], Coroutine[Any, Any, None]],
    health: TaskHealth,
    *,
    first_delay_s: float = RESTART_FIRST_S,
    max_delay_s: float = RESTART_MAX_S,
) -> None:
    """Run ``work()`` until it returns or this is cancelled, starting it again after each crash.

    The delays are real time on the event loop: they pace restarts of real I/O loops, which an
    injected (possibly virtual) clock could not make happen sooner.
    """
    loop = asyncio.get_running_loop()
    delay = first_delay_s
    while True:
        started = loop.time()
        try:
            await work()
            return
        except Exception:
            health.failed(name)
            if loop.time() - started >= HEALTHY_AFTER_S:
                delay = first_delay_s
            log.exception("task.crashed", task=name, restart_in_s=delay, failures=health.failures()[name])
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set, at most ``timeout_s``; True when it was set.

    Built on :func:`asyncio.timeout`, not :func:`asyncio.wait_for`: on Python 3.11 ``wait_for``
    can swallow a cancellation that arrives just as the awaited future completes
    (github.com/python/cpython/issues/86296), and a loop that waits this way between rounds (the
    campaign runner, the SMS worker) would then go on running after it was told to stop.
    """
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
