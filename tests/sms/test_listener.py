"""The SMS worker's listener (receipts and replies) survives a bad event and its own death, loudly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from dialer.clock import VirtualClock
from dialer.domain.sms.driver import DriverEvent, Inbound, OutPart, Receipt
from dialer.settings import Settings
from dialer.sms.factory import build_service
from dialer.sms.service import ReplyResult, SmsService
from dialer.store.database import Database
from dialer.tasks import TaskHealth

REPLY = Inbound("8613912345678", "10690000", "请问你们周末营业吗")
RECEIPT = Receipt("smsc-1", True, "DELIVRD", "8613912345678", 7)

# Real time, not the virtual loop: the outbox and replies are written by aiosqlite's worker thread, which the loop can only guess is done
# (tests/virtual_time.py), and a guess that fires a timeout early under CI load is a flaky test.


class QueueDriver:
    """A gateway whose receipts and replies a test pushes; ``broken_streams`` first streams die at once."""

    def __init__(self, broken_streams: int = 0) -> None:
        self.queue: asyncio.Queue[DriverEvent] = asyncio.Queue()
        self.broken_streams = broken_streams

    @property
    def connected(self) -> bool:
        return True

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def wait_connected(self, timeout: float) -> bool:
        return True

    async def submit(self, part: OutPart) -> str:
        raise AssertionError("nothing is sent in these tests")

    async def events(self) -> AsyncIterator[DriverEvent]:
        if self.broken_streams:
            self.broken_streams -= 1
            raise ConnectionResetError("the gateway's event stream broke")
        while True:
            yield await self.queue.get()


async def handled(service: SmsService) -> asyncio.Queue[ReplyResult]:
    """A queue that receives the result of every reply the service has finished handling."""
    results: asyncio.Queue[ReplyResult] = asyncio.Queue()
    original = service.on_inbound

    async def recording(inbound: Inbound) -> ReplyResult:
        result = await original(inbound)
        results.put_nowait(result)
        return result

    service.on_inbound = recording  # type: ignore[method-assign]
    return results


async def test_a_receipt_that_fails_is_logged_and_the_next_reply_still_handled(
    db: Database, settings: Settings, clock: VirtualClock
) -> None:
    driver = QueueDriver()
    service = build_service(db, settings, clock, driver)
    results = await handled(service)

    async def failing(receipt: Receipt) -> int | None:
        raise RuntimeError("a receipt the store cannot take")

    service.on_receipt = failing  # type: ignore[method-assign]
    stop, health = asyncio.Event(), TaskHealth()
    with capture_logs() as logs:
        worker = asyncio.create_task(service.run(stop, health))
        driver.queue.put_nowait(RECEIPT)
        driver.queue.put_nowait(REPLY)
        result = await asyncio.wait_for(results.get(), 10)
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert result.lead_id is None
    [row] = await service.store.inbound(unmatched=True)
    assert row.text == REPLY.text
    [failed] = [e for e in logs if e["event"] == "sms.event_failed"]
    assert failed["kind"] == "Receipt" and "cannot take" in failed["error"]
    assert health.failures() == {}  # one bad event is not a dead listener


@pytest.mark.timeout(30)
async def test_a_listener_that_dies_is_counted_logged_and_started_again(
    db: Database, settings: Settings, clock: VirtualClock
) -> None:
    driver = QueueDriver(broken_streams=1)
    service = build_service(db, settings, clock, driver)
    results = await handled(service)
    stop, health = asyncio.Event(), TaskHealth()
    with capture_logs() as logs:
        worker = asyncio.create_task(service.run(stop, health))
        driver.queue.put_nowait(REPLY)
        await asyncio.wait_for(results.get(), 10)  # handled by the restarted listener
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert health.failures() == {"sms-listen": 1}
    [crash] = [e for e in logs if e["event"] == "task.crashed"]
    assert crash["task"] == "sms-listen" and crash["log_level"] == "error"
