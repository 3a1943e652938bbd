"""`dialer web` runs until a person or a service manager stops it, or until its node lost its PBX."""

from __future__ import annotations

import asyncio
import os
import signal

from dialer.cli.web import until_interrupted


async def test_the_service_waits_until_its_node_loses_the_pbx() -> None:
    lost = asyncio.Event()
    waiting = asyncio.create_task(until_interrupted(lost))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    lost.set()  # the lease ran out (app.pbx_lost): the PBX link is closed, the node stops
    await asyncio.wait_for(waiting, 5)


async def test_a_service_managers_stop_still_ends_the_wait_and_says_nothing_was_lost() -> None:
    lost = asyncio.Event()
    waiting = asyncio.create_task(until_interrupted(lost))
    await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)  # handled by the loop while the wait runs
    await asyncio.wait_for(waiting, 5)
    assert not lost.is_set()
