"""The event buffer between the AMI socket and its one consumer: order, bound, and both waits."""

from __future__ import annotations

import asyncio

import pytest

from dialer.ami.buffer import BufferFull, EventBuffer


async def test_items_come_out_in_order_and_a_full_buffer_refuses_without_keeping() -> None:
    buf: EventBuffer[int] = EventBuffer(2)
    buf.put_nowait(1)
    buf.put_nowait(2)
    with pytest.raises(BufferFull):
        buf.put_nowait(3)
    assert len(buf) == 2
    assert [buf.take(), await buf.get()] == [1, 2]
    with pytest.raises(IndexError):
        buf.take()


async def test_a_waiting_consumer_wakes_on_the_next_put() -> None:
    buf: EventBuffer[str] = EventBuffer(4)
    consumer = asyncio.create_task(buf.get())
    await asyncio.sleep(0)
    assert not consumer.done()
    buf.put_nowait("event")
    assert await consumer == "event"


async def test_an_awaited_put_waits_for_room_and_keeps_the_order() -> None:
    buf: EventBuffer[str] = EventBuffer(1)
    buf.put_nowait("first")
    producer = asyncio.create_task(buf.put("second"))
    await asyncio.sleep(0)
    assert not producer.done() and len(buf) == 1
    assert buf.take() == "first"
    await producer
    assert buf.take() == "second"


async def test_a_cancelled_wait_does_not_lose_the_next_item() -> None:
    buf: EventBuffer[int] = EventBuffer(4)
    waiting = asyncio.create_task(buf.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    buf.put_nowait(7)
    assert await buf.get() == 7


def test_a_buffer_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="maxsize = 0"):
        EventBuffer(0)


async def test_put_many_keeps_what_fits_in_order_and_wakes_the_waiting_consumer_once() -> None:
    buf: EventBuffer[int] = EventBuffer(4)
    consumer = asyncio.create_task(buf.get())
    await asyncio.sleep(0)
    assert buf.put_many([1, 2, 3]) == 3
    assert await consumer == 1
    assert buf.put_many([4, 5, 6]) == 2  # room for two: 4 and 5 are kept, 6 is not
    assert [buf.take() for _ in range(len(buf))] == [2, 3, 4, 5]
    buf.put_many([7, 8, 9, 10])
    assert buf.put_many([11]) == 0
    assert buf.put_many([]) == 0
