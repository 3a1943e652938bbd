"""Fixtures for the store tests: a fresh database file per test, always closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.store.attempts import SqliteAttemptRepository
from dialer.store.database import Database


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "store.sqlite3"


@pytest.fixture
async def db(db_path: Path, clock: VirtualClock) -> AsyncIterator[Database]:
    async with await Database.open(db_path, clock=clock) as database:
        yield database


@pytest.fixture
def attempts(db: Database) -> SqliteAttemptRepository:
    return SqliteAttemptRepository(db)
