"""Fixtures for the DOSS tests: a fresh store with a few imported leads, the default mapping, a virtual clock."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.clock import VirtualClock
from dialer.domain.doss.mapping import DossMapping, load_mapping
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.template import LeadDraft
from dialer.doss.service import DossService
from dialer.settings import LeadSettings
from dialer.store.database import Database
from dialer.store.doss import DossOutbox
from dialer.store.leads import ImportSource, LeadStore

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
# 29 Nov 2026, 09:00 in Shanghai.
START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
async def db(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "store.sqlite3", clock=clock) as database:
        yield database


@pytest.fixture
def leads(db: Database, clock: VirtualClock) -> LeadStore:
    return LeadStore(db, DueRules(LeadSettings(), TZ), clock)


@pytest.fixture
def outbox(db: Database) -> DossOutbox:
    return DossOutbox(db)


@pytest.fixture(scope="session")
def mapping() -> DossMapping:
    return load_mapping(ROOT / "config" / "doss_mapping.toml")


@pytest.fixture
def service(
    db: Database, leads: LeadStore, outbox: DossOutbox, mapping: DossMapping, clock: VirtualClock
) -> DossService:
    return DossService(db, leads, outbox, mapping, clock)


def free_port() -> int:
    """A loopback port nobody listens on (the OS just handed it out and we closed it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MakeLeads = Callable[[int], Awaitable[list[int]]]


@pytest.fixture
def make_leads(leads: LeadStore) -> MakeLeads:
    """Import ``n`` HQ leads owned by 王芳 (mobiles 13800000001...); returns their ids."""

    async def make(n: int) -> list[int]:
        drafts = [
            LeadDraft(
                row=i + 2,
                name=f"客户{i + 1}",
                phones=(LeadPhone(f"+86138{i + 1:08d}", PhoneKind.MOBILE),),
                source=LeadSource.HQ,
                owner="王芳",
                model="科鲁泽",
                issued_at=START,
            )
            for i in range(n)
        ]
        src = ImportSource("hq.xlsx", f"sha-{n}", LeadSource.HQ, n, "手机")
        await leads.import_drafts(drafts, [], src, actor="王经理")
        return sorted([lead.id for lead in await leads.due(None)])

    return make
