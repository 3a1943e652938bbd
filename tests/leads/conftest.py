"""Shared fixtures: a virtual clock at 09:00 Beijing time, a fresh store, the leads service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.store.database import Database

# 2026-11-29 09:00 in Asia/Shanghai.
START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
async def db(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "leads.sqlite3", clock=clock)
    try:
        yield database
    finally:
        await database.close()


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
