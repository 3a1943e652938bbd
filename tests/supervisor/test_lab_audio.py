"""Whisper and barge, checked on the audio each phone actually receives (private lab, see labkit).

A customer calls in (no dialer running: the PBX's own fallback puts them in the queue, where
agent1 answers). The supervisor's phone plays a 1400 Hz tone. A raw capture on loopback keeps
the RTP Asterisk sends to the customer's and to the agents' media ports; the tone's share of
each stream is measured before the listen-in, during whisper and during barge.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from dialer.ami.client import AmiClient
from dialer.audit.service import AuditService
from dialer.clock import SystemClock
from dialer.domain.access.policy import Role, User
from dialer.lab.lab import Lab
from dialer.lab.layout import Party
from dialer.settings import Settings
from dialer.store.audit import AuditStore
from dialer.store.database import Database
from dialer.store.listen_ins import ListenInStore
from dialer.supervisor.service import SpyMode, SupervisorService
from tests.inbound.labkit import SAMPLE_RATE, RtpCapture, call_in, rms, tone_share
from tests.supervisor.conftest import TONE_HZ

pytestmark = pytest.mark.asterisk

SUPERVISOR = User("zhang.wei", Role.SUPERVISOR, agent="supervisor")
# How long each phase is listened to; long enough for ~100 frames of 20 ms.
PHASE_S = 2.5
# RMS (16-bit scale) above which a window holds someone talking rather than silence.
SPEECH_RMS = 200
# Time for ChanSpy to attach after the supervisor's phone answered or was redirected.
SETTLE_S = 0.8


async def wait_for(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


@pytest.fixture
async def parts(
    spy_lab: tuple[Lab, Settings], tmp_path
) -> AsyncIterator[tuple[Lab, Settings, AmiClient, SupervisorService, ListenInStore]]:  # type: ignore[no-untyped-def]
    lab, settings = spy_lab
    clock = SystemClock()
    db = await Database.open(tmp_path / "db.sqlite3", clock=clock)
    client = AmiClient(settings.pbx, clock=clock)
    await client.start()
    store = ListenInStore(db)
    service = SupervisorService(
        ami_client=client, store=store, audit=AuditService(AuditStore(db), clock), settings=settings, clock=clock
    )

    async def route_events() -> None:
        async for event in client.events():
            service.route(event)

    pump = asyncio.create_task(route_events())
    lab.asterisk_cli("queue add member PJSIP/agent1 to dcc penalty 0 as agent1")
    try:
        yield lab, settings, client, service, store
        await service.drain()
    finally:
        lab.asterisk_cli("queue remove member PJSIP/agent1 from dcc")
        pump.cancel()
        await client.close()
        await db.close()
        lab.hangup_all()


async def test_whisper_reaches_only_the_agent_and_barge_reaches_both(parts) -> None:  # type: ignore[no-untyped-def]
    lab, settings, client, service, store = parts
    customer_ears = RtpCapture(lab.layout.callers_rtp)
    agent_ears = RtpCapture(lab.layout.party_rtp[Party.AGENTS])
    customer_ears.start()
    agent_ears.start()
    caller = asyncio.create_task(call_in(lab, settings, ["13900000055"], 20000, lab.layout.callers_rtp))
    try:

        async def agent_talking() -> bool:
            return any(c.channel.startswith("PJSIP/agent1-") and c.bridge_id for c in await client.core_show_channels())

        await wait_for(agent_talking)
        await asyncio.sleep(SETTLE_S)
        before = (time.monotonic(), time.monotonic() + PHASE_S)
        await asyncio.sleep(PHASE_S)

        session = await service.start(SUPERVISOR, "agent1", SpyMode.WHISPER)

        async def supervisor_up() -> bool:
            return any(
                c.uniqueid == session.channel_id and c.channel_state == 6 for c in await client.core_show_channels()
            )

        await wait_for(supervisor_up)
        await asyncio.sleep(SETTLE_S)
        whisper = (time.monotonic(), time.monotonic() + PHASE_S)
        await asyncio.sleep(PHASE_S)

        await session.switch(SpyMode.BARGE)
        await asyncio.sleep(SETTLE_S)
        barge = (time.monotonic(), time.monotonic() + PHASE_S)
        await asyncio.sleep(PHASE_S)
        await session.stop()
    finally:
        customer_ears.stop()
        agent_ears.stop()
        lab.hangup_all()
        await caller

    def share(ears: RtpCapture, window: tuple[float, float]) -> float:
        pcm = ears.audio(*window)
        # The phone really received a phase's worth of audio, and not silence (the other party talks).
        assert len(pcm) >= 0.8 * PHASE_S * SAMPLE_RATE * 2, (window, len(pcm))
        assert rms(pcm) > SPEECH_RMS, (window, rms(pcm))
        return tone_share(pcm, TONE_HZ)

    shares = {
        (who, phase): share(ears, window)
        for who, ears in (("customer", customer_ears), ("agent", agent_ears))
        for phase, window in (("before", before), ("whisper", whisper), ("barge", barge))
    }
    assert shares["customer", "before"] < 0.05 and shares["agent", "before"] < 0.05
    assert shares["agent", "whisper"] > 0.5
    assert shares["customer", "whisper"] < 0.05
    assert shares["agent", "barge"] > 0.5 and shares["customer", "barge"] > 0.5

    audit = await store.get(session.id)
    assert audit is not None
    assert (audit.supervisor, audit.agent, audit.modes, audit.end_reason) == (
        "zhang.wei",
        "agent1",
        ("whisper", "barge"),
        "stopped",
    )
    assert audit.seconds is not None and audit.seconds >= 2 * PHASE_S
