"""Fixtures of the inbound tests: a private lab (see labkit) and the inbound service wired to it."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.ami.client import AmiClient
from dialer.clock import SystemClock
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import Lead, LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.events.bus import EventBus, Subscription
from dialer.inbound.queue import InboundQueue
from dialer.inbound.service import InboundService, ScreenPop
from dialer.lab.lab import Lab
from dialer.recording.registry import RecordingRegistry, compressor_for
from dialer.settings import InboundSettings, Settings, WindowDefaults
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.leads import LeadStore
from dialer.store.recordings import RecordingStore
from dialer.telephony.calls import CallService
from tests.inbound.labkit import private_lab

# Ports shifted by this from the shared lab's (SIP 15460, AMI 15438, RTP 34000-34999): clear of it and of other second labs.
LAB_OFFSET = 400
# Open around the clock, so the lab test does not depend on the hour it runs at.
ALWAYS = WindowDefaults(
    **dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "00:00-24:00"), last_call_margin_s=0.0
)
# Queue members of the lab tests; agent2 owns a lead and is rung directly.
QUEUE_AGENTS = ("agent1", "agent3", "agent4", "agent5")


@pytest.fixture(scope="session")
def inbound_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    root = tmp_path_factory.mktemp("inbound-lab")
    for pair in private_lab(root, LAB_OFFSET):
        settings = dataclasses.replace(pair[1], inbound=InboundSettings(owner_ring_s=5, queue_wait_s=10, hours=ALWAYS))
        yield pair[0], settings


@dataclass
class World:
    """Everything a lab test needs: the lab, the store, the service and what it published."""

    lab: Lab
    settings: Settings
    ami: AmiClient
    db: Database
    leads: LeadStore
    attempts: AttemptStore
    recordings: RecordingStore
    inbound: InboundService
    pops: Subscription

    async def add_lead(self, number: str, owner: str | None, name: str = "王先生") -> Lead:
        draft = LeadDraft(
            row=1, name=name, phones=(LeadPhone(number, PhoneKind.MOBILE),), source=LeadSource.HQ, owner=owner
        )
        src = ImportSource(f"seed {number}", hashlib.sha256(number.encode()).hexdigest(), LeadSource.HQ, 1, "phone")
        run = await self.leads.import_drafts([draft], [], src, "test")
        return run.plan.created[0]

    def screen_pops(self) -> list[ScreenPop]:
        return [p for p in self.pops.pending() if isinstance(p, ScreenPop)]


@pytest.fixture
async def world(inbound_lab: tuple[Lab, Settings], tmp_path: Path) -> AsyncIterator[World]:
    lab, settings = inbound_lab
    settings = dataclasses.replace(
        settings,
        store=dataclasses.replace(settings.store, path=str(tmp_path / "db.sqlite3")),
        # A periodic snapshot in every phase of every call: none may end a live call, each call keeps its outcome.
        pbx=dataclasses.replace(settings.pbx, reconcile_interval_s=0.2),
    )
    clock = SystemClock()
    db = await Database.open(settings.path(settings.store.path), clock=clock)
    client = AmiClient(settings.pbx, clock=clock)
    await client.start()
    pump: asyncio.Task[None] | None = None
    try:
        attempts = AttemptStore(db)
        leads = LeadStore(db, DueRules(settings.leads, ZoneInfo(settings.dealer.timezone)), clock)
        recordings = RecordingStore(db)
        registry = RecordingRegistry(
            store=recordings,
            attempts=attempts,
            settings=settings,
            clock=clock,
            compressor=compressor_for(settings.recording),
        )
        calls = CallService(ami_client=client, attempts=attempts, settings=settings, clock=clock)
        bus = EventBus()
        inbound = InboundService(
            ami_client=client, attempts=attempts, leads=leads, bus=bus, settings=settings, clock=clock,
            recording_path=calls.recording_path, after_call=(registry.register_finished,),
        )  # fmt: skip
        pops = bus.subscribe(ScreenPop)

        async def route_events() -> None:
            async for event in client.events():
                inbound.route(event)

        pump = asyncio.create_task(route_events())
        queue = InboundQueue(client)
        for agent in QUEUE_AGENTS:
            await queue.add(agent)
        yield World(lab, settings, client, db, leads, attempts, recordings, inbound, pops)
        await inbound.drain()
        for agent in QUEUE_AGENTS:
            await queue.remove(agent)
    finally:
        if pump is not None:
            pump.cancel()
        await client.close()
        await db.close()
        lab.hangup_all()
