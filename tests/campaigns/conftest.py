"""A fresh store with leads, campaigns and a hopper, on a virtual clock at 10:00 Beijing time (a Monday)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialer.campaigns.hopper import Hopper
from dialer.campaigns.service import CampaignService
from dialer.clock import VirtualClock
from dialer.domain.campaigns.definition import parse_definition
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.campaigns.progress import CampaignRecord
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.settings import Settings
from dialer.store.attempts import AttemptStore
from dialer.store.campaigns import CampaignStore
from dialer.store.database import Database
from dialer.store.leads import LeadStore
from dialer.store.suppressions import SuppressionStore

# Monday 2026-11-30, 10:00 in Asia/Shanghai: inside the default 09:00-20:00 window.
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant given as Beijing wall time in November/December 2026 (day > 30 is December)."""
    month, d = (11, day) if day <= 30 else (12, day - 30)
    return datetime(2026, month, d, hour, minute, tzinfo=TZ).astimezone(UTC)


@dataclass
class World:
    """Everything a hopper test touches, built on one store and one virtual clock."""

    settings: Settings
    clock: VirtualClock
    db: Database
    leads: LeadStore
    store: CampaignStore
    hopper: Hopper
    service: CampaignService
    suppressions: SuppressionStore
    attempts: AttemptStore

    async def lead(
        self, phone: str, source: LeadSource = LeadSource.HQ, *, extra_phones: tuple[str, ...] = (), **fields: Any
    ) -> int:
        """Import one lead (through the real import path, so due times are computed) and return its id."""
        phones = tuple(LeadPhone(p, PhoneKind.MOBILE) for p in (phone, *extra_phones))
        draft = LeadDraft(row=2, name=fields.pop("name", f"客户{phone[-4:]}"), phones=phones, source=source, **fields)
        sha = hashlib.sha256(repr(draft).encode()).hexdigest()
        await self.leads.import_drafts([draft], [], ImportSource("test.csv", sha, source, 1, "电话"), "tester")
        found = await self.leads.find_by_phone(phone)
        assert found is not None
        return found.id

    async def campaign(self, start: bool = True, **table: Any) -> CampaignRecord:
        """Create (and by default start, which enrols) a campaign; ``table`` overrides the TOML keys."""
        data: dict[str, Any] = {"name": "测试活动", "kind": "hq", "agents": ["agent1", "agent2"], **table}
        record = await self.store.create(
            parse_definition(data, "test.toml", self.settings), "test.toml", self.clock.now(), "tester"
        )
        if start:
            record, _ = await self.service.command(record.id, Command.START, "tester")
        return record

    async def call(self, lead_id: int, campaign_id: int, outcome: Any = None, number: str = "+8613800138000") -> int:
        """Record an attempt to ``lead_id`` (left in flight when ``outcome`` is None); returns its id."""
        call_id = f"call-{lead_id}-{self.clock.monotonic()}"
        attempt = await self.attempts.create(
            call_id=call_id,
            direction="outbound",
            number=number,
            created_at=self.clock.now(),
            lead_id=lead_id,
            campaign_id=campaign_id,
        )
        if outcome is not None:
            await self.attempts.finish(call_id, outcome=outcome, ended_at=self.clock.now())
        return attempt.id


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def world(db: Database, clock: VirtualClock, settings: Settings) -> World:
    """The hopper's world on ``db`` (so, on both backends)."""
    store = CampaignStore(db, settings)
    hopper = Hopper(store, settings)
    return World(
        settings=settings,
        clock=clock,
        db=db,
        leads=LeadStore(db, DueRules(settings.leads, TZ), clock),
        store=store,
        hopper=hopper,
        service=CampaignService(store, hopper, settings, clock),
        suppressions=SuppressionStore(db),
        attempts=AttemptStore(db),
    )


def reasons(answers: Any) -> set[str]:
    """The reason codes of a ``why`` answer for one campaign."""
    (answer,) = answers
    return {b.reason.value for b in answer.blockers}


PHONES: Mapping[int, str] = {i: f"+86138{i:08d}" for i in range(1, 200)}
