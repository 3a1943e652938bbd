"""Fixtures for the AMI layer: a fake Asterisk on loopback and a client pointed at it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from dialer.ami.client import AmiClient
from dialer.ami.events import AmiEvent
from dialer.clock import VirtualClock
from dialer.settings import PbxSettings
from tests.ami.fake_ami import FakeAmi


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def pbx(fake: FakeAmi) -> PbxSettings:
    # Liveness off by default (an hour between pings), and so are the first connect's retries and the
    # periodic snapshot: tests that need them set them.
    return dataclasses.replace(
        PbxSettings(),
        ami_host="127.0.0.1",
        ami_port=fake.port,
        ami_user=fake.user,
        ami_secret=fake.secret,
        action_timeout_s=2.0,
        ping_interval_s=3600.0,
        ping_timeout_s=0.5,
        reconnect_min_s=0.01,
        reconnect_max_s=0.05,
        event_queue_size=1000,
        first_connect_retry_s=0.0,
        reconcile_interval_s=0.0,
    )


@pytest.fixture
async def client(pbx: PbxSettings, clock: VirtualClock) -> AsyncIterator[AmiClient]:
    ami = AmiClient(pbx, clock=clock)
    await ami.start()
    yield ami
    await ami.close()


async def next_of(stream: AsyncIterator[AmiEvent], kind: type, timeout: float = 5.0) -> AmiEvent:
    """The next event of type ``kind``, skipping others; fails instead of hanging."""
    async with asyncio.timeout(timeout):
        async for ev in stream:
            if isinstance(ev, kind):
                return ev
    raise AssertionError(f"stream ended before a {kind.__name__}")
