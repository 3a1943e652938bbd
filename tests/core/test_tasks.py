"""Supervised background loops: a crash is logged, counted and followed by a restart, never silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from dialer.ami.codec import Message
from dialer.ami.events import AmiEvent, RawEvent
from dialer.app import ROUTER, _route_events
from dialer.tasks import TaskHealth, supervised, wait_event


async def test_a_crashing_loop_is_restarted_until_it_returns() -> None:
    health, runs = TaskHealth(), []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"crash {len(runs)}")

    with capture_logs() as logs:
        await asyncio.wait_for(supervised("loop", work, health, first_delay_s=0.01, max_delay_s=0.02), 5)
    assert runs == [0, 1, 2]
    assert health.failures() == {"loop": 2}
    crashes = [e for e in logs if e["event"] == "task.crashed"]
    assert [(e["task"], e["failures"], e["restart_in_s"]) for e in crashes] == [("loop", 1, 0.01), ("loop", 2, 0.02)]
    assert all(e["exc_info"] for e in crashes)  # the traceback goes to the log


async def test_cancelling_a_supervised_loop_stops_it_without_a_failure() -> None:
    health, started = TaskHealth(), asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(supervised("loop", forever, health))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert health.failures() == {}


class _Events:
    """An AMI client's one-consumer event stream, as AmiClient.events() enforces it."""

    def __init__(self, events: list[AmiEvent]) -> None:
        self._events = events
        self.consuming = False

    async def events(self) -> AsyncGenerator[AmiEvent, None]:
        assert not self.consuming, "a second consumer"
        self.consuming = True
        try:
            for event in self._events:
                yield event
        finally:
            self.consuming = False


def _event(n: int) -> AmiEvent:
    return RawEvent(at=datetime(2026, 11, 30, tzinfo=UTC), name=f"E{n}", message=Message(()))


async def test_a_route_failing_on_one_event_does_not_stop_the_others() -> None:
    client, health, seen = _Events([_event(1), _event(2), _event(3)]), TaskHealth(), []

    def fragile(event: AmiEvent) -> None:
        if event == _event(2):
            raise ValueError("a route bug")

    with capture_logs() as logs:
        await _route_events(client, [fragile, seen.append], health)  # type: ignore[arg-type]
    assert seen == [_event(1), _event(2), _event(3)]
    assert health.failures() == {ROUTER: 1}
    assert [e["kind"] for e in logs if e["event"] == "ami.route_failed"] == ["RawEvent"]
    assert not client.consuming  # the stream is closed, so a restart can consume it again


async def test_wait_event_says_whether_the_event_came_and_never_keeps_a_cancelled_loop_going() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 10) is True
    woken = asyncio.Event()

    async def loop() -> None:  # the runner's and the SMS worker's shape: wait, clear, go round
        while True:
            await wait_event(woken, 10)
            woken.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    woken.set()  # the wake-up and the cancellation land in the same turn of the loop
    task.cancel()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await task
