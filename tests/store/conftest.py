"""Fixtures for the store tests: a fresh store per test and backend (SQLite, PostgreSQL), always closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def db_path(store_target: str | Path) -> str | Path:
    """The store's file, or its PostgreSQL URL: what ``Database.open`` takes."""
    return store_target


@pytest.fixture
async def db(db_path: str | Path, clock: VirtualClock) -> AsyncIterator[Database]:
    async with await Database.open(db_path, clock=clock) as database:
        yield database


@pytest.fixture
def attempts(db: Database) -> AttemptStore:
    return AttemptStore(db)
