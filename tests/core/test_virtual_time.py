"""The virtual-time loop (tests/virtual_time.py) and the ``virtual_time`` marker of tests/conftest.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from dialer.clock import VirtualClock
from dialer.store.database import Database
from tests.conftest import START
from tests.virtual_time import QUIET_S, VirtualTimeLoop


def _later(seconds: float, callback: Callable[[], object]) -> threading.Thread:
    """Run ``callback`` on another thread after ``seconds`` of real time.

    A plain sleep, not threading.Timer: a timed wait on a lock misbehaves under faketime (the
    suite's second run), a relative sleep does not.
    """

    def run() -> None:
        time.sleep(seconds)
        callback()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _loop() -> VirtualTimeLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop), "the virtual_time marker did not give the test a virtual loop"
    return loop


@pytest.mark.virtual_time
async def test_the_marker_runs_the_test_on_its_clock(clock: VirtualClock) -> None:
    loop = _loop()
    assert loop.clock is clock
    assert loop.time() == clock.monotonic() == 0.0 and clock.now() == START


@pytest.mark.virtual_time
async def test_an_idle_loop_jumps_to_its_next_timer_without_waiting(clock: VirtualClock) -> None:
    real = time.monotonic()
    await asyncio.sleep(3600)
    assert _loop().time() == 3600.0
    assert clock.now() == START + timedelta(hours=1)
    assert time.monotonic() - real < 1.0


@pytest.mark.virtual_time
async def test_timers_fire_in_order_at_their_virtual_times() -> None:
    loop = _loop()
    fired: list[tuple[str, float]] = []

    async def after(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        fired.append((name, loop.time()))

    loop.call_later(2.5, lambda: fired.append(("call_later", loop.time())))
    await asyncio.gather(after("third", 30), after("first", 1), after("second", 2))
    assert fired == [("first", 1.0), ("second", 2.0), ("call_later", 2.5), ("third", 30.0)]


@pytest.mark.virtual_time
async def test_timeouts_fire_at_virtual_time() -> None:
    loop = _loop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(10):
            await asyncio.Event().wait()
    assert loop.time() == 10.0
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.sleep(60), timeout=5)
    assert loop.time() == 15.0


@pytest.mark.virtual_time
async def test_advancing_the_clock_makes_due_timers_fire(clock: VirtualClock) -> None:
    loop = _loop()
    woke = asyncio.Event()
    loop.call_later(60, woke.set)
    clock.advance(60)
    # A few turns of the loop, none of which may jump (something is always ready): the timer is due.
    for _ in range(3):
        await asyncio.sleep(0)
    assert woke.is_set() and loop.time() == 60.0


@pytest.mark.virtual_time
async def test_executor_work_is_waited_for_however_long_it_takes() -> None:
    loop = _loop()
    # Ten times the quiet period on a thread, under a virtual timeout shorter than that: a jump
    # would time it out; the loop knows the executor is busy, so it waits for it.
    slept = await asyncio.wait_for(asyncio.to_thread(time.sleep, QUIET_S * 10), timeout=0.001)
    assert slept is None and loop.time() == 0.0


@pytest.mark.virtual_time
async def test_a_thread_that_answers_within_the_quiet_period_is_not_skipped_over() -> None:
    loop = _loop()
    answer: asyncio.Future[str] = loop.create_future()
    _later(QUIET_S / 10, lambda: loop.call_soon_threadsafe(answer.set_result, "done"))
    assert await asyncio.wait_for(answer, timeout=5) == "done"
    assert loop.time() == 0.0


@pytest.mark.virtual_time
async def test_a_thread_slower_than_the_quiet_period_loses_to_a_pending_timer() -> None:
    """The limit of the rule, so it is not mistaken for a guarantee: unknown threads get QUIET_S."""
    loop = _loop()
    answer: asyncio.Future[str] = loop.create_future()
    late = _later(QUIET_S * 10, lambda: loop.call_soon_threadsafe(lambda: None))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(answer, timeout=5)
    assert loop.time() == 5.0
    late.join()


@pytest.mark.virtual_time
async def test_with_no_timer_the_loop_waits_for_a_thread_for_real() -> None:
    loop = _loop()
    answer: asyncio.Future[str] = loop.create_future()
    _later(QUIET_S * 5, lambda: loop.call_soon_threadsafe(answer.set_result, "late"))
    assert await answer == "late"
    assert loop.time() == 0.0


@pytest.mark.virtual_time
async def test_sqlite_queries_are_not_skipped_over(db: Database) -> None:
    loop = _loop()
    # A timer is pending all along (the timeout), so only the quiet period keeps the loop from
    # jumping while aiosqlite's worker thread runs each statement.
    async with asyncio.timeout(1):
        for n in range(20):
            async with db.write() as tx:
                await tx.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
                await tx.insert("INSERT INTO t VALUES (?)", (n,))
        async with db.read() as reader:
            assert await reader.fetchval("SELECT count(*) FROM t") == 20
    assert loop.time() == 0.0


@pytest.mark.virtual_time
async def test_loopback_sockets_answer_before_any_jump() -> None:
    loop = _loop()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(1):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        writer.close()
        await writer.wait_closed()
    assert loop.time() == 0.0


@pytest.mark.virtual_time
@pytest.mark.parametrize("delay", [0.5, 90.0])
async def test_each_parametrized_test_gets_its_own_clock(clock: VirtualClock, delay: float) -> None:
    assert clock.monotonic() == 0.0
    await asyncio.sleep(delay)
    assert clock.now() == START + timedelta(seconds=delay)


async def test_an_unmarked_test_keeps_the_real_loop() -> None:
    assert not isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
