"""Fixtures for the DOSS tests: a few imported leads and the default mapping, on the suite's clock and store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

import pytest

from dialer.clock import VirtualClock
from dialer.domain.doss.mapping import DossMapping, load_mapping
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.doss.service import DossService
from dialer.settings import LeadSettings
from dialer.store.database import Database
from dialer.store.doss import DossOutbox
from dialer.store.leads import LeadStore
from tests.conftest import REPO, START

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def leads(db: Database, clock: VirtualClock) -> LeadStore:
    return LeadStore(db, DueRules(LeadSettings(), TZ), clock)


@pytest.fixture
def outbox(db: Database) -> DossOutbox:
    return DossOutbox(db)


@pytest.fixture(scope="session")
def mapping() -> DossMapping:
    return load_mapping(REPO / "config" / "doss_mapping.toml")


@pytest.fixture
def service(
    db: Database, leads: LeadStore, outbox: DossOutbox, mapping: DossMapping, clock: VirtualClock
) -> DossService:
    return DossService(db, leads, outbox, mapping, clock)


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
