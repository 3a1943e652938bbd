"""The leads service and lead files, on the suite's clock and store (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.users import UserStore

# The DCC's agents as these tests' lead files name them (负责人): each a login whose identity is the name.
AGENTS = ("王丽", "李强", "赵敏", "展厅小刘", "Li")


@pytest.fixture(autouse=True)
async def agents(db: Database, clock: VirtualClock) -> None:
    """The agents the files name own their leads (an owner nobody goes by is reported, not kept)."""
    users = UserStore(db)
    for name in AGENTS:
        await users.add(name=name, role=Role.AGENT, agent=name, password_hash="unused", at=clock.now())


@pytest.fixture
def service(db: Database, clock: VirtualClock) -> LeadService:
    return LeadService(db, Settings(), clock)


@pytest.fixture
def sheet(tmp_path: Path):
    """Write a lead file: ``sheet("a.csv", headers, rows)`` -> its path."""

    def make(name: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
        path = tmp_path / name
        write_sheet(path, headers, rows)
        return path

    return make
